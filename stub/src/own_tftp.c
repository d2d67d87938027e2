#include <efi.h>
#include <efilib.h>

#include "clock.h"
#include "own_tftp.h"
#include "tftp_error.h"
#include "tftp_oack.h"
#include "tftp_rx.h"

/* A gap is ACKed at once (RFC 7440); this covers what shows no gap: the request, a window's
 * last block or our ACK lost. Short, as a LAN's round trip is; 30 of them in a row (6 s of
 * silence) end the transfer, and the fetch-timeout bounds the whole. */
#define RETRY_MS 200
/* Bytes hashed per idle poll: about 50 us under emulation, short beside a frame's arrival. */
#define HASH_STEP 4096
#define RETRIES 30

typedef struct {
    own_net net;
    tftp_rx tftp;
    own_hash hash;
} session;

static void send_event(session *s, const tftp_rx_event *ev, const char *name)
{
    uint8_t *payload = s->net.tx + FRAME_UDP_PAYLOAD_OFFSET;
    size_t cap = SNP_FRAME_MAX - FRAME_UDP_PAYLOAD_OFFSET, len = 0;
    switch (ev->send) {
    case TFTP_RX_SEND_RRQ:
        len = tftp_rx_build_rrq(&s->tftp, name, payload, cap);
        break;
    case TFTP_RX_SEND_ACK:
        len = tftp_build_ack(payload, cap, ev->ack_block);
        break;
    case TFTP_RX_SEND_ERROR:
        len = tftp_build_error(payload, cap, ev->error_code, ev->error_message);
        break;
    case TFTP_RX_SEND_NOTHING:
        return;
    }
    if (len)
        own_net_send_udp(&s->net, ev->port, len);
}

/* Tell the server to stop (a transfer we end ourselves). */
static void send_error(session *s, uint16_t port, uint16_t code, const char *message)
{
    tftp_rx_event ev = {.send = TFTP_RX_SEND_ERROR, .port = port, .error_code = code, .error_message = message};
    send_event(s, &ev, NULL);
}

/* The first OACK, before tftp_rx sees it: the buffer is allocated from its tsize. */
static EFI_STATUS take_size(session *s, const uint8_t *p, size_t len, uint16_t port, file_buf *out,
                            tftp4_result *result, const char **reason)
{
    tftp_oack oack;
    if (tftp_oack_parse(p + 2, len - 2, &oack))
        return EFI_SUCCESS;  /* tftp_rx refuses it with the reason and an ERROR 8 */
    result->options_agreed = 1;
    if (!(oack.present & TFTP_OACK_TSIZE)) {
        send_error(s, port, TFTP_ERROR_OPTIONS, "tsize required");
        result->outcome = TFTP4_TRY_SIMPLER;
        *reason = "the server did not answer tsize";
        return EFI_UNSUPPORTED;
    }
    if (oack.tsize == 0) {
        send_error(s, port, TFTP_ERROR_OPTIONS, "empty file");
        *reason = "empty file";
        return EFI_END_OF_FILE;
    }
    if (oack.tsize > (UINT64)(UINTN)-1 / 2) {
        send_error(s, port, TFTP_ERROR_DISK_FULL, "file too large");
        *reason = "file too large";
        return EFI_OUT_OF_RESOURCES;
    }
    EFI_STATUS status = file_buf_alloc(out, (UINTN)oack.tsize);
    if (EFI_ERROR(status)) {
        send_error(s, port, TFTP_ERROR_DISK_FULL, "out of memory");
        *reason = "out of memory";
        return status;
    }
    tftp_rx_attach(&s->tftp, out->data, out->size);
    return EFI_SUCCESS;
}

static EFI_STATUS failed(session *s, tftp4_result *result, const char **reason)
{
    static char message[160];
    text_buf tb;
    tb_init(&tb, message, sizeof message);
    tftp_rx_describe_failure(&s->tftp, &tb);
    *reason = message;
    if (s->tftp.server_error) {
        if (tftp_error_classify(s->tftp.error_code, s->tftp.error_message, s->tftp.error_message_len) ==
            TFTP_ERR_OPTION_REFUSED)
            result->outcome = TFTP4_TRY_SIMPLER;
        return EFI_TFTP_ERROR;
    }
    return s->tftp.timed_out ? EFI_TIMEOUT : EFI_PROTOCOL_ERROR;
}

