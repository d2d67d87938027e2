#include <efi.h>
#include <efilib.h>

#include "clock.h"
#include "efi_status.h"
#include "proto/mtftp4.h"
#include "service.h"
#include "tftp4.h"
#include "tftp_error.h"
#include "tftp_oack.h"

/* UEFI network statuses gnu-efi 3.0 lacks (UEFI 2.10, Appendix D). */
#ifndef EFI_NETWORK_UNREACHABLE
#define EFI_NETWORK_UNREACHABLE EFIERR(100)
#define EFI_HOST_UNREACHABLE EFIERR(101)
#define EFI_PROTOCOL_UNREACHABLE EFIERR(102)
#define EFI_PORT_UNREACHABLE EFIERR(103)
#endif

#define TFTP_PORT 69
#define TRY_COUNT 6     /* as EDK2's PXE Base Code */
#define TIMEOUT_S 4
#define DEFAULT_BLKSIZE 512
#define DATA_HEADER 4   /* opcode, block */

typedef struct {
    file_buf *out;
    const fetch_deadline *deadline;
    int deadline_passed;
    sha256_ctx sha;
    UINTN hashed;         /* bytes of the buffer already hashed */
    UINTN received;       /* bytes the driver has been handed for the buffer */
    unsigned blksize, window, timeouts;
    int size_known;
    /* why the transfer was aborted from the callback, or the server's error */
    const char *abort_reason;
    EFI_STATUS abort_status;
    int try_simpler;
    int server_error;
    volatile int done;    /* the token's event fired: ReadFile has ended */
    unsigned error_code;
    uint8_t error_message[128];
    size_t error_len;
} transfer;

static UINT16 from_network(UINT16 value)
{
    return (UINT16)(value << 8 | value >> 8);
}

static EFI_STATUS abort_with(transfer *t, const char *reason, EFI_STATUS status, int try_simpler)
{
    t->abort_reason = reason;
    t->abort_status = status;
    t->try_simpler = try_simpler;
    return EFI_ABORTED;
}

static EFI_STATUS on_oack(transfer *t, stub_mtftp4_token *token, const uint8_t *options, size_t len)
{
    tftp_oack oack;
    if (t->size_known)
        return EFI_SUCCESS;  /* a repeated OACK (our ACK 0 was lost) */
    const char *reason = tftp_oack_parse(options, len, &oack);
    if (reason)
        return abort_with(t, reason, EFI_PROTOCOL_ERROR, 0);
    if (!(oack.present & TFTP_OACK_TSIZE))
        return abort_with(t, "the server did not answer tsize", EFI_UNSUPPORTED, 1);
    if (oack.tsize == 0)
        return abort_with(t, "empty file", EFI_END_OF_FILE, 0);
    if (oack.tsize > (UINT64)(UINTN)-1 / 2)
        return abort_with(t, "file too large", EFI_OUT_OF_RESOURCES, 0);
    EFI_STATUS status = file_buf_alloc(t->out, (UINTN)oack.tsize);
    if (EFI_ERROR(status))
        return abort_with(t, "out of memory", status, 0);
    t->blksize = oack.present & TFTP_OACK_BLKSIZE ? oack.blksize : DEFAULT_BLKSIZE;
    t->window = oack.present & TFTP_OACK_WINDOWSIZE ? oack.windowsize : 1;
    t->size_known = 1;
    token->Buffer = t->out->data;
    token->BufferSize = t->out->size;
    return EFI_SUCCESS;
}

/* The driver calls this for each new in-order block before it copies the block into the
 * buffer, so every earlier block is in the buffer by now: hash those bytes, from the buffer
 * that will be used. The last block is hashed once the transfer ends. */
static EFI_STATUS on_data(transfer *t, UINT16 len)
{
    if (!t->size_known)
        return abort_with(t, "the server ignored the options (no OACK)", EFI_UNSUPPORTED, 1);
    UINTN end = t->received <= t->out->size ? t->received : t->out->size;
    sha256_update(&t->sha, t->out->data + t->hashed, end - t->hashed);
    t->hashed = end;
    t->received += (UINTN)(len - DATA_HEADER);
    return EFI_SUCCESS;
}

static void on_error(transfer *t, const uint8_t *rest, size_t len)
{
    t->server_error = 1;
    if (len < 2)
        return;
    t->error_code = (unsigned)rest[0] << 8 | rest[1];
    size_t n = 0;
    while (n + 2 < len && rest[2 + n] && n < sizeof t->error_message) {
        t->error_message[n] = rest[2 + n];
        n++;
    }
    t->error_len = n;
}

