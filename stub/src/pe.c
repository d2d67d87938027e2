#include "pe.h"

#define DOS_LFANEW 0x3c
#define COFF_SIZE 20
#define OPT_MAGIC_PE32PLUS 0x20b
#define OPT_MIN_SIZE 112          /* PE32+ optional header up to NumberOfRvaAndSizes */
#define SECTION_HEADER_SIZE 40
#define DIR_BASERELOC 5
#define MAX_SECTIONS 96
#define MAX_IMAGE_SIZE (1u << 30)

#define REL_ABSOLUTE 0
#define REL_DIR64 10

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16; }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

/* True when [offset, offset + len) lies inside a buffer of `size` bytes (no overflow). */
static int inside(uint64_t offset, uint64_t len, uint64_t size)
{
    return offset <= size && len <= size - offset;
}

/* Bytes a section brings from the file: EDK2's rule (VirtualSize, capped by SizeOfRawData). */
static uint32_t section_data_size(const uint8_t *header)
{
    uint32_t virtual_size = get32(header + 8), raw_size = get32(header + 16);
    return (virtual_size == 0 || virtual_size > raw_size) ? raw_size : virtual_size;
}

/* Common header checks; fills the offsets of the optional header and the section table. */
static const char *parse_headers(const uint8_t *buf, size_t size, size_t *opt, size_t *table,
                                 uint16_t *count)
{
    if (size < 0x40 || buf[0] != 'M' || buf[1] != 'Z')
        return "not a PE image (no MZ header)";
    size_t lfanew = get32(buf + DOS_LFANEW);
    if (!inside(lfanew, 4 + COFF_SIZE, size))
        return "PE header out of bounds";
    if (buf[lfanew] != 'P' || buf[lfanew + 1] != 'E' || buf[lfanew + 2] || buf[lfanew + 3])
        return "not a PE image (no PE signature)";
    const uint8_t *coff = buf + lfanew + 4;
    uint16_t opt_size = get16(coff + 16);
    *count = get16(coff + 2);
    *opt = lfanew + 4 + COFF_SIZE;
    *table = *opt + opt_size;
    if (!inside(*opt, opt_size, size))
        return "optional header out of bounds";
    if (!inside(*table, (uint64_t)*count * SECTION_HEADER_SIZE, size))
        return "section table out of bounds";
    return NULL;
}

const char *pe_find_section(const uint8_t *image, size_t image_size, const char *name,
                            const uint8_t **data, size_t *len, int *found)
{
    uint32_t virtual_size;
    return pe_find_section_sized(image, image_size, name, data, len, &virtual_size, found);
}

const char *pe_find_section_sized(const uint8_t *image, size_t image_size, const char *name,
                                  const uint8_t **data, size_t *len, uint32_t *virtual_size,
                                  int *found)
{
    size_t opt, table;
    uint16_t count;
    const char *err = parse_headers(image, image_size, &opt, &table, &count);
    *found = 0;
    *data = NULL;
    *len = 0;
    *virtual_size = 0;
    if (err)
        return err;
    char wanted[8] = {0};
    for (unsigned i = 0; i < 8 && name[i]; i++)
        wanted[i] = name[i];
    for (uint16_t i = 0; i < count; i++) {
        const uint8_t *header = image + table + (size_t)i * SECTION_HEADER_SIZE;
        unsigned k = 0;
        while (k < 8 && header[k] == (uint8_t)wanted[k])
            k++;
        if (k < 8)
            continue;
        size_t va = get32(header + 12), size = section_data_size(header);
        if (!inside(va, size, image_size))
            return "section outside the loaded image";
        *found = 1;
        *data = image + va;
        *len = size;
        *virtual_size = get32(header + 8);
        return NULL;
    }
    return NULL;
}

const char *pe_machine_name(uint16_t machine)
{
    switch (machine) {
    case PE_MACHINE_X86_64:
        return "x86_64";
    case PE_MACHINE_AARCH64:
        return "aarch64";
    default:
        return NULL;
    }
}

static const char *wrong_machine(uint16_t found, uint16_t wanted)
{
    if (wanted == PE_MACHINE_X86_64)
        return found == PE_MACHINE_AARCH64 ? "an aarch64 image, and this stub starts x86_64 kernels"
                                           : "not an x86_64 image";
    if (wanted == PE_MACHINE_AARCH64)
        return found == PE_MACHINE_X86_64 ? "an x86_64 image, and this stub starts aarch64 kernels"
                                          : "not an aarch64 image";
    return "not an image of a machine the stub knows";
}

