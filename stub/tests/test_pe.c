/* PE parsing, loading and relocation on small synthetic images, including broken ones. */
#include <stdlib.h>

#include "check.h"
#include "pe.h"

#define FILE_SIZE 0x800
#define IMAGE_SIZE 0x4000
#define LFANEW 0x40
#define OPT (LFANEW + 24)
#define TABLE (OPT + 240)

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

static void section(uint8_t *file, int index, const char *name, uint32_t vsize, uint32_t va,
                    uint32_t raw_size, uint32_t raw_offset)
{
    uint8_t *h = file + TABLE + 40 * index;
    memset(h, 0, 40);
    memcpy(h, name, strlen(name) < 8 ? strlen(name) : 8);
    put32(h + 8, vsize);
    put32(h + 12, va);
    put32(h + 16, raw_size);
    put32(h + 20, raw_offset);
}

/* .text (VA 0x1000), .data (VA 0x2000, bigger in memory than on disk), .reloc (VA 0x3000)
 * with one DIR64 entry at 0x2008 and one ABSOLUTE padding entry. */
static void build(uint8_t file[FILE_SIZE])
{
    memset(file, 0, FILE_SIZE);
    file[0] = 'M';
    file[1] = 'Z';
    put32(file + 0x3c, LFANEW);
    memcpy(file + LFANEW, "PE\0\0", 4);
    put16(file + LFANEW + 4, PE_MACHINE_X86_64);
    put16(file + LFANEW + 6, 3);
    put16(file + LFANEW + 20, 240);
    put16(file + OPT, 0x20b);
    put32(file + OPT + 16, 0x1010);           /* entry point */
    put64(file + OPT + 24, 0x140000000ull);   /* image base */
    put32(file + OPT + 32, 0x1000);
    put32(file + OPT + 36, 0x200);
    put32(file + OPT + 56, IMAGE_SIZE);
    put32(file + OPT + 60, 0x200);
    put32(file + OPT + 108, 16);
    put32(file + OPT + 112 + 8 * 5, 0x3000);  /* base relocation directory */
    put32(file + OPT + 112 + 8 * 5 + 4, 12);
    section(file, 0, ".text", 0x200, 0x1000, 0x200, 0x200);
    section(file, 1, ".data", 0x300, 0x2000, 0x200, 0x400);
    section(file, 2, ".reloc", 12, 0x3000, 0x200, 0x600);
    for (int i = 0; i < 0x200; i++)
        file[0x200 + i] = (uint8_t)(i ^ 0x5a);
    put64(file + 0x408, 0x140001234ull);      /* a pointer the relocation fixes */
    put32(file + 0x600, 0x2000);              /* reloc block: page 0x2000, 12 bytes */
    put32(file + 0x604, 12);
    put16(file + 0x608, (uint16_t)(10 << 12 | 0x008));
    put16(file + 0x60a, 0);
}

static const char *parse_copy(const uint8_t *file, size_t len, pe_info *info)
{
    /* An exact-size heap copy: ASan catches any read past `len`. */
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, file, len);
    const char *reason = pe_parse(copy, len, PE_MACHINE_X86_64, info);
    free(copy);
    return reason;
}

static void test_parse_and_load(void)
{
    static uint8_t file[FILE_SIZE], image[IMAGE_SIZE];
    pe_info info;
    build(file);
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info), NULL);
    CHECK(info.size_of_image == IMAGE_SIZE);
    CHECK(info.entry_point == 0x1010);
    CHECK(info.section_count == 3);
    CHECK(info.reloc_rva == 0x3000 && info.reloc_size == 12);

    memset(image, 0xee, sizeof image);
    CHECK_STR(pe_load(file, FILE_SIZE, &info, image, sizeof image), NULL);
    CHECK(image[0] == 'M' && image[1] == 'Z');
    CHECK(memcmp(image + 0x1000, file + 0x200, 0x200) == 0);
    CHECK(image[0x2000 + 0x200] == 0 && image[0x22ff] == 0);  /* beyond raw data: zeroed */
    CHECK(image[0x3fff] == 0);
    CHECK_STR(pe_load(file, FILE_SIZE, &info, image, IMAGE_SIZE - 1), "image buffer too small");

    CHECK_STR(pe_relocate(image, IMAGE_SIZE, &info, 0x140000000ull + 0x10000), NULL);
    uint64_t fixed = 0;
    for (int b = 7; b >= 0; b--)
        fixed = fixed << 8 | image[0x2008 + b];
    CHECK(fixed == 0x140011234ull);

    /* Below the preferred base works too (the delta wraps). */
    pe_load(file, FILE_SIZE, &info, image, sizeof image);
    CHECK_STR(pe_relocate(image, IMAGE_SIZE, &info, 0x13fff0000ull), NULL);
    fixed = 0;
    for (int b = 7; b >= 0; b--)
        fixed = fixed << 8 | image[0x2008 + b];
    CHECK(fixed == 0x13fff1234ull);
}