/* A server that keeps the transfer alive with a packet now and then is stopped here. */
static EFI_STATUS check_deadline(transfer *t)
{
    if (!net_deadline_passed(t->deadline))
        return EFI_SUCCESS;
    t->deadline_passed = 1;
    return abort_with(t, net_deadline_reason(t->deadline, t->received, t->size_known ? t->out->size : 0),
                      EFI_TIMEOUT, 0);
}

static EFI_STATUS EFIAPI check_packet(stub_mtftp4_protocol *this, stub_mtftp4_token *token,
                                      UINT16 length, stub_mtftp4_packet *packet)
{
    (void)this;
    transfer *t = token->Context;
    if (EFI_ERROR(check_deadline(t)))
        return EFI_ABORTED;
    if (length < 2)
        return EFI_SUCCESS;
    switch (from_network(packet->opcode)) {
    case STUB_MTFTP4_OPCODE_OACK:
        return on_oack(t, token, packet->rest, length - 2u);
    case STUB_MTFTP4_OPCODE_DATA:
        return length >= DATA_HEADER ? on_data(t, length) : EFI_SUCCESS;
    case STUB_MTFTP4_OPCODE_ERROR:
        on_error(t, packet->rest, length - 2u);
        return EFI_SUCCESS;
    default:
        return EFI_SUCCESS;
    }
}

static EFI_STATUS EFIAPI on_timeout(stub_mtftp4_protocol *this, stub_mtftp4_token *token)
{
    (void)this;
    transfer *t = token->Context;
    t->timeouts++;
    return check_deadline(t);
}

static void copy_ip(EFI_IPv4_ADDRESS *to, const uint8_t from[4])
{
    for (int i = 0; i < 4; i++)
        to->Addr[i] = from[i];
}

static void u64_text(char *out, size_t cap, UINT64 value)
{
    text_buf tb;
    tb_init(&tb, out, cap);
    tb_u64(&tb, value);
}

static EFI_STATUS fail_reason(transfer *t, EFI_STATUS status, tftp4_result *result, const char **reason)
{
    static char message[160];
    result->outcome = TFTP4_FAILED;
    if (t->abort_reason) {
        *reason = t->abort_reason;
        result->outcome = t->try_simpler ? TFTP4_TRY_SIMPLER : TFTP4_FAILED;
        return t->abort_status;
    }
    if (t->server_error) {
        if (tftp_error_classify(t->error_code, t->error_message, t->error_len) == TFTP_ERR_OPTION_REFUSED)
            result->outcome = TFTP4_TRY_SIMPLER;
        text_buf tb;
        tb_init(&tb, message, sizeof message);
        tftp_error_describe(&tb, t->error_code, t->error_message, t->error_len);
        *reason = message;
        return EFI_TFTP_ERROR;
    }
    switch (status) {
    case EFI_UNSUPPORTED:  /* an option this driver does not know */
        result->outcome = TFTP4_TRY_SIMPLER;
        *reason = "the firmware's MTFTP4 refused an option";
        break;
    case EFI_BUFFER_TOO_SMALL:
        *reason = "file changed size during the transfer";
        break;
    case EFI_TIMEOUT:
        *reason = "timeout (no answer from the TFTP server)";
        break;
    case EFI_ICMP_ERROR:
    case EFI_NETWORK_UNREACHABLE:
    case EFI_HOST_UNREACHABLE:
    case EFI_PROTOCOL_UNREACHABLE:
    case EFI_PORT_UNREACHABLE:
        *reason = "ICMP error (server unreachable)";
        break;
    default:
        *reason = efi_status_reason(status);
    }
    return status;
}

static VOID EFIAPI on_done(EFI_EVENT event, VOID *context)
{
    (void)event;
    ((transfer *)context)->done = 1;
}

/* ReadFile runs on its own while we poll, so the file's deadline holds even against a server
 * that only resends old blocks (EDK2 answers those without calling either callback); at the
 * deadline Configure(NULL) aborts the read. */
static EFI_STATUS read_until_deadline(stub_mtftp4_protocol *mtftp, stub_mtftp4_token *token, transfer *t)
{
    EFI_STATUS status = uefi_call_wrapper(mtftp->ReadFile, 2, mtftp, token);
    if (EFI_ERROR(status))
        return status;
    while (!t->done && !net_deadline_passed(t->deadline))
        uefi_call_wrapper(mtftp->Poll, 1, mtftp);
    if (t->done)
        return token->Status;
    check_deadline(t);
    uefi_call_wrapper(mtftp->Configure, 2, mtftp, NULL);
    return EFI_TIMEOUT;
}

