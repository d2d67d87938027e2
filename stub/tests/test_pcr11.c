/* Measured boot's pure part: systemd-stub's section order, VirtualSize 0 as absent, the UTF-16
 * event data, and TPMPresentFlag in both capability layouts. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "pcr11.h"

#define IMAGE_SIZE 0x3000
#define LFANEW 0x40
#define OPT (LFANEW + 24)
#define TABLE (OPT + 240)

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }

typedef struct {
    const char *name;
    uint32_t virtual_size;
    uint32_t raw_size;
} spec;

/* An in-memory image whose sections appear in the table in the order given, each 0x100 bytes
 * apart, filled with its index. */
static void build(uint8_t image[IMAGE_SIZE], const spec *specs, int n)
{
    memset(image, 0, IMAGE_SIZE);
    image[0] = 'M';
    image[1] = 'Z';
    put32(image + 0x3c, LFANEW);
    memcpy(image + LFANEW, "PE\0\0", 4);
    put16(image + LFANEW + 4, 0x8664);
    put16(image + LFANEW + 6, (uint16_t)n);
    put16(image + LFANEW + 20, 240);
    put16(image + OPT, 0x20b);
    for (int i = 0; i < n; i++) {
        uint8_t *h = image + TABLE + 40 * i;
        uint32_t va = 0x1000 + 0x100 * (uint32_t)i;
        memcpy(h, specs[i].name, strlen(specs[i].name));
        put32(h + 8, specs[i].virtual_size);
        put32(h + 12, va);
        put32(h + 16, specs[i].raw_size);
        memset(image + va, i + 1, 0x100);
    }
}

static void plan_names(const uint8_t *image, char *out, size_t out_size)
{
    pcr11_section sections[PCR11_SECTIONS_MAX];
    unsigned count = 99;
    out[0] = 0;
    if (pcr11_plan(image, IMAGE_SIZE, sections, &count)) {
        snprintf(out, out_size, "error");
        return;
    }
    for (unsigned i = 0; i < count; i++) {
        strncat(out, sections[i].name, out_size - strlen(out) - 1);
        if (i + 1 < count)
            strncat(out, " ", out_size - strlen(out) - 1);
    }
}

static void test_order_is_systemds(void)
{
    /* The table lists them in a different order from the measuring one. */
    static const spec specs[] = {
        {".efifw", 0x10, 0x10},  {".hwids", 0x10, 0x10},  {".dtbauto", 0x10, 0x10},
        {".profile", 0x10, 0x10}, {".pcrsig", 0x10, 0x10}, {".pcrpkey", 0x10, 0x10},
        {".sbat", 0x10, 0x10},   {".uname", 0x10, 0x10},  {".dtb", 0x10, 0x10},
        {".policy", 0x10, 0x10}, {".initrdh", 0x10, 0x10}, {".linuxh", 0x10, 0x10},
        {".splash", 0x10, 0x10}, {".ucode", 0x10, 0x10},  {".initrd", 0x10, 0x10},
        {".cmdline", 0x10, 0x10}, {".osrel", 0x10, 0x10}, {".linux", 0x10, 0x10},
        {".sdmagic", 0x10, 0x10},
    };
    uint8_t *image = calloc(1, IMAGE_SIZE);
    build(image, specs, (int)(sizeof specs / sizeof specs[0]));
    char names[400];
    plan_names(image, names, sizeof names);
    /* systemd's src/fundamental/uki.h: .dtbauto .hwids .efifw come after .profile. */
    CHECK_STR(names, ".linux .osrel .cmdline .initrd .ucode .splash .dtb .uname .sbat .pcrpkey "
                     ".profile .dtbauto .hwids .efifw .linuxh .initrdh .policy");
    free(image);
}

static void test_virtual_size_zero_is_absent(void)
{
    static const spec specs[] = {
        {".linux", 0x20, 0x20},
        {".cmdline", 0, 0x200},   /* raw bytes, but nothing in memory: systemd skips it */
        {".initrd", 0, 0},
        {".osrel", 0x30, 0x10},   /* bigger in memory: VirtualSize bytes, zero-filled there */
    };
    uint8_t *image = calloc(1, IMAGE_SIZE);
    build(image, specs, 4);
    pcr11_section sections[PCR11_SECTIONS_MAX];
    unsigned count = 0;
    CHECK(pcr11_plan(image, IMAGE_SIZE, sections, &count) == NULL);
    CHECK(count == 2);
    CHECK_STR(sections[0].name, ".linux");
    CHECK(sections[0].data == image + 0x1000 && sections[0].length == 0x20);
    CHECK_STR(sections[1].name, ".osrel");
    CHECK(sections[1].data == image + 0x1300 && sections[1].length == 0x30);
    free(image);
}

