"""The section contract shared by the C stub (stub/FORMAT.md) and the workbench.

Every module that reads or writes stub sections takes its names from here.
"""

# Thin stub: UTF-8 paths relative to the volume root (or tftp:// URLs).
# Fat stub: the kernel / initrd bytes themselves.
KERNEL = ".linux"
INITRD = ".initrd"
# Raw 32-byte SHA-256 digests of the whole files.
KERNEL_HASH = ".linuxh"
INITRD_HASH = ".initrdh"
CMDLINE = ".cmdline"
OSREL = ".osrel"
# key=value lines: on-error=, error-delay=, source=, tftp-blksize=, tftp-window=,
# fetch-timeout= (stub/FORMAT.md).
POLICY = ".policy"
SBAT = ".sbat"

# lanzaboote before 2024-02 used these names for the same contents.
LEGACY_KERNEL_PATH = ".kernelp"
LEGACY_INITRD_PATH = ".initrdp"
LEGACY_KERNEL_HASH = ".kernelh"

# systemd-stub marks itself with this section.
SD_MAGIC = ".sdmagic"

# This project's stub marks itself with this section (contents: "stub-workbench <version>").
WB_MAGIC = ".wbstub"

PAYLOAD_SECTIONS = (OSREL, CMDLINE, POLICY, INITRD, KERNEL, INITRD_HASH, KERNEL_HASH)

SHA256_SIZE = 32

# Where `workbench build` puts things inside an ESP / TFTP root.
BOOT_PATH = "EFI/BOOT/BOOTX64.EFI"
LINUX_DIR = "EFI/Linux"

# The sample initramfs prints this, followed by " cmdline=<contents of /proc/cmdline>".
SAMPLE_MARKER = "WORKBENCH-SAMPLE-OK"
