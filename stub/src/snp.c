#include <efi.h>
#include <efilib.h>

#include "clock.h"
#include "service.h"
#include "snp.h"

#define WANTED_FILTERS (EFI_SIMPLE_NETWORK_RECEIVE_UNICAST | EFI_SIMPLE_NETWORK_RECEIVE_BROADCAST)
#define TX_RECLAIM_MS 100
#define IF_TYPE_ETHERNET 1  /* RFC 3232 ifType, as SNP reports it */

static EFI_GUID snp_guid = EFI_SIMPLE_NETWORK_PROTOCOL_GUID;

/* Take back the frames the driver has finished sending; 1 when none of ours is left. */
static int reclaim(snp_link *link)
{
    for (;;) {
        void *done = NULL;
        if (EFI_ERROR(uefi_call_wrapper(link->snp->GetStatus, 3, link->snp, NULL, &done)) || !done)
            break;
        for (int i = 0; i < SNP_TX_SLOTS; i++)
            if (link->tx[i] == done)
                link->tx_busy[i] = 0;
    }
    for (int i = 0; i < SNP_TX_SLOTS; i++)
        if (link->tx_busy[i])
            return 0;
    return 1;
}

const char *snp_open(EFI_HANDLE device, snp_link *link)
{
    *link = (snp_link){0};
    EFI_SIMPLE_NETWORK *snp = protocol_along_path(device, &snp_guid);
    if (!snp || !snp->Mode)
        return "no Simple Network Protocol on the boot NIC";
    EFI_SIMPLE_NETWORK_MODE *mode = snp->Mode;
    if (mode->State != EfiSimpleNetworkInitialized)
        return "the NIC driver is not initialized";
    if (mode->IfType != IF_TYPE_ETHERNET || mode->HwAddressSize != ETHER_ADDR_LEN ||
        mode->MediaHeaderSize != ETHER_HEADER_LEN)
        return "the NIC is not Ethernet";
    if (mode->MaxPacketSize < 1500)
        return "the NIC's MTU is below 1500";
    if ((mode->ReceiveFilterMask & WANTED_FILTERS) != WANTED_FILTERS)
        return "the NIC driver cannot receive unicast and broadcast frames";
    for (int i = 0; i < SNP_TX_SLOTS; i++) {
        link->tx[i] = AllocatePool(SNP_FRAME_MAX);
        if (!link->tx[i]) {
            for (int j = 0; j < i; j++)
                FreePool(link->tx[j]);
            return "out of memory";
        }
    }
    link->snp = snp;
    CopyMem(link->mac, mode->CurrentAddress.Addr, ETHER_ADDR_LEN);
    link->old_tpl = uefi_call_wrapper(BS->RaiseTPL, 1, TPL_CALLBACK);
    link->held = 1;
    if (mode->MediaPresentSupported) {
        UINT32 interrupts;
        uefi_call_wrapper(snp->GetStatus, 3, snp, &interrupts, NULL);  /* refreshes MediaPresent */
        if (!mode->MediaPresent) {
            snp_close(link);
            return "no link on the NIC";
        }
    }
    UINT32 missing = WANTED_FILTERS & ~mode->ReceiveFilterSetting;
    if (missing) {
        EFI_STATUS status = uefi_call_wrapper(snp->ReceiveFilters, 6, snp, missing, 0, FALSE, 0, NULL);
        if (EFI_ERROR(status)) {
            snp_close(link);
            return "the NIC driver refused the receive filters";
        }
        link->filters_added = missing;
    }
    return NULL;
}

EFI_STATUS snp_send(snp_link *link, const uint8_t *frame, size_t len)
{
    if (len > SNP_FRAME_MAX)
        return EFI_BAD_BUFFER_SIZE;
    UINT64 started = clock_ms();
    for (;;) {
        reclaim(link);
        for (int i = 0; i < SNP_TX_SLOTS; i++) {
            if (link->tx_busy[i])
                continue;
            CopyMem(link->tx[i], (void *)frame, len);
            EFI_STATUS status = uefi_call_wrapper(link->snp->Transmit, 7, link->snp, 0, (UINTN)len,
                                                  link->tx[i], NULL, NULL, NULL);
            if (status == EFI_NOT_READY)
                break;  /* the transmit ring is full: reclaim and try again */
            if (EFI_ERROR(status)) {
                link->send_failures++;
                return status;
            }
            link->tx_busy[i] = 1;
            link->sent++;
            return EFI_SUCCESS;
        }
        if (clock_ms() - started > TX_RECLAIM_MS) {
            link->send_failures++;
            return EFI_NOT_READY;
        }
    }
}

EFI_STATUS snp_receive(snp_link *link, uint8_t *buf, size_t cap, size_t *len)
{
    UINTN size = cap;
    EFI_STATUS status = uefi_call_wrapper(link->snp->Receive, 7, link->snp, NULL, &size, buf, NULL,
                                          NULL, NULL);
    if (status == EFI_SUCCESS && size > cap)
        return EFI_BUFFER_TOO_SMALL;  /* a driver claiming more than it had room for: dropped */
    if (status == EFI_SUCCESS) {
        *len = size;
        link->received++;
    }
    return status;
}

void snp_close(snp_link *link)
{
    if (!link->held)
        return;
    UINT64 started = clock_ms();
    while (!reclaim(link) && clock_ms() - started < TX_RECLAIM_MS)
        ;
    if (link->filters_added)
        uefi_call_wrapper(link->snp->ReceiveFilters, 6, link->snp, 0, link->filters_added, FALSE, 0, NULL);
    uefi_call_wrapper(BS->RestoreTPL, 1, link->old_tpl);
    link->held = 0;
    /* A frame the driver never handed back stays its own: its buffer is not freed. */
    for (int i = 0; i < SNP_TX_SLOTS; i++)
        if (!link->tx_busy[i])
            FreePool(link->tx[i]);
}
