/* One TCP client connection (RFC 9293), receive side, as a state machine with no clock and no
 * I/O of its own: it opens (SYN with MSS 1460 and window scale for a 256 KiB window), sends one
 * small request (one segment, resent until ACKed), and hands the server's byte stream to the
 * caller in order, each byte exactly once: in-order data straight from the segment, data
 * beyond a gap from a store of caller-provided slots as large as the window. Each call answers with at most one
 * segment to send. ACKs: every second full segment, at once on a gap (so the server
 * retransmits fast) or when a gap fills, and when the caller says its receive queue is empty
 * (tcp_rx_flush). The server's FIN ends the stream; we ACK it with our own FIN.
 * Refused: segments from another port pair; a SYN-ACK that does not ACK exactly our SYN; an
 * RST whose sequence number is not exactly the next expected one (in window: a challenge ACK,
 * RFC 5961; outside: dropped); a SYN once synchronized (challenge ACK); an ACK of bytes never
 * sent; data outside the window or already received (ACKed again, dropped); out-of-order data
 * beyond the store (dropped, dup-ACKed). Fails after max_retries unanswered retransmissions or
 * idle_ms without progress. Pure: no EFI calls, no allocation. */
#ifndef STUB_TCP_RX_H
#define STUB_TCP_RX_H

#include <stddef.h>
#include <stdint.h>

#include "tcp.h"

#define TCP_RX_MSS 1460
#define TCP_RX_WSCALE 3
#define TCP_RX_WINDOW (256u * 1024) /* what we advertise when the server scales windows */
#define TCP_RX_SLOT_BYTES TCP_RX_MSS /* one out-of-order segment (longer ones are cut) */
/* Enough to keep the whole advertised window beyond a lost segment: without SACK, a segment
 * dropped here would cost the server one more round trip each (NewReno's partial ACKs). */
#define TCP_RX_SLOTS_MAX (TCP_RX_WINDOW / TCP_RX_MSS + 1)
#define TCP_RX_REQUEST_MAX TCP_RX_MSS

typedef enum {
    TCP_RX_SYN_SENT,
    TCP_RX_ESTABLISHED,
    TCP_RX_LAST_ACK, /* the server's FIN came and ours is out: the stream is complete */
    TCP_RX_CLOSED,   /* our FIN was ACKed (or given up on), or the caller aborted */
    TCP_RX_FAILED,   /* failure says why */
} tcp_rx_state;

/* What ended a FAILED connection, for the caller's status (words are in `failure`). */
typedef enum {
    TCP_RX_NOT_FAILED,
    TCP_RX_BY_RESET,    /* the server's RST */
    TCP_RX_BY_TIMEOUT,  /* no progress (or no SYN-ACK) within the idle limit */
    TCP_RX_BY_RETRIES,  /* retransmissions exhausted */
    TCP_RX_BY_REQUEST,  /* ours: a request or port the connection cannot carry */
} tcp_rx_failure;

typedef struct {
    const uint8_t *data;
    size_t len;
} tcp_rx_piece;

typedef struct {
    /* Stream bytes delivered by this call, in order: in the segment or in the store, valid
     * until the next call. */
    tcp_rx_piece pieces[1 + TCP_RX_SLOTS_MAX];
    size_t piece_count;
    size_t data_len; /* the pieces' total */
    int end_of_stream; /* the server's FIN: every byte it sent has been delivered */
    int send;          /* a segment to send: segment, with payload (the request) */
    tcp_header_out segment;
    const uint8_t *payload;
    size_t payload_len;
    const char *ignored; /* why the segment changed nothing */
} tcp_rx_event;

typedef struct {
    uint32_t rto_ms;     /* the first retransmission timeout (SYN, request, FIN) */
    uint32_t rto_max_ms; /* doubling stops here */
    unsigned max_retries;
    uint32_t idle_ms; /* no progress for this long: failed */
} tcp_rx_timing;

typedef struct {
    uint32_t seq;
    uint16_t len; /* 0: free */
} tcp_rx_slot;

typedef struct {
    uint16_t our_port, server_port;
    tcp_rx_state state;
    int synchronized; /* the server knows the connection: an abort sends RST */
    uint32_t iss, snd_una, snd_nxt;
    uint32_t rcv_nxt;
    uint32_t rcv_wnd;
    uint8_t rcv_wscale; /* 0 unless the server's SYN-ACK agreed to scaling */
    uint16_t server_mss;
    const uint8_t *request;
    size_t request_len;
    int fin_known;
    uint32_t fin_seq; /* where the server's FIN sits */
    uint8_t *store;
    unsigned slot_count;
    tcp_rx_slot slots[TCP_RX_SLOTS_MAX];
    uint32_t unacked_bytes;   /* delivered since our last ACK */
    uint32_t largest_segment; /* the server's full segment size, as seen */
    int ack_pending;
    tcp_rx_timing timing;
    int timer_on;
    uint32_t timer_start, rto;
    unsigned retries;
    uint32_t last_progress;
    uint64_t delivered;
    const char *failure;
    tcp_rx_failure failed_by;
} tcp_rx;

/* Starts the connection: ev gets the SYN. request[0, request_len) stays the caller's and must
 * live until it is ACKed; at most TCP_RX_REQUEST_MAX bytes (else FAILED). store holds
 * store_len / TCP_RX_SLOT_BYTES out-of-order segments (at most TCP_RX_SLOTS_MAX; NULL: none).
 * iss should be unpredictable (RFC 6528). */
tcp_rx_state tcp_rx_init(tcp_rx *rx, uint16_t our_port, uint16_t server_port, uint32_t iss,
                         const uint8_t *request, size_t request_len, uint8_t *store,
                         size_t store_len, const tcp_rx_timing *timing, uint32_t now,
                         tcp_rx_event *ev);

/* A segment that came from the server's address to ours (frame_rx checked both and the
 * checksum). */
tcp_rx_state tcp_rx_receive(tcp_rx *rx, const tcp_segment *seg, uint32_t now, tcp_rx_event *ev);

/* Time passing: retransmission (with doubling timeouts), the idle limit, then a pending ACK. */
tcp_rx_state tcp_rx_tick(tcp_rx *rx, uint32_t now, tcp_rx_event *ev);

/* The caller's receive queue is empty: the pending ACK, if any, goes out now. */
tcp_rx_state tcp_rx_flush(tcp_rx *rx, tcp_rx_event *ev);

/* Give up on the connection (the body is complete, or the caller failed): an RST when the
 * server knows the connection; CLOSED unless it had already FAILED. */
tcp_rx_state tcp_rx_abort(tcp_rx *rx, tcp_rx_event *ev);

#endif
