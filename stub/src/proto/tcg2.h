/* EFI_TCG2_PROTOCOL (TCG PC Client Platform EFI Protocol Specification); gnu-efi 3.0 has no
 * header for it. Only what the stub calls is typed. */
#ifndef STUB_PROTO_TCG2_H
#define STUB_PROTO_TCG2_H

#include <efi.h>

#define STUB_TCG2_PROTOCOL_GUID \
    {0x607f766c, 0x7455, 0x42be, {0x93, 0x0b, 0xe4, 0xd7, 0x6d, 0xb2, 0x72, 0x0f}}

#define STUB_TCG2_EVENT_HEADER_VERSION 1
#define STUB_EV_IPL 0x0000000d

typedef struct {
    UINT32 HeaderSize;
    UINT16 HeaderVersion;
    UINT32 PCRIndex;
    UINT32 EventType;
} __attribute__((packed)) stub_tcg2_event_header;

typedef struct {
    UINT32 Size;
    stub_tcg2_event_header Header;
    UINT8 Event[];
} __attribute__((packed)) stub_tcg2_event;

/* Naturally aligned (not packed), as the specification and EDK2 lay it out: 36 bytes. */
typedef struct {
    UINT8 Size;
    struct { UINT8 Major, Minor; } StructureVersion;
    struct { UINT8 Major, Minor; } ProtocolVersion;
    UINT32 HashAlgorithmBitmap;
    UINT32 SupportedEventLogs;
    BOOLEAN TPMPresentFlag;
    UINT16 MaxCommandSize;
    UINT16 MaxResponseSize;
    UINT32 ManufacturerID;
    UINT32 NumberOfPcrBanks;
    UINT32 ActivePcrBanks;
} stub_tcg2_capability;

_Static_assert(sizeof(stub_tcg2_capability) == 36, "EFI_TCG2_BOOT_SERVICE_CAPABILITY is 36 bytes");
_Static_assert(__builtin_offsetof(stub_tcg2_capability, TPMPresentFlag) == 16,
               "pcr11_tpm_present reads the 1.1 flag at byte 16");

/* The 1.0 structure (EFI_TCG_BOOT_SERVICE_CAPABILITY) that some firmware fills in instead,
 * saying so with StructureVersion 1.0; pcr11_tpm_present() reads both. */
typedef struct {
    UINT8 Size;
    struct { UINT8 Major, Minor, RevMajor, RevMinor; } StructureVersion;
    struct { UINT8 Major, Minor, RevMajor, RevMinor; } ProtocolSpecVersion;
    UINT8 HashAlgorithmBitmap;
    BOOLEAN TPMPresentFlag;
    BOOLEAN TPMDeactivatedFlag;
} stub_tcg_capability_1_0;

_Static_assert(__builtin_offsetof(stub_tcg_capability_1_0, TPMPresentFlag) == 10,
               "pcr11_tpm_present reads the 1.0 flag at byte 10");

typedef struct stub_tcg2_protocol stub_tcg2_protocol;
struct stub_tcg2_protocol {
    EFI_STATUS (EFIAPI *GetCapability)(stub_tcg2_protocol *this, stub_tcg2_capability *capability);
    void *GetEventLog;
    EFI_STATUS (EFIAPI *HashLogExtendEvent)(stub_tcg2_protocol *this, UINT64 flags,
                                             EFI_PHYSICAL_ADDRESS data, UINT64 length,
                                             stub_tcg2_event *event);
    void *SubmitCommand;
    void *GetActivePcrBanks;
    void *SetActivePcrBanks;
    void *GetResultOfSetActivePcrBanks;
};

#endif
