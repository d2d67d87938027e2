#include <efi.h>
#include <efilib.h>

#include "clock.h"
#include "http_rx.h"
#include "own_http.h"
#include "proto/http.h"
#include "tcp_rx.h"
#include "textbuf.h"
#include "url.h"

#define HOST_MAX 300
#define REQUEST_MAX TCP_RX_REQUEST_MAX
/* Like the firmware path's: a server gone quiet for this long ends the file. */
#define IDLE_MS 10000
/* After the body: how long the server may take to close before we reset the connection. */
#define CLOSE_MS 200
#define FLUSH_IDLE_MS 1
/* Bytes hashed per idle poll: about 50 us under emulation, short beside a frame's arrival. */
#define HASH_STEP 4096

typedef struct {
    own_net net;
    tcp_rx tcp;
    http_rx http;
    own_hash hash;
    file_buf *out;
    uint8_t store[TCP_RX_SLOTS_MAX * TCP_RX_SLOT_BYTES];
    char request[REQUEST_MAX];
    char host[HOST_MAX];
    char path[STUB_URL_MAX];
} session;

/* The connection failed inside the body: the firmware path's words for it. */
static EFI_STATUS body_cut(session *s, const char **reason)
{
    static char message[120];
    int reset = s->tcp.failed_by == TCP_RX_BY_RESET;
    text_buf tb;
    tb_init(&tb, message, sizeof message);
    tb_str(&tb, reset ? "the body ended" : "timeout");
    tb_str(&tb, " after ");
    tb_u64(&tb, s->http.received);
    tb_str(&tb, " of ");
    tb_u64(&tb, s->http.length);
    tb_str(&tb, " bytes (Content-Length)");
    *reason = message;
    return reset ? EFI_END_OF_FILE : EFI_TIMEOUT;
}

static void send_event(session *s, const tcp_rx_event *ev)
{
    if (ev->send)
        own_net_send_tcp(&s->net, &ev->segment, ev->payload, ev->payload_len);
}

/* The stream's new bytes into the HTTP parser (the body lands in its buffer, hashed behind it). EFI_SUCCESS or a
 * status with the parser's failure. */
static EFI_STATUS feed(session *s, const tcp_rx_event *ev, const char **reason)
{
    for (size_t i = 0; i < ev->piece_count; i++) {
        const uint8_t *data = ev->pieces[i].data;
        size_t left = ev->pieces[i].len;
        while (left && s->http.state != HTTP_RX_FAILED) {
            size_t used = 0;
            http_rx_state state = http_rx_feed(&s->http, data, left, &used, NULL, NULL);
            data += used;
            left -= used;
            if (state == HTTP_RX_NEED_BUFFER) {
                EFI_STATUS status = file_buf_alloc(s->out, (UINTN)s->http.length);
                if (EFI_ERROR(status)) {
                    *reason = "out of memory";
                    return status;
                }
                http_rx_set_body(&s->http, s->out->data, s->out->size);
            } else if (!used) {
                break;
            }
        }
    }
    if (ev->end_of_stream)
        http_rx_end(&s->http);
    if (s->http.state != HTTP_RX_FAILED)
        return EFI_SUCCESS;
    /* The parser's words may live in the session, which is gone before the line is printed. */
    static char message[HTTP_RX_REASON_MAX];
    text_buf tb;
    tb_init(&tb, message, sizeof message);
    tb_str(&tb, s->http.failure);
    *reason = message;
    if (s->http.status && s->http.status != 200)
        return s->http.status == 404 ? EFI_NOT_FOUND : EFI_HTTP_ERROR;
    if (!s->out->data)
        return s->http.length_known && s->http.length == 0 ? EFI_END_OF_FILE : EFI_PROTOCOL_ERROR;
    return EFI_END_OF_FILE;
}

