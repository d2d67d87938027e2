#include <efi.h>
#include <efilib.h>

#include "measure.h"
#include "pcr11.h"
#include "pe.h"
#include "proto/tcg2.h"

#define DESCRIPTION_MAX 16

static stub_tcg2_protocol *find_tcg2(void)
{
    static EFI_GUID guid = STUB_TCG2_PROTOCOL_GUID;
    stub_tcg2_protocol *tcg2 = NULL;
    if (EFI_ERROR(uefi_call_wrapper(BS->LocateProtocol, 3, &guid, NULL, (void **)&tcg2)) || !tcg2)
        return NULL;
    stub_tcg2_capability capability = {.Size = sizeof capability};
    EFI_STATUS status = uefi_call_wrapper(tcg2->GetCapability, 2, tcg2, &capability);
    if (EFI_ERROR(status) || !capability.TPMPresentFlag)
        return NULL;
    return tcg2;
}

/* One EV_IPL event into PCR 11; its log entry carries the section name (ASCII, with its NUL). */
static EFI_STATUS extend(stub_tcg2_protocol *tcg2, const void *data, UINTN length, const char *name)
{
    struct {
        stub_tcg2_event event;
        char text[DESCRIPTION_MAX];
    } __attribute__((packed)) entry;
    UINTN name_len = 0;
    while (name[name_len] && name_len + 1 < DESCRIPTION_MAX)
        name_len++;
    SetMem(&entry, sizeof entry, 0);
    CopyMem(entry.text, (void *)name, name_len);
    entry.event.Size = (UINT32)(sizeof entry.event + name_len + 1);
    entry.event.Header.HeaderSize = sizeof entry.event.Header;
    entry.event.Header.HeaderVersion = STUB_TCG2_EVENT_HEADER_VERSION;
    entry.event.Header.PCRIndex = PCR_KERNEL_IMAGE;
    entry.event.Header.EventType = STUB_EV_IPL;
    return uefi_call_wrapper(tcg2->HashLogExtendEvent, 5, tcg2, 0ULL,
                             (EFI_PHYSICAL_ADDRESS)(UINTN)data, (UINT64)length, &entry.event);
}

measure_result measure_sections(const uint8_t *image, UINTN image_size)
{
    measure_result result = {0};
    stub_tcg2_protocol *tcg2 = find_tcg2();
    if (!tcg2)
        return result;
    result.tpm = 1;
    for (unsigned i = 0; pcr11_sections[i]; i++) {
        const char *name = pcr11_sections[i];
        const uint8_t *data;
        size_t length;
        int found;
        if (pe_find_section(image, image_size, name, &data, &length, &found) || !found)
            continue;
        UINTN name_size = 0;
        while (name[name_size])
            name_size++;
        /* The name with its NUL, then the contents: two events, as systemd-stub logs them. */
        EFI_STATUS status = extend(tcg2, name, name_size + 1, name);
        result.failed += EFI_ERROR(status) ? 1 : 0;
        status = extend(tcg2, data, length, name);
        result.failed += EFI_ERROR(status) ? 1 : 0;
        result.events += 2;
    }
    return result;
}
