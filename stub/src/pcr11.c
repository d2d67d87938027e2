#include "pcr11.h"

const char *const pcr11_sections[] = {
    ".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".dtbauto",
    ".hwids", ".uname", ".sbat", ".pcrpkey", ".profile", ".efifw",
    /* The workbench stub's own: what binds a thin stub's kernel and initrd, and its policy. */
    ".linuxh", ".initrdh", ".policy",
    NULL,
};
