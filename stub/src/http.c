/* GET through EFI_HTTP_PROTOCOL as EDK2's own HTTP Boot does (DxeHttpIoLib): one child of the
 * NIC's HTTP service binding, configured with the address the boot used; Request(), then
 * Response() for the headers, then Response() into the final buffer until Content-Length
 * bytes came, each step polled against its own timeout. */
#include <efi.h>
#include <efilib.h>

#include "clock.h"
#include "efi_status.h"
#include "http.h"
#include "http_headers.h"
#include "http_status.h"
#include "proto/http.h"
#include "service.h"
#include "sha256.h"
#include "textbuf.h"
#include "url.h"

#ifndef STUB_VERSION
#define STUB_VERSION "0.0.0"
#endif

/* No byte for this long: the server or the network is gone. */
#define HTTP_WAIT_MS 10000
/* The firmware's TCP may hand over less; asking for much lets it fill as fast as it can. */
#define HTTP_READ_MAX (8u << 20)

static EFI_GUID binding_guid = STUB_HTTP_SERVICE_BINDING_GUID;
static EFI_GUID http_guid = STUB_HTTP_PROTOCOL_GUID;

const char *http_find(EFI_HANDLE device, http_boot *out)
{
    EFI_DEVICE_PATH *path = NULL;
    *out = (http_boot){0};
    if (!device || EFI_ERROR(uefi_call_wrapper(BS->HandleProtocol, 3, device, &DevicePathProtocol, (void **)&path)) || !path)
        return "no device path on the boot device";
    const char *reason = devpath_find_http_boot((const uint8_t *)path, DevicePathSize(path), &out->boot);
    if (reason)
        return reason;
    if (!url_is_http(out->boot.uri, out->boot.uri_len))
        return "the boot URI is not an http:// or https:// URL";
    out->binding = service_binding_for(device, &binding_guid);
    return out->binding ? NULL : "no EFI_HTTP_PROTOCOL on the network device";
}

const char *http_from_pxe(EFI_HANDLE device, const EFI_PXE_BASE_CODE_MODE *mode, http_boot *out)
{
    *out = (http_boot){0};
    out->binding = service_binding_for(device, &binding_guid);
    if (!out->binding)
        return "no EFI_HTTP_PROTOCOL on the network device";
    out->boot.family = mode->UsingIpv6 ? 6 : 4;
    CopyMem(out->boot.local, (void *)&mode->StationIp, out->boot.family == 6 ? 16 : 4);
    if (!mode->UsingIpv6)
        CopyMem(out->boot.subnet, (void *)&mode->SubnetMask, 4);
    return NULL;
}

typedef struct {
    volatile int done;
} completion;

static VOID EFIAPI on_done(EFI_EVENT event, VOID *context)
{
    (void)event;
    ((completion *)context)->done = 1;
}

_Static_assert(sizeof(stub_http_header) == sizeof(http_header_fields), "EFI_HTTP_HEADER layout");

static void pool_free(void *block)
{
    uefi_call_wrapper(BS->FreePool, 1, block);
}

/* What Response() allocated for the headers of a delivered response. */
static void free_headers(stub_http_message *m)
{
    http_headers_release((http_header_fields *)m->Headers, m->HeaderCount, pool_free);
    m->Headers = NULL;
    m->HeaderCount = 0;
}

/* Poll until the token's event fires, HTTP_WAIT_MS pass or the file's deadline passes; a late
 * token is cancelled. */
static EFI_STATUS wait_for(stub_http_protocol *http, stub_http_token *token, completion *c,
                           const fetch_deadline *file)
{
    UINT64 deadline = clock_ms() + HTTP_WAIT_MS;
    while (!c->done && clock_ms() < deadline && !net_deadline_passed(file))
        uefi_call_wrapper(http->Poll, 1, http);
    if (!c->done) {
        uefi_call_wrapper(http->Cancel, 2, http, token);
        return EFI_TIMEOUT;
    }
    return token->Status;
}

typedef struct {
    stub_http_protocol *http;
    const fetch_deadline *deadline;
    EFI_EVENT event;
    completion done;
    stub_http_token token;
    stub_http_message message;
} exchange;

static EFI_STATUS wait_exchange(exchange *x)
{
    return wait_for(x->http, &x->token, &x->done, x->deadline);
}

static EFI_STATUS begin(exchange *x, int request)
{
    x->done.done = 0;
    x->token.Status = EFI_NOT_READY;
    x->token.Event = x->event;
    x->token.Message = &x->message;
    return request ? uefi_call_wrapper(x->http->Request, 2, x->http, &x->token)
                   : uefi_call_wrapper(x->http->Response, 2, x->http, &x->token);
}

