/* PE/COFF reading for the stub: its own sections in memory, and validation, loading and
 * relocation of the kernel image. Pure: no EFI calls. Every function returns NULL on success
 * or a short static reason ("section table out of bounds"). */
#ifndef STUB_PE_H
#define STUB_PE_H

#include <stddef.h>
#include <stdint.h>

#define PE_MACHINE_X86_64 0x8664
#define PE_MACHINE_AARCH64 0xaa64

#define PE_PAGE_SIZE 4096
#define PE_DLL_NX_COMPAT 0x0100
#define PE_SCN_MEM_EXECUTE 0x20000000u
#define PE_SCN_MEM_WRITE 0x80000000u

typedef struct {
    uint16_t machine;         /* PE_MACHINE_* */
    uint64_t image_base;
    uint32_t section_alignment;
    uint16_t dll_characteristics;
    uint32_t entry_point;
    uint32_t size_of_image;
    uint32_t size_of_headers;
    uint32_t section_table;   /* offset of the first section header */
    uint16_t section_count;
    uint32_t reloc_rva;       /* base relocation directory, 0 when absent */
    uint32_t reloc_size;
} pe_info;

/* Find section `name` (at most 8 bytes) in an image laid out in memory (data at VirtualAddress).
 * On success *found says whether it exists; *data and *len point inside the image. The length is
 * VirtualSize, or SizeOfRawData when that is smaller or VirtualSize is 0 (as EDK2 loads it). */
const char *pe_find_section(const uint8_t *image, size_t image_size, const char *name,
                            const uint8_t **data, size_t *len, int *found);
/* The same, and the header's VirtualSize as written (0 when not found). */
const char *pe_find_section_sized(const uint8_t *image, size_t image_size, const char *name,
                                  const uint8_t **data, size_t *len, uint32_t *virtual_size,
                                  int *found);

/* Validate a PE file (file layout) as a loadable image for `machine` (PE_MACHINE_*) and
 * describe it. An image of the other architecture we know is named as such. */
const char *pe_parse(const uint8_t *file, size_t file_size, uint16_t machine, pe_info *info);

/* "x86_64", "aarch64", or NULL for a machine type we do not run on. */
const char *pe_machine_name(uint16_t machine);

/* Lay the validated file out in dest (dest_size >= info->size_of_image): headers, then each
 * section at its VirtualAddress, the rest zeroed. */
const char *pe_load(const uint8_t *file, size_t file_size, const pe_info *info, uint8_t *dest,
                    size_t dest_size);

/* Apply base relocations to a loaded image now living at new_base. Only DIR64 and ABSOLUTE
 * entries are accepted. */
const char *pe_relocate(uint8_t *image, size_t image_size, const pe_info *info, uint64_t new_base);

/* Where a loaded copy of the image must start: its SectionAlignment when that is a power of two
 * from 4 KiB to 2 MiB (arm64 Images ask for 64 KiB), else 4 KiB. */
uint64_t pe_placement_alignment(const pe_info *info);

/* The image declares it never writes its code nor runs its data (IMAGE_DLLCHARACTERISTICS_NX_COMPAT). */
int pe_nx_compat(const pe_info *info);

typedef struct {
    uint32_t rva;   /* page aligned */
    uint32_t size;  /* rounded up to whole pages */
    int executable;
    int writable;
} pe_region;

/* Section `index` of a loaded image as whole pages that can take memory attributes on their own
 * (its VirtualSize rounded up to pages; SizeOfRawData only when VirtualSize is 0):
 * 1 and *out filled, or 0 when it cannot (empty, not page aligned, SectionAlignment below a page). */
int pe_section_region(const uint8_t *image, size_t image_size, const pe_info *info, uint16_t index,
                      pe_region *out);

#endif