static EFI_STATUS transfer(session *s, const char *name, const fetch_deadline *deadline, file_buf *out,
                           tftp4_result *result, const char **reason)
{
    tftp_rx_event ev = {.send = TFTP_RX_SEND_RRQ, .port = TFTP_PORT};
    send_event(s, &ev, name);
    for (;;) {
        frame_rx_kind kind;
        frame_rx_result r;
        EFI_STATUS status = own_net_poll(&s->net, &kind, &r);
        uint32_t now = (uint32_t)clock_ms();
        /* Every pass, frame or not: a flood that keeps the queue full must not stop the clock. */
        if (net_deadline_passed(deadline)) {
            if (s->tftp.tid_known)
                send_error(s, s->tftp.tid, 0, "fetch-timeout");
            result->deadline_passed = 1;
            *reason = net_deadline_reason(deadline, s->tftp.received, out->size);
            return EFI_TIMEOUT;
        }
        tftp_rx_state ticked = tftp_rx_tick(&s->tftp, now, &ev);
        if (ev.send != TFTP_RX_SEND_NOTHING)
            result->timeouts++;
        send_event(s, &ev, name);
        if (ticked == TFTP_RX_FAILED)
            return failed(s, result, reason);
        if (status == EFI_NOT_READY) {
            own_hash_step(&s->hash, out->data, s->tftp.received, HASH_STEP);
            continue;
        }
        if (EFI_ERROR(status)) {
            if (!s->net.answered)
                result->outcome = TFTP4_UNAVAILABLE;
            *reason = "the NIC driver failed to receive";
            return status;
        }
        if (kind != FRAME_RX_UDP || r.payload_len < 4)
            continue;
        uint16_t op = (uint16_t)(r.payload[0] << 8 | r.payload[1]);
        if (s->tftp.state == TFTP_RX_REQUESTED && !out->data) {
            if (op == TFTP_OP_OACK) {
                status = take_size(s, r.payload, r.payload_len, r.src_port, out, result, reason);
                if (EFI_ERROR(status))
                    return status;
            } else if (op == TFTP_OP_DATA) {
                send_error(s, r.src_port, TFTP_ERROR_OPTIONS, "tsize required");
                result->outcome = TFTP4_TRY_SIMPLER;
                *reason = "the server ignored the options (no OACK)";
                return EFI_UNSUPPORTED;
            }
        }
        tftp_rx_state state = tftp_rx_receive(&s->tftp, r.src_port, r.payload, r.payload_len, now, &ev);
        send_event(s, &ev, name);
        if (state == TFTP_RX_DONE)
            return EFI_SUCCESS;
        if (state == TFTP_RX_FAILED)
            return failed(s, result, reason);
    }
}

EFI_STATUS own_tftp_read(snp_link *link, const own_ipv4 *addr, const uint8_t server[4],
                         const char *name, const tftp_request *ask, const fetch_deadline *deadline,
                         file_buf *out, tftp4_result *result, const char **reason)
{
    *out = (file_buf){0};
    *result = (tftp4_result){.outcome = TFTP4_FAILED};
    session *s = AllocateZeroPool(sizeof *s);
    if (!s) {
        result->outcome = TFTP4_UNAVAILABLE;
        *reason = "out of memory";
        return EFI_OUT_OF_RESOURCES;
    }
    UINT64 started = clock_ms();
    /* Reassembly takes the largest block asked for, with its UDP and TFTP headers. */
    size_t block = ask->blksize > TFTP_DEFAULT_BLKSIZE ? ask->blksize : TFTP_DEFAULT_BLKSIZE;
    const char *unreachable = own_net_open(&s->net, link, addr, server, block + UDP_HEADER_LEN + 4, deadline);
    EFI_STATUS status;
    if (unreachable) {
        result->outcome = TFTP4_UNAVAILABLE;
        *reason = unreachable;
        status = EFI_NO_RESPONSE;
    } else {
        tftp_rx_init(&s->tftp, NULL, 0, ask->blksize, ask->window, RETRY_MS, RETRIES, (uint32_t)clock_ms());
        own_hash_init(&s->hash);
        status = transfer(s, name, deadline, out, result, reason);
        own_net_close(&s->net);
    }
    if (!EFI_ERROR(status))
        own_hash_step(&s->hash, out->data, s->tftp.received, 0);  /* what the idle time left */
    result->ms = clock_ms() - started;
    result->hash_ms = clock_ticks_ms(s->hash.ticks);
    result->nic_ms = clock_ticks_ms(s->net.nic_ticks);
    if (!EFI_ERROR(status)) {
        if (!out->data || s->tftp.received != out->size) {
            *reason = "file changed size during the transfer";
            status = EFI_BAD_BUFFER_SIZE;
        } else {
            sha256_final(&s->hash.sha, result->digest);
            result->outcome = TFTP4_DONE;
            result->blksize = s->tftp.blksize;
            result->window = s->tftp.windowsize;
            result->bytes = out->size;
        }
    }
    if (EFI_ERROR(status))
        file_buf_free(out);
    FreePool(s);
    return status;
}
