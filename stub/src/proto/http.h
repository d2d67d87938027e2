/* EFI_HTTP_PROTOCOL and its service binding (UEFI 2.10, 29.6); gnu-efi 3.0 has no header. */
#ifndef STUB_PROTO_HTTP_H
#define STUB_PROTO_HTTP_H

#include <efi.h>

#define STUB_HTTP_SERVICE_BINDING_GUID \
    {0xbdc8e6af, 0xd9bc, 0x4379, {0xa7, 0x2a, 0xe0, 0xc4, 0xe7, 0x5d, 0xae, 0x1c}}
#define STUB_HTTP_PROTOCOL_GUID \
    {0x7a59b29b, 0x910b, 0x4171, {0x82, 0x42, 0xa8, 0x5a, 0x0d, 0xf2, 0x5b, 0x5b}}

/* Statuses gnu-efi 3.0 lacks (UEFI 2.10, Appendix D). */
#ifndef EFI_HTTP_ERROR
#define EFI_HTTP_ERROR EFIERR(35)
#endif
#ifndef EFI_CONNECTION_FIN
#define EFI_CONNECTION_FIN EFIERR(104)
#define EFI_CONNECTION_RESET EFIERR(105)
#define EFI_CONNECTION_REFUSED EFIERR(106)
#endif

typedef enum { STUB_HTTP_VERSION_10, STUB_HTTP_VERSION_11 } stub_http_version;
typedef enum { STUB_HTTP_METHOD_GET = 0, STUB_HTTP_METHOD_HEAD = 5 } stub_http_method;

typedef struct {
    BOOLEAN UseDefaultAddress;
    EFI_IPv4_ADDRESS LocalAddress;
    EFI_IPv4_ADDRESS LocalSubnet;
    UINT16 LocalPort;
} stub_http_v4_access_point;

typedef struct {
    EFI_IPv6_ADDRESS LocalAddress;
    UINT16 LocalPort;
} stub_http_v6_access_point;

typedef struct {
    UINT32 HttpVersion;  /* stub_http_version: an enum, 4 bytes */
    UINT32 TimeOutMillisec;
    BOOLEAN LocalAddressIsIPv6;
    union {
        stub_http_v4_access_point *IPv4Node;
        stub_http_v6_access_point *IPv6Node;
    } AccessPoint;
} stub_http_config;

typedef struct {
    UINT32 Method;       /* stub_http_method */
    CHAR16 *Url;
} stub_http_request_data;

typedef struct {
    UINT32 StatusCode;   /* EFI_HTTP_STATUS_CODE: an index, see http_status.h */
} stub_http_response_data;

typedef struct {
    CHAR8 *FieldName;
    CHAR8 *FieldValue;
} stub_http_header;

typedef struct {
    union {
        stub_http_request_data *Request;
        stub_http_response_data *Response;
    } Data;
    UINTN HeaderCount;
    stub_http_header *Headers;
    UINTN BodyLength;
    void *Body;
} stub_http_message;

typedef struct {
    EFI_EVENT Event;
    EFI_STATUS Status;
    stub_http_message *Message;
} stub_http_token;

typedef struct stub_http_protocol stub_http_protocol;
struct stub_http_protocol {
    void *GetModeData;
    EFI_STATUS (EFIAPI *Configure)(stub_http_protocol *this, stub_http_config *config);
    EFI_STATUS (EFIAPI *Request)(stub_http_protocol *this, stub_http_token *token);
    EFI_STATUS (EFIAPI *Cancel)(stub_http_protocol *this, stub_http_token *token);
    EFI_STATUS (EFIAPI *Response)(stub_http_protocol *this, stub_http_token *token);
    EFI_STATUS (EFIAPI *Poll)(stub_http_protocol *this);
};

#endif
