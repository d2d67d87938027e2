/* The NIC under the boot device through the firmware's own driver (EFI_SIMPLE_NETWORK_PROTOCOL),
 * held for the stub's own network path: Ethernet frames in and out, nothing more.
 *
 * Coexisting with the firmware's stack on the same NIC: iPXE's SNP driver disconnects the
 * firmware's network drivers from the NIC and reconnects them when it exits. The stub leaves
 * them bound and instead runs at TPL_CALLBACK while it holds the NIC: MNP reads SNP only from
 * its 10 ms poll timer, a TPL_CALLBACK event, which cannot run then, so no frame of ours is
 * taken by it, and nothing has to be reconnected for the kernel or a later boot option. The
 * receive filters are left as MNP set them (unicast and broadcast are added only when missing,
 * and taken away again); every frame the stub sent is handed back by the driver before the
 * TPL is lowered, so MNP's transmit-buffer recycling never sees one of ours. */
#ifndef STUB_SNP_H
#define STUB_SNP_H

#include <efi.h>
#include <stddef.h>
#include <stdint.h>

#include "ether.h"

#define SNP_TX_SLOTS 8
#define SNP_FRAME_MAX 1536  /* an Ethernet frame without FCS, rounded up */

typedef struct {
    EFI_SIMPLE_NETWORK *snp;
    uint8_t mac[ETHER_ADDR_LEN];
    EFI_TPL old_tpl;
    int held;
    UINT32 filters_added;             /* receive filters the stub enabled, to disable again */
    uint8_t *tx[SNP_TX_SLOTS];        /* frames being sent: the driver owns them until GetStatus */
    int tx_busy[SNP_TX_SLOTS];
    unsigned sent, received, send_failures;
} snp_link;

/* Find the SNP of the NIC under `device` (along its device path) and hold it. NULL, or why the
 * stub cannot use its own path here (no SNP, the driver not initialized, no link, not
 * Ethernet, an MTU below 1500...): the caller then takes the firmware's protocols. */
const char *snp_open(EFI_HANDLE device, snp_link *link);

/* Send one frame (copied: the caller's buffer is free again at once). */
EFI_STATUS snp_send(snp_link *link, const uint8_t *frame, size_t len);

/* One received frame into buf: EFI_SUCCESS and *len, EFI_NOT_READY when none is waiting; a
 * frame larger than cap is dropped by the driver (EFI_BUFFER_TOO_SMALL). */
EFI_STATUS snp_receive(snp_link *link, uint8_t *buf, size_t cap, size_t *len);

/* Wait (bounded) for the driver to hand back every frame sent, undo the filters, lower the
 * TPL. Safe to call twice. */
void snp_close(snp_link *link);

#endif