static const char *find_header(const stub_http_message *m, const char *name)
{
    for (UINTN i = 0; m->Headers && i < m->HeaderCount; i++)
        if (m->Headers[i].FieldName && m->Headers[i].FieldValue &&
            http_header_is((const char *)m->Headers[i].FieldName, name))
            return (const char *)m->Headers[i].FieldValue;
    return NULL;
}

static char message_storage[200];

static const char *status_reason(unsigned index)
{
    text_buf tb;
    tb_init(&tb, message_storage, sizeof message_storage);
    tb_str(&tb, "HTTP ");
    unsigned number = http_status_number(index);
    if (number) {
        tb_u64(&tb, number);
        tb_str(&tb, " ");
        tb_str(&tb, http_status_phrase(index));
    } else {
        tb_str(&tb, "status the firmware does not know");
    }
    return message_storage;
}

static const char *short_body(UINTN got, UINTN total, const char *how)
{
    text_buf tb;
    tb_init(&tb, message_storage, sizeof message_storage);
    tb_str(&tb, how);
    tb_str(&tb, " after ");
    tb_u64(&tb, got);
    tb_str(&tb, " of ");
    tb_u64(&tb, total);
    tb_str(&tb, " bytes (Content-Length)");
    return message_storage;
}

static const char *transport_reason(EFI_STATUS status, const char *what)
{
    text_buf tb;
    tb_init(&tb, message_storage, sizeof message_storage);
    tb_str(&tb, what);
    tb_str(&tb, ": ");
    if (status == EFI_TIMEOUT)
        tb_str(&tb, "timeout (no answer from the HTTP server)");
    else if (status == EFI_CONNECTION_REFUSED || status == EFI_NO_RESPONSE)
        tb_str(&tb, "connection refused or no answer");
    else
        tb_str(&tb, efi_status_reason(status));
    return message_storage;
}

static EFI_STATUS configure(stub_http_protocol *http, const http_boot *boot)
{
    stub_http_v4_access_point v4 = {0};
    stub_http_v6_access_point v6 = {0};
    stub_http_config config = {0};
    config.HttpVersion = STUB_HTTP_VERSION_11;
    config.TimeOutMillisec = HTTP_WAIT_MS;
    if (boot->boot.family == 6) {
        config.LocalAddressIsIPv6 = TRUE;
        CopyMem(&v6.LocalAddress, (void *)boot->boot.local, 16);
        config.AccessPoint.IPv6Node = &v6;
    } else {
        /* The address HTTP Boot got, from the device path: asking for the NIC's default one
         * starts Ip4Config2's own DHCP, and requests fail with EFI_NO_MAPPING until it ends. */
        int known = 0;
        for (int i = 0; i < 4; i++)
            known |= boot->boot.local[i] | boot->boot.subnet[i];
        v4.UseDefaultAddress = !known;
        CopyMem(&v4.LocalAddress, (void *)boot->boot.local, 4);
        CopyMem(&v4.LocalSubnet, (void *)boot->boot.subnet, 4);
        config.AccessPoint.IPv4Node = &v4;
    }
    return uefi_call_wrapper(http->Configure, 2, http, &config);
}