const char *pe_parse(const uint8_t *file, size_t file_size, uint16_t machine, pe_info *info)
{
    size_t opt, table;
    uint16_t count;
    const char *err = parse_headers(file, file_size, &opt, &table, &count);
    if (err)
        return err;
    const uint8_t *coff = file + opt - COFF_SIZE;
    if (get16(coff) != machine)
        return wrong_machine(get16(coff), machine);
    uint16_t opt_size = get16(coff + 16);
    const uint8_t *o = file + opt;
    if (opt_size < OPT_MIN_SIZE || get16(o) != OPT_MAGIC_PE32PLUS)
        return "not a PE32+ image";
    if (count == 0 || count > MAX_SECTIONS)
        return "bad number of sections";

    info->machine = machine;
    info->entry_point = get32(o + 16);
    info->image_base = get64(o + 24);
    info->size_of_image = get32(o + 56);
    info->size_of_headers = get32(o + 60);
    info->section_alignment = get32(o + 32);
    info->dll_characteristics = get16(o + 70);
    info->section_table = (uint32_t)table;
    info->section_count = count;
    info->reloc_rva = info->reloc_size = 0;

    if (info->size_of_image == 0 || info->size_of_image > MAX_IMAGE_SIZE)
        return "bad SizeOfImage";
    if (info->size_of_headers > info->size_of_image || info->size_of_headers > file_size ||
        table + (size_t)count * SECTION_HEADER_SIZE > info->size_of_headers)
        return "bad SizeOfHeaders";
    if (info->entry_point == 0 || info->entry_point >= info->size_of_image)
        return "entry point outside the image";

    uint32_t dir_count = get32(o + 108);
    if (dir_count > DIR_BASERELOC && (size_t)OPT_MIN_SIZE + 8 * (DIR_BASERELOC + 1) <= opt_size) {
        info->reloc_rva = get32(o + OPT_MIN_SIZE + 8 * DIR_BASERELOC);
        info->reloc_size = get32(o + OPT_MIN_SIZE + 8 * DIR_BASERELOC + 4);
        if (info->reloc_size && !inside(info->reloc_rva, info->reloc_size, info->size_of_image))
            return "relocation directory outside the image";
    }

    for (uint16_t i = 0; i < count; i++) {
        const uint8_t *header = file + table + (size_t)i * SECTION_HEADER_SIZE;
        size_t va = get32(header + 12), virtual_size = get32(header + 8);
        size_t data_size = section_data_size(header);
        size_t extent = virtual_size > data_size ? virtual_size : data_size;
        if (va < info->size_of_headers || !inside(va, extent, info->size_of_image))
            return "section outside the image";
        if (data_size && !inside(get32(header + 20), data_size, file_size))
            return "section data beyond the end of the file";
    }
    return NULL;
}

#define MOST_PLACEMENT_ALIGNMENT (2u << 20)

uint64_t pe_placement_alignment(const pe_info *info)
{
    uint64_t alignment = info->section_alignment;
    if (alignment <= PE_PAGE_SIZE || alignment > MOST_PLACEMENT_ALIGNMENT || (alignment & (alignment - 1)))
        return PE_PAGE_SIZE;
    return alignment;
}

const char *pe_load(const uint8_t *file, size_t file_size, const pe_info *info, uint8_t *dest,
                    size_t dest_size)
{
    if (dest_size < info->size_of_image || info->size_of_headers > file_size)
        return "image buffer too small";
    for (size_t i = 0; i < info->size_of_image; i++)
        dest[i] = 0;
    for (size_t i = 0; i < info->size_of_headers; i++)
        dest[i] = file[i];
    for (uint16_t s = 0; s < info->section_count; s++) {
        const uint8_t *header = file + info->section_table + (size_t)s * SECTION_HEADER_SIZE;
        size_t va = get32(header + 12), offset = get32(header + 20);
        size_t size = section_data_size(header);
        if (!size)
            continue;
        if (!inside(va, size, info->size_of_image) || !inside(offset, size, file_size))
            return "section outside the image";
        for (size_t i = 0; i < size; i++)
            dest[va + i] = file[offset + i];
    }
    return NULL;
}

const char *pe_relocate(uint8_t *image, size_t image_size, const pe_info *info, uint64_t new_base)
{
    if (!info->reloc_size)
        return NULL;
    if (!inside(info->reloc_rva, info->reloc_size, image_size))
        return "relocation directory outside the image";
    uint64_t delta = new_base - info->image_base;
    const uint8_t *block = image + info->reloc_rva;
    size_t left = info->reloc_size;
    while (left >= 8) {
        size_t page = get32(block), block_size = get32(block + 4);
        if (block_size < 8 || block_size > left || block_size % 2)
            return "malformed relocation block";
        for (size_t e = 8; e + 2 <= block_size; e += 2) {
            uint16_t entry = get16(block + e);
            unsigned type = entry >> 12;
            uint64_t target = (uint64_t)page + (entry & 0xfff);
            if (type == REL_ABSOLUTE)
                continue;
            if (type != REL_DIR64)
                return "unsupported relocation type";
            if (!inside(target, 8, image_size))
                return "relocation outside the image";
            uint64_t value = get64(image + target) + delta;
            for (unsigned b = 0; b < 8; b++)
                image[target + b] = (uint8_t)(value >> (8 * b));
        }
        block += block_size;
        left -= block_size;
    }
    return NULL;
}

int pe_nx_compat(const pe_info *info)
{
    return (info->dll_characteristics & PE_DLL_NX_COMPAT) != 0;
}

int pe_section_region(const uint8_t *image, size_t image_size, const pe_info *info, uint16_t index,
                      pe_region *out)
{
    if (index >= info->section_count || info->section_alignment < PE_PAGE_SIZE ||
        info->section_alignment % PE_PAGE_SIZE)
        return 0;
    size_t at = (size_t)info->section_table + (size_t)index * SECTION_HEADER_SIZE;
    if (!inside(at, SECTION_HEADER_SIZE, image_size))
        return 0;
    const uint8_t *header = image + at;
    size_t va = get32(header + 12), virtual_size = get32(header + 8), raw_size = get32(header + 16);
    /* The section's extent in memory: SizeOfRawData is rounded to the file alignment and may
     * reach into the next section, whose attributes it must not set. */
    size_t extent = virtual_size ? virtual_size : raw_size;
    if (extent == 0 || va % PE_PAGE_SIZE)
        return 0;
    extent = (extent + PE_PAGE_SIZE - 1) / PE_PAGE_SIZE * PE_PAGE_SIZE;
    if (!inside(va, extent, info->size_of_image))
        return 0;
    uint32_t flags = get32(header + 36);
    out->rva = (uint32_t)va;
    out->size = (uint32_t)extent;
    out->executable = (flags & PE_SCN_MEM_EXECUTE) != 0;
    out->writable = (flags & PE_SCN_MEM_WRITE) != 0;
    return 1;
}