static EFI_STATUS run_transfer(stub_mtftp4_protocol *mtftp, const EFI_PXE_BASE_CODE_MODE *mode,
                               const uint8_t server[4], const char *name, const tftp_request *ask,
                               EFI_EVENT event, transfer *t, tftp4_result *result, const char **reason)
{
    stub_mtftp4_config config = {0};
    config.UseDefaultSetting = FALSE;
    config.StationIp = mode->StationIp.v4;
    config.SubnetMask = mode->SubnetMask.v4;
    if (mode->RouteTableEntries > 0)
        config.GatewayIp = mode->RouteTable[0].GwAddr.v4;
    copy_ip(&config.ServerIp, server);
    config.InitialServerPort = TFTP_PORT;
    config.TryCount = TRY_COUNT;
    config.TimeoutValue = TIMEOUT_S;
    EFI_STATUS status = uefi_call_wrapper(mtftp->Configure, 2, mtftp, &config);
    if (EFI_ERROR(status)) {
        result->outcome = TFTP4_UNAVAILABLE;
        *reason = "MTFTP4 could not be configured";
        return status;
    }

    char blksize[12], window[12];
    u64_text(blksize, sizeof blksize, ask->blksize);
    u64_text(window, sizeof window, ask->window);
    stub_mtftp4_option options[3] = {
        {(UINT8 *)"tsize", (UINT8 *)"0"},
        {(UINT8 *)"blksize", (UINT8 *)blksize},
        {(UINT8 *)"windowsize", (UINT8 *)window},
    };
    stub_mtftp4_token token = {0};
    token.Filename = (UINT8 *)name;
    /* tsize always (the buffer is sized from it); then blksize unless plain blocks are asked
     * for (blksize 0); then windowsize for a window above 1. */
    stub_mtftp4_option *next = &options[1];
    if (ask->blksize)
        *next++ = options[1];
    if (ask->window > 1)
        *next++ = options[2];
    token.OptionCount = (UINT32)(next - options);
    token.OptionList = options;
    token.Context = t;
    token.CheckPacket = check_packet;
    token.TimeoutCallback = on_timeout;
    token.Event = event;

    UINT64 started = clock_ms();
    status = read_until_deadline(mtftp, &token, t);
    result->ms = clock_ms() - started;
    result->timeouts = t->timeouts;
    result->options_agreed = t->size_known;
    result->deadline_passed = t->deadline_passed;
    if (EFI_ERROR(status))
        return fail_reason(t, status, result, reason);
    if (!t->size_known || token.BufferSize != t->out->size || t->received != t->out->size) {
        result->outcome = TFTP4_FAILED;
        *reason = "file changed size during the transfer";
        return EFI_BAD_BUFFER_SIZE;
    }
    sha256_update(&t->sha, t->out->data + t->hashed, t->out->size - t->hashed);
    sha256_final(&t->sha, result->digest);
    result->outcome = TFTP4_DONE;
    result->blksize = t->blksize;
    result->window = t->window;
    result->bytes = t->out->size;
    return EFI_SUCCESS;
}

EFI_STATUS tftp4_read(EFI_HANDLE device, const EFI_PXE_BASE_CODE_MODE *mode, const uint8_t server[4],
                      const char *name, const tftp_request *ask, const fetch_deadline *deadline,
                      file_buf *out, tftp4_result *result, const char **reason)
{
    static EFI_GUID binding_guid = STUB_MTFTP4_SERVICE_BINDING_GUID;
    static EFI_GUID mtftp_guid = STUB_MTFTP4_PROTOCOL_GUID;
    EFI_HANDLE child = NULL;
    stub_mtftp4_protocol *mtftp = NULL;
    *out = (file_buf){0};
    *result = (tftp4_result){0};
    stub_service_binding *binding = service_binding_for(device, &binding_guid);
    if (!binding) {
        result->outcome = TFTP4_UNAVAILABLE;
        *reason = "no EFI_MTFTP4_PROTOCOL on the network device";
        return EFI_UNSUPPORTED;
    }
    EFI_STATUS status = service_child(binding, &mtftp_guid, &child, (void **)&mtftp);
    if (EFI_ERROR(status)) {
        result->outcome = TFTP4_UNAVAILABLE;
        *reason = "no MTFTP4 child for the network device";
        return status;
    }

    transfer t = {0};
    t.out = out;
    t.deadline = deadline;
    sha256_init(&t.sha);
    EFI_EVENT event = NULL;
    status = uefi_call_wrapper(BS->CreateEvent, 5, EVT_NOTIFY_SIGNAL, TPL_CALLBACK, on_done, &t, &event);
    if (EFI_ERROR(status)) {
        result->outcome = TFTP4_UNAVAILABLE;
        *reason = "cannot create an event";
    } else {
        status = run_transfer(mtftp, mode, server, name, ask, event, &t, result, reason);
    }
    /* The child first: a token it signals while it goes must still meet an open event. */
    uefi_call_wrapper(binding->DestroyChild, 2, binding, child);
    if (event)
        uefi_call_wrapper(BS->CloseEvent, 1, event);
    if (EFI_ERROR(status))
        file_buf_free(out);
    return status;
}
