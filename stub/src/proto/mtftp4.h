/* EFI_MTFTP4_PROTOCOL and its service binding (UEFI 2.10, 30.3); gnu-efi 3.0 has no header. */
#ifndef STUB_PROTO_MTFTP4_H
#define STUB_PROTO_MTFTP4_H

#include <efi.h>

#include "service_binding.h"

#define STUB_MTFTP4_SERVICE_BINDING_GUID \
    {0x2fe800be, 0x8f01, 0x4aa6, {0x94, 0x6b, 0xd7, 0x13, 0x88, 0xe1, 0x83, 0x3f}}
#define STUB_MTFTP4_PROTOCOL_GUID \
    {0x78247c57, 0x63db, 0x4708, {0x99, 0xc2, 0xa8, 0xb4, 0xa9, 0xa6, 0x1f, 0x6b}}

#define STUB_MTFTP4_OPCODE_DATA 3
#define STUB_MTFTP4_OPCODE_ERROR 5
#define STUB_MTFTP4_OPCODE_OACK 6

typedef struct stub_mtftp4_protocol stub_mtftp4_protocol;
typedef struct stub_mtftp4_token stub_mtftp4_token;

/* A packet as the driver hands it to CheckPacket: opcode and fields in network byte order. */
typedef struct {
    UINT16 opcode;
    UINT8 rest[];
} __attribute__((packed)) stub_mtftp4_packet;

typedef struct {
    UINT8 *name;
    UINT8 *value;
} stub_mtftp4_option;

typedef struct {
    BOOLEAN UseDefaultSetting;
    EFI_IPv4_ADDRESS StationIp;
    EFI_IPv4_ADDRESS SubnetMask;
    UINT16 LocalPort;
    EFI_IPv4_ADDRESS GatewayIp;
    EFI_IPv4_ADDRESS ServerIp;
    UINT16 InitialServerPort;
    UINT16 TryCount;
    UINT16 TimeoutValue;
} stub_mtftp4_config;

typedef EFI_STATUS (EFIAPI *stub_mtftp4_check_packet)(stub_mtftp4_protocol *this,
                                                      stub_mtftp4_token *token, UINT16 length,
                                                      stub_mtftp4_packet *packet);
typedef EFI_STATUS (EFIAPI *stub_mtftp4_timeout_callback)(stub_mtftp4_protocol *this,
                                                          stub_mtftp4_token *token);

struct stub_mtftp4_token {
    EFI_STATUS Status;
    EFI_EVENT Event;
    void *OverrideData;
    UINT8 *Filename;
    UINT8 *ModeStr;
    UINT32 OptionCount;
    stub_mtftp4_option *OptionList;
    UINT64 BufferSize;
    void *Buffer;
    void *Context;
    stub_mtftp4_check_packet CheckPacket;
    stub_mtftp4_timeout_callback TimeoutCallback;
    void *PacketNeeded;
};

struct stub_mtftp4_protocol {
    void *GetModeData;
    EFI_STATUS (EFIAPI *Configure)(stub_mtftp4_protocol *this, stub_mtftp4_config *config);
    void *GetInfo;
    void *ParseOptions;
    EFI_STATUS (EFIAPI *ReadFile)(stub_mtftp4_protocol *this, stub_mtftp4_token *token);
    void *WriteFile;
    void *ReadDirectory;
    EFI_STATUS (EFIAPI *Poll)(stub_mtftp4_protocol *this);
};

#endif