static EFI_STATUS connect_and_get(session *s, const url_target *target, const fetch_deadline *deadline,
                                  const char **reason, int *unavailable)
{
    static const tcp_rx_timing timing = {.rto_ms = 500, .rto_max_ms = 4000, .max_retries = 6, .idle_ms = IDLE_MS};
    size_t request_len = http_rx_build_get(s->request, sizeof s->request, s->host, s->path);
    if (!request_len) {
        *unavailable = 1;
        *reason = "the URL does not fit one request segment";
        return EFI_UNSUPPORTED;
    }
    tcp_rx_event ev;
    tcp_rx_init(&s->tcp, s->net.rx.our_port, target->port, own_net_random(), (const uint8_t *)s->request,
                request_len, s->store, sizeof s->store, &timing, (uint32_t)clock_ms(), &ev);
    send_event(s, &ev);
    UINT64 done_at = 0, idle_since = 0;
    for (;;) {
        frame_rx_kind kind;
        frame_rx_result r;
        EFI_STATUS status = own_net_poll(&s->net, &kind, &r);
        uint32_t now = (uint32_t)clock_ms();
        if (status == EFI_NOT_READY) {
            /* A quiet moment, not every empty poll: under emulation the queue runs dry
             * between most frames, and an ACK each time would cost more than the data. */
            if (!idle_since)
                idle_since = clock_ms();
            own_hash_step(&s->hash, s->out->data, (UINTN)s->http.received, HASH_STEP);
            if (clock_ms() - idle_since >= FLUSH_IDLE_MS) {
                tcp_rx_flush(&s->tcp, &ev);
                send_event(s, &ev);
            }
        } else if (EFI_ERROR(status)) {
            *unavailable = !s->net.answered;
            *reason = "the NIC driver failed to receive";
            return status;
        } else if (kind == FRAME_RX_TCP) {
            idle_since = 0;
            tcp_rx_receive(&s->tcp, &r.tcp, now, &ev);
            send_event(s, &ev);
            status = feed(s, &ev, reason);
            if (EFI_ERROR(status)) {
                tcp_rx_abort(&s->tcp, &ev);
                send_event(s, &ev);
                return status;
            }
            if (s->http.state == HTTP_RX_DONE && !done_at)
                done_at = clock_ms();
        }
        /* Every pass, frame or not: a flood that keeps the queue full must not stop the clock. */
        if (s->http.state == HTTP_RX_DONE &&
            (s->tcp.state == TCP_RX_CLOSED || clock_ms() - done_at > CLOSE_MS)) {
            tcp_rx_abort(&s->tcp, &ev);  /* an RST only if still open */
            send_event(s, &ev);
            return EFI_SUCCESS;
        }
        if (net_deadline_passed(deadline)) {
            tcp_rx_abort(&s->tcp, &ev);
            send_event(s, &ev);
            *reason = net_deadline_reason(deadline, s->http.received, s->http.length);
            return EFI_TIMEOUT;
        }
        tcp_rx_tick(&s->tcp, now, &ev);
        send_event(s, &ev);
        if (s->tcp.state == TCP_RX_FAILED) {
            if (s->http.state == HTTP_RX_DONE)
                return EFI_SUCCESS;
            if (s->http.state == HTTP_RX_BODY)
                return body_cut(s, reason);
            *reason = s->tcp.failure;
            if (s->tcp.iss == s->tcp.snd_una && !s->net.answered) {
                *unavailable = 1;  /* no answer at all: the firmware's path may fare better */
                return EFI_NO_RESPONSE;
            }
            return s->tcp.failed_by == TCP_RX_BY_TIMEOUT ? EFI_TIMEOUT : EFI_NO_RESPONSE;
        }
    }
}

static void copy_text(char *to, size_t cap, const uint8_t *from, size_t len, const char *otherwise)
{
    if (!len) {
        from = (const uint8_t *)otherwise;
        len = 0;
        while (otherwise[len])
            len++;
    }
    if (len >= cap)
        len = cap - 1;
    CopyMem(to, (void *)from, len);
    to[len] = 0;
}

EFI_STATUS own_http_read(snp_link *link, const own_ipv4 *addr, const char *url,
                         const fetch_deadline *deadline, file_buf *out, net_transfer *info,
                         const char **reason, int *unavailable)
{
    *out = (file_buf){0};
    *info = (net_transfer){.via = "own-http"};
    *unavailable = 0;
    size_t url_len = 0;
    while (url[url_len])
        url_len++;
    url_target target;
    const char *bad = url_ipv4_target((const uint8_t *)url, url_len, &target);
    if (bad || target.authority_len >= HOST_MAX || target.path_len >= STUB_URL_MAX) {
        *unavailable = 1;
        *reason = bad ? bad : "the URL is too long";
        return EFI_UNSUPPORTED;
    }
    session *s = AllocateZeroPool(sizeof *s);
    if (!s) {
        *unavailable = 1;
        *reason = "out of memory";
        return EFI_OUT_OF_RESOURCES;
    }
    s->out = out;
    copy_text(s->host, sizeof s->host, (const uint8_t *)url + target.authority_start, target.authority_len, "");
    copy_text(s->path, sizeof s->path, (const uint8_t *)url + target.path_start, target.path_len, "/");
    http_rx_init(&s->http, (UINT64)(UINTN)-1 / 2);
    own_hash_init(&s->hash);
    UINT64 started = clock_ms();
    EFI_STATUS status;
    const char *unreachable = own_net_open(&s->net, link, addr, target.ip, 0, deadline);
    if (unreachable) {
        *unavailable = 1;
        *reason = unreachable;
        status = EFI_NO_RESPONSE;
    } else {
        status = connect_and_get(s, &target, deadline, reason, unavailable);
        own_net_close(&s->net);
    }
    if (!EFI_ERROR(status))
        own_hash_step(&s->hash, out->data, (UINTN)s->http.received, 0);  /* what idle time left */
    info->ms = clock_ms() - started;
    info->hash_ms = clock_ticks_ms(s->hash.ticks);
    info->nic_ms = clock_ticks_ms(s->net.nic_ticks);
    if (!EFI_ERROR(status)) {
        sha256_final(&s->hash.sha, info->digest);
        info->has_digest = 1;
    } else {
        file_buf_free(out);
    }
    FreePool(s);
    return status;
}