static void test_bad_relocations(void)
{
    static uint8_t file[FILE_SIZE], image[IMAGE_SIZE];
    pe_info info;
    build(file);
    put16(file + 0x608, (uint16_t)(3 << 12 | 0x008));  /* HIGHLOW: not for x86_64 */
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info), NULL);
    pe_load(file, FILE_SIZE, &info, image, sizeof image);
    CHECK_STR(pe_relocate(image, IMAGE_SIZE, &info, 0x1000), "unsupported relocation type");

    build(file);
    put32(file + 0x600, 0x3ffc);                         /* target crosses the image end */
    pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info);
    pe_load(file, FILE_SIZE, &info, image, sizeof image);
    CHECK_STR(pe_relocate(image, IMAGE_SIZE, &info, 0x1000), "relocation outside the image");

    build(file);
    put32(file + 0x604, 400);                            /* block larger than the directory */
    pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info);
    pe_load(file, FILE_SIZE, &info, image, sizeof image);
    CHECK_STR(pe_relocate(image, IMAGE_SIZE, &info, 0x1000), "malformed relocation block");

    build(file);
    put32(file + 0x604, 4);                              /* block smaller than its header */
    pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info);
    pe_load(file, FILE_SIZE, &info, image, sizeof image);
    CHECK_STR(pe_relocate(image, IMAGE_SIZE, &info, 0x1000), "malformed relocation block");
}

static void test_bad_headers(void)
{
    static uint8_t file[FILE_SIZE];
    pe_info info;

    build(file);
    file[0] = 'X';
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info), "not a PE image (no MZ header)");
    build(file);
    put32(file + 0x3c, 0xfffffff0u);
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info), "PE header out of bounds");
    build(file);
    file[LFANEW + 1] = 'X';
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info), "not a PE image (no PE signature)");
    build(file);
    put16(file + LFANEW + 4, 0x14c);
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info), "not an x86_64 image");
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_AARCH64, &info), "not an aarch64 image");
    build(file);
    put16(file + LFANEW + 4, PE_MACHINE_AARCH64);
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info),
              "an aarch64 image, and this stub starts x86_64 kernels");
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_AARCH64, &info), NULL);
    CHECK(info.machine == PE_MACHINE_AARCH64);
    build(file);
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_AARCH64, &info),
              "an x86_64 image, and this stub starts aarch64 kernels");
    CHECK_STR(pe_machine_name(PE_MACHINE_AARCH64), "aarch64");
    CHECK_STR(pe_machine_name(PE_MACHINE_X86_64), "x86_64");
    CHECK(pe_machine_name(0x14c) == NULL);
    build(file);
    put16(file + OPT, 0x10b);
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info), "not a PE32+ image");
    build(file);
    put16(file + LFANEW + 6, 0);
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info), "bad number of sections");
    build(file);
    put16(file + LFANEW + 6, 60000);
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info), "section table out of bounds");
    build(file);
    put32(file + OPT + 56, 0);
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info), "bad SizeOfImage");
    build(file);
    put32(file + OPT + 60, 0x100);  /* section table would end beyond the headers */
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info), "bad SizeOfHeaders");
    build(file);
    put32(file + OPT + 16, IMAGE_SIZE);
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info), "entry point outside the image");
    build(file);
    put32(file + OPT + 16, 0);
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info), "entry point outside the image");
    build(file);
    section(file, 1, ".data", 0x300, 0x3f00, 0x200, 0x400);
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info), "section outside the image");
    build(file);
    section(file, 1, ".data", 0x300, 0xfffff000u, 0x200, 0x400);
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info), "section outside the image");
    build(file);
    section(file, 1, ".data", 0x300, 0x100, 0x200, 0x400);  /* over the headers */
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info), "section outside the image");
    build(file);
    section(file, 1, ".data", 0x300, 0x2000, 0x200, 0x700);
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info), "section data beyond the end of the file");
    build(file);
    put32(file + OPT + 112 + 8 * 5, 0x3ff8);
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info), "relocation directory outside the image");

    /* Every truncation is either rejected or parses without reading past the end. */
    build(file);
    /* The last byte needed is the end of .reloc's data (0x600 + 12). */
    int wrong = 0;
    for (size_t len = 0; len <= FILE_SIZE; len++)
        wrong += (parse_copy(file, len, &info) != NULL) != (len < 0x60c);
    CHECK(wrong == 0);
}