/* The request, the headers, then the body straight into `out`. */
static EFI_STATUS get(exchange *x, const char *url, file_buf *out, net_transfer *info,
                      const char **reason)
{
    static CHAR16 wide_url[STUB_URL_MAX];
    static char host[STUB_AUTHORITY_MAX];
    size_t n = 0, start = 0, count = 0;
    for (; url[n] && n + 1 < STUB_URL_MAX; n++)
        wide_url[n] = (CHAR16)(uint8_t)url[n];
    wide_url[n] = 0;
    url_authority((const uint8_t *)url, n, &start, &count);
    if (count >= sizeof host)
        count = sizeof host - 1;
    CopyMem(host, (void *)(url + start), count);
    host[count] = 0;

    stub_http_header headers[] = {
        {(CHAR8 *)"Host", (CHAR8 *)host},
        {(CHAR8 *)"Accept", (CHAR8 *)"*/*"},
        {(CHAR8 *)"User-Agent", (CHAR8 *)"stub-workbench/" STUB_VERSION},
    };
    stub_http_request_data request = {STUB_HTTP_METHOD_GET, wide_url};
    x->message = (stub_http_message){0};
    x->message.Data.Request = &request;
    x->message.HeaderCount = sizeof headers / sizeof headers[0];
    x->message.Headers = headers;
    /* A default address may still be on its way (EFI_NO_MAPPING): wait for it. */
    UINT64 deadline = clock_ms() + HTTP_WAIT_MS;
    EFI_STATUS status;
    while ((status = begin(x, 1)) == EFI_NO_MAPPING && clock_ms() < deadline &&
           !net_deadline_passed(x->deadline))
        uefi_call_wrapper(BS->Stall, 1, 50000);
    if (!EFI_ERROR(status))
        status = wait_exchange(x);
    if (EFI_ERROR(status)) {
        *reason = net_deadline_passed(x->deadline) ? net_deadline_reason(x->deadline, 0, 0)
                                                   : transport_reason(status, "request failed");
        return net_deadline_passed(x->deadline) ? EFI_TIMEOUT : status;
    }

    stub_http_response_data response = {0};
    x->message = (stub_http_message){0};
    x->message.Data.Response = &response;
    status = begin(x, 0);
    if (!EFI_ERROR(status))
        status = wait_exchange(x);
    if (EFI_ERROR(status) && status != EFI_HTTP_ERROR) {
        /* No response was delivered: the headers are not ours to free (EDK2's error path
         * frees its array itself, older drivers without clearing the pointer). */
        if (net_deadline_passed(x->deadline)) {
            *reason = net_deadline_reason(x->deadline, 0, 0);
            return EFI_TIMEOUT;
        }
        *reason = transport_reason(status, "no response");
        return status;
    }
    unsigned number = http_status_number(response.StatusCode);
    const char *length_text = find_header(&x->message, "Content-Length");
    uint64_t length = 0;
    int length_ok = length_text && http_content_length(length_text, &length);
    free_headers(&x->message);
    if (number != 200) {
        *reason = status_reason(response.StatusCode);
        return number == 404 ? EFI_NOT_FOUND : EFI_HTTP_ERROR;
    }
    if (!length_ok) {
        *reason = length_text ? "bad Content-Length header" : "no Content-Length header (the size must be known before the body)";
        return EFI_PROTOCOL_ERROR;
    }
    if (length == 0) {
        *reason = "empty file";
        return EFI_END_OF_FILE;
    }
    if (length > (UINT64)(UINTN)-1 / 2) {
        *reason = "file too large";
        return EFI_OUT_OF_RESOURCES;
    }
    status = file_buf_alloc(out, (UINTN)length);
    if (EFI_ERROR(status)) {
        *reason = "out of memory";
        return status;
    }

    sha256_ctx sha;
    sha256_init(&sha);
    UINTN got = 0;
    while (got < out->size) {
        UINTN ask = out->size - got;
        x->message = (stub_http_message){0};
        x->message.Body = out->data + got;
        x->message.BodyLength = ask > HTTP_READ_MAX ? HTTP_READ_MAX : ask;
        status = begin(x, 0);
        if (!EFI_ERROR(status))
            status = wait_exchange(x);
        /* A body read carries no headers (the message was cleared above): nothing to free. */
        if (EFI_ERROR(status) && net_deadline_passed(x->deadline)) {
            *reason = net_deadline_reason(x->deadline, got, out->size);
            return EFI_TIMEOUT;
        }
        if (EFI_ERROR(status) || x->message.BodyLength == 0) {
            *reason = short_body(got, out->size, status == EFI_TIMEOUT ? "timeout" : "the body ended");
            return EFI_ERROR(status) ? status : EFI_END_OF_FILE;
        }
        sha256_update(&sha, out->data + got, x->message.BodyLength);
        got += x->message.BodyLength;
        info->reads++;
    }
    sha256_final(&sha, info->digest);
    info->has_digest = 1;
    return EFI_SUCCESS;
}

EFI_STATUS http_read(const http_boot *boot, const char *url, const fetch_deadline *deadline,
                     file_buf *out, net_transfer *info, const char **reason)
{
    EFI_HANDLE child = NULL;
    exchange x = {0};
    x.deadline = deadline;
    *out = (file_buf){0};
    *info = (net_transfer){.via = "http"};
    EFI_STATUS status = service_child(boot->binding, &http_guid, &child, (void **)&x.http);
    if (EFI_ERROR(status)) {
        *reason = "no EFI_HTTP_PROTOCOL child for the network device";
        goto done;
    }
    status = configure(x.http, boot);
    if (EFI_ERROR(status)) {
        *reason = transport_reason(status, "EFI_HTTP_PROTOCOL could not be configured");
        goto done;
    }
    status = uefi_call_wrapper(BS->CreateEvent, 5, EVT_NOTIFY_SIGNAL, TPL_CALLBACK, on_done,
                               &x.done, &x.event);
    if (EFI_ERROR(status)) {
        *reason = "cannot create an event";
        goto done;
    }
    UINT64 started = clock_ms();
    status = get(&x, url, out, info, reason);
    info->ms = clock_ms() - started;
done:
    /* The child first: a token it signals while it goes must still meet an open event. */
    if (x.http)
        uefi_call_wrapper(x.http->Configure, 2, x.http, NULL);
    if (child)
        uefi_call_wrapper(boot->binding->DestroyChild, 2, boot->binding, child);
    if (x.event)
        uefi_call_wrapper(BS->CloseEvent, 1, x.event);
    if (EFI_ERROR(status))
        file_buf_free(out);
    return status;
}
