#include <efi.h>
#include <efilib.h>

#include "measure.h"
#include "pcr11.h"
#include "proto/tcg2.h"

static stub_tcg2_protocol *find_tcg2(void)
{
    static EFI_GUID guid = STUB_TCG2_PROTOCOL_GUID;
    stub_tcg2_protocol *tcg2 = NULL;
    if (EFI_ERROR(uefi_call_wrapper(BS->LocateProtocol, 3, &guid, NULL, (void **)&tcg2)) || !tcg2)
        return NULL;
    /* Zeroed, so that a firmware filling the shorter 1.0 structure leaves the rest at 0. */
    stub_tcg2_capability capability;
    SetMem(&capability, sizeof capability, 0);
    capability.Size = sizeof capability;
    EFI_STATUS status = uefi_call_wrapper(tcg2->GetCapability, 2, tcg2, &capability);
    if (EFI_ERROR(status) || !pcr11_tpm_present((const uint8_t *)&capability, sizeof capability))
        return NULL;
    return tcg2;
}

/* One EV_IPL event into PCR 11; its log entry carries the section name as UTF-16 with its NUL,
 * as systemd-stub writes it. */
static EFI_STATUS extend(stub_tcg2_protocol *tcg2, const void *data, UINTN length, const char *name)
{
    struct {
        stub_tcg2_event event;
        UINT8 text[PCR11_DESCRIPTION_MAX * 2];
    } __attribute__((packed)) entry;
    uint16_t text[PCR11_DESCRIPTION_MAX];
    size_t text_size = pcr11_description(name, text);
    SetMem(&entry, sizeof entry, 0);
    CopyMem(entry.text, text, text_size);
    entry.event.Size = (UINT32)(sizeof entry.event + text_size);
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
    pcr11_section sections[PCR11_SECTIONS_MAX];
    unsigned count;
    if (pcr11_plan(image, image_size, sections, &count)) {
        /* A section outside the image: nothing measured, and the line says so (failed=1). */
        result.failed = 1;
        return result;
    }
    for (unsigned i = 0; i < count; i++) {
        const char *name = sections[i].name;
        UINTN name_size = 0;
        while (name[name_size])
            name_size++;
        /* The name with its NUL (ASCII), then the contents: two events, as systemd-stub. */
        EFI_STATUS status = extend(tcg2, name, name_size + 1, name);
        result.failed += EFI_ERROR(status) ? 1 : 0;
        status = extend(tcg2, sections[i].data, sections[i].length, name);
        result.failed += EFI_ERROR(status) ? 1 : 0;
        result.events += 2;
    }
    return result;
}