static void test_find_section(void)
{
    static uint8_t file[FILE_SIZE], image[IMAGE_SIZE];
    pe_info info;
    const uint8_t *data;
    size_t len;
    int found;
    build(file);
    pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info);
    pe_load(file, FILE_SIZE, &info, image, sizeof image);

    CHECK_STR(pe_find_section(image, IMAGE_SIZE, ".text", &data, &len, &found), NULL);
    CHECK(found && data == image + 0x1000 && len == 0x200);
    CHECK_STR(pe_find_section(image, IMAGE_SIZE, ".data", &data, &len, &found), NULL);
    CHECK(found && len == 0x200);  /* min(VirtualSize, SizeOfRawData) */
    CHECK_STR(pe_find_section(image, IMAGE_SIZE, ".reloc", &data, &len, &found), NULL);
    CHECK(found && len == 12);
    CHECK_STR(pe_find_section(image, IMAGE_SIZE, ".linux", &data, &len, &found), NULL);
    CHECK(!found && data == NULL && len == 0);
    CHECK_STR(pe_find_section(image, IMAGE_SIZE, ".tex", &data, &len, &found), NULL);
    CHECK(!found);

    /* VirtualSize 0 means SizeOfRawData, as EDK2 loads it. */
    put32(image + TABLE + 40 + 8, 0);
    CHECK_STR(pe_find_section(image, IMAGE_SIZE, ".data", &data, &len, &found), NULL);
    CHECK(found && len == 0x200);

    /* A section pointing outside the loaded image is an error, never a read. */
    put32(image + TABLE + 40 + 12, IMAGE_SIZE - 0x100);
    CHECK_STR(pe_find_section(image, IMAGE_SIZE, ".data", &data, &len, &found),
              "section outside the loaded image");
    CHECK(!found);

    /* Truncated in-memory images (exact heap copies) never read out of bounds. */
    for (size_t cut = 0; cut < 0x400; cut += 7) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, image, cut);
        const char *reason = pe_find_section(copy, cut, ".text", &data, &len, &found);
        CHECK(reason != NULL || !found || (size_t)(data - copy) + len <= cut);
        free(copy);
    }
}

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(len > 0 ? (size_t)len : 1);
    *size = fread(data, 1, (size_t)len, f);
    fclose(f);
    return data;
}

/* Lay a real file out as the firmware would; NULL (with a FAIL) when that is impossible. */
static uint8_t *load_real(const char *path, pe_info *info)
{
    size_t size = 0;
    uint8_t *file = read_file(path, &size);
    if (!file) {
        printf("note: %s not found: real-image checks not run\n", path);
        return NULL;
    }
    const char *reason = pe_parse(file, size, PE_MACHINE_X86_64, info);
    CHECK_STR(reason, NULL);
    uint8_t *image = reason ? NULL : malloc(info->size_of_image);
    if (image) {
        CHECK_STR(pe_load(file, size, info, image, info->size_of_image), NULL);
        CHECK_STR(pe_relocate(image, info->size_of_image, info, 0x7f000000ull), NULL);
    }
    free(file);
    return image;
}

static void test_real_images(void)
{
    pe_info info;
    const uint8_t *data;
    size_t len;
    int found;
    /* The stub itself (make check builds it first): its own sections as it will read them. */
    uint8_t *image = load_real("build/stub.efi", &info);
    CHECK(image != NULL);
    if (image) {
        CHECK_STR(pe_find_section(image, info.size_of_image, ".wbstub", &data, &len, &found), NULL);
        CHECK(found && len > 15 && memcmp(data, "stub-workbench ", 15) == 0);
        CHECK_STR(pe_find_section(image, info.size_of_image, ".sbat", &data, &len, &found), NULL);
        CHECK(found && len > 7 && memcmp(data, "sbat,1,", 7) == 0);
        CHECK_STR(pe_find_section(image, info.size_of_image, ".linux", &data, &len, &found), NULL);
        CHECK(!found);
        free(image);
    }
    /* The sample kernel passes the loader's validation. */
    image = load_real("../samples/build/vmlinuz", &info);
    if (image) {
        CHECK(image[0] == 'M' && image[1] == 'Z');
        CHECK(info.entry_point < info.size_of_image);
        free(image);
    }
}