static void test_first_header_decides(void)
{
    /* Like systemd-stub, the first header of a name wins, even when it is empty. */
    static const spec specs[] = {
        {".linux", 0x20, 0x20}, {".cmdline", 0, 0x20}, {".cmdline", 0x20, 0x20}};
    uint8_t *image = calloc(1, IMAGE_SIZE);
    build(image, specs, 3);
    char names[100];
    plan_names(image, names, sizeof names);
    CHECK_STR(names, ".linux");
    free(image);
}

static void test_broken_image(void)
{
    uint8_t *image = calloc(1, IMAGE_SIZE);
    pcr11_section sections[PCR11_SECTIONS_MAX];
    unsigned count = 7;
    CHECK(pcr11_plan(image, IMAGE_SIZE, sections, &count) != NULL);
    CHECK(count == 0);
    static const spec specs[] = {{".linux", 0x20, 0x20}};
    build(image, specs, 1);
    put16(image + LFANEW + 6, 0x7fff);  /* a section table past the end */
    CHECK(pcr11_plan(image, IMAGE_SIZE, sections, &count) != NULL);
    CHECK(count == 0);
    free(image);
}

static void test_description_is_utf16(void)
{
    uint16_t text[PCR11_DESCRIPTION_MAX];
    memset(text, 0xff, sizeof text);
    CHECK(pcr11_description(".linux", text) == 14);
    static const uint16_t want[] = {'.', 'l', 'i', 'n', 'u', 'x', 0};
    CHECK(memcmp(text, want, sizeof want) == 0);
    /* Little-endian bytes, as the event log holds them. */
    const uint8_t *bytes = (const uint8_t *)text;
    CHECK(bytes[0] == '.' && bytes[1] == 0 && bytes[2] == 'l' && bytes[3] == 0);
    CHECK(pcr11_description(".cmdline", text) == 18 && text[8] == 0);
    CHECK(pcr11_description(".toolong9", text) == 0);
    CHECK(pcr11_description("", text) == 0);
    CHECK(pcr11_description(".a\tb", text) == 0);
    for (unsigned i = 0; pcr11_sections[i]; i++)
        CHECK(pcr11_description(pcr11_sections[i], text) == 2 * (strlen(pcr11_sections[i]) + 1));
}

static void test_capability_layouts(void)
{
    uint8_t cap[36];
    /* 1.1 (EDK2, OVMF): StructureVersion 1.1, TPMPresentFlag at byte 16. */
    memset(cap, 0, sizeof cap);
    cap[0] = 36, cap[1] = 1, cap[2] = 1, cap[16] = 1;
    CHECK(pcr11_tpm_present(cap, sizeof cap));
    cap[16] = 0;
    CHECK(!pcr11_tpm_present(cap, sizeof cap));
    cap[10] = 1;  /* byte 10 means nothing in 1.1 */
    CHECK(!pcr11_tpm_present(cap, sizeof cap));
    /* 1.0: StructureVersion 1.0 (four bytes), TPMPresentFlag at byte 10. */
    memset(cap, 0, sizeof cap);
    cap[0] = 12, cap[1] = 1, cap[2] = 0, cap[10] = 1;
    CHECK(pcr11_tpm_present(cap, sizeof cap));
    cap[10] = 0;
    CHECK(!pcr11_tpm_present(cap, sizeof cap));
    cap[16] = 1;  /* as systemd-stub: the 1.1 flag still counts */
    CHECK(pcr11_tpm_present(cap, sizeof cap));
    /* A short buffer is never read past its end. */
    CHECK(!pcr11_tpm_present(cap, 16));
    CHECK(!pcr11_tpm_present(cap, 0));
}

void test_pcr11(void)
{
    test_order_is_systemds();
    test_virtual_size_zero_is_absent();
    test_first_header_decides();
    test_broken_image();
    test_description_is_utf16();
    test_capability_layouts();
}
