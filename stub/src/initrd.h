/* The initrd for Linux: LoadFile2 on the LINUX_EFI_INITRD_MEDIA_GUID device path, which the
 * kernel's EFI stub looks up by device path. Only one handle can own that path: one that an
 * earlier loader left behind would hand the kernel its initrd instead of ours. */
#ifndef STUB_INITRD_H
#define STUB_INITRD_H

#include <efi.h>
#include <stdint.h>

/* EFI_SUCCESS when no handle serves the initrd media path yet; EFI_ALREADY_STARTED when one
 * does (systemd-stub refuses the same way). */
EFI_STATUS initrd_check_unclaimed(void);

/* A new handle carrying the initrd media device path and EFI_LOAD_FILE2 serving `data` (which
 * must stay alive while the kernel runs). Refuses with EFI_ALREADY_STARTED when the path is
 * already served. */
EFI_STATUS initrd_install(const uint8_t *data, UINTN size, EFI_HANDLE *handle);
void initrd_uninstall(EFI_HANDLE handle);

#endif