/* NX_COMPAT kernels: which whole-page regions get which attributes. */
static void test_section_regions(void)
{
    static uint8_t file[FILE_SIZE], image[IMAGE_SIZE];
    pe_info info;
    pe_region region;
    build(file);
    put32(file + TABLE + 36, PE_SCN_MEM_EXECUTE | 0x40000000u);          /* .text: RX */
    put32(file + TABLE + 40 + 36, PE_SCN_MEM_WRITE | 0x40000000u);       /* .data: RW */
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info), NULL);
    CHECK(!pe_nx_compat(&info));
    put16(file + OPT + 70, PE_DLL_NX_COMPAT);
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info), NULL);
    CHECK(pe_nx_compat(&info));
    CHECK_STR(pe_load(file, FILE_SIZE, &info, image, IMAGE_SIZE), NULL);

    CHECK(pe_section_region(image, IMAGE_SIZE, &info, 0, &region));
    CHECK(region.rva == 0x1000 && region.size == 0x1000 && region.executable && !region.writable);
    CHECK(pe_section_region(image, IMAGE_SIZE, &info, 1, &region));
    CHECK(region.rva == 0x2000 && region.size == 0x1000 && !region.executable && region.writable);
    CHECK(pe_section_region(image, IMAGE_SIZE, &info, 2, &region));
    CHECK(!region.executable && !region.writable);
    CHECK(!pe_section_region(image, IMAGE_SIZE, &info, 3, &region));  /* no such section */
    CHECK(!pe_section_region(image, 0x100, &info, 0, &region));        /* table outside the buffer */

    /* SizeOfRawData rounded to a larger file alignment than VirtualSize: the region ends with
     * the section in memory, not a page into .data (which would then lose its write access). */
    put32(image + TABLE + 8, 0x800);
    put32(image + TABLE + 16, 0x1800);
    CHECK(pe_section_region(image, IMAGE_SIZE, &info, 0, &region));
    CHECK(region.rva == 0x1000 && region.size == 0x1000);
    put32(image + TABLE + 8, 0);  /* no VirtualSize: the raw size, as EDK2 loads it */
    CHECK(pe_section_region(image, IMAGE_SIZE, &info, 0, &region));
    CHECK(region.rva == 0x1000 && region.size == 0x2000);
    put32(image + TABLE + 8, 0x200);
    put32(image + TABLE + 16, 0x200);

    /* Sections that do not start on a page cannot take attributes on their own. */
    info.section_alignment = 0x200;
    CHECK(!pe_section_region(image, IMAGE_SIZE, &info, 0, &region));
    info.section_alignment = 0x1000;
    put32(image + TABLE + 12, 0x1200);
    CHECK(!pe_section_region(image, IMAGE_SIZE, &info, 0, &region));
    /* A section reaching past SizeOfImage once rounded up to pages is left alone. */
    put32(image + TABLE + 12, 0x1000);
    put32(image + TABLE + 40 * 2 + 12, 0x3000);
    put32(image + TABLE + 40 * 2 + 8, 0x1001);
    CHECK(!pe_section_region(image, IMAGE_SIZE, &info, 2, &region));
}

/* e_lfanew near 4 GiB must not wrap into the buffer (offsets are size_t). */
static void test_huge_offsets(void)
{
    static uint8_t file[FILE_SIZE];
    pe_info info;
    const uint8_t *data;
    size_t len;
    int found;
    build(file);
    put32(file + 0x3c, 0xfffffff0u);
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info), "PE header out of bounds");
    CHECK_STR(pe_find_section(file, FILE_SIZE, ".text", &data, &len, &found), "PE header out of bounds");
    build(file);
    put16(file + LFANEW + 20, 0xffff);  /* SizeOfOptionalHeader */
    CHECK_STR(pe_parse(file, FILE_SIZE, PE_MACHINE_X86_64, &info), "optional header out of bounds");
}

static void test_placement_alignment(void)
{
    pe_info info = {0};
    const struct { uint32_t section_alignment; uint64_t placed; } cases[] = {
        {0, 4096}, {1, 4096}, {512, 4096}, {4096, 4096}, {0x10000, 0x10000}, {0x200000, 0x200000},
        {0x400000, 4096}, {0x3000, 4096}, {0xffffffffu, 4096},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        info.section_alignment = cases[i].section_alignment;
        CHECK(pe_placement_alignment(&info) == cases[i].placed);
    }
}

void test_pe(void)
{
    test_placement_alignment();
    test_section_regions();
    test_huge_offsets();
    test_real_images();
    test_parse_and_load();
    test_bad_relocations();
    test_bad_headers();
    test_find_section();
}
