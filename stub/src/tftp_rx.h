/* The receiving side of a TFTP read (RFC 1350) with options (RFC 2347 OACK, 2348 blksize,
 * 2349 tsize, 7440 windowsize), as a state machine with no clock and no I/O of its own: the
 * caller feeds it the UDP payloads that came from the server's address to our port, and the
 * time; it answers with the bytes it delivered (in order, each once: hash exactly these) and
 * the one packet to send, if any. It never writes past the caller's buffer.
 * Pure: no EFI calls, no allocation. */
#ifndef STUB_TFTP_RX_H
#define STUB_TFTP_RX_H

#include <stddef.h>
#include <stdint.h>

#include "textbuf.h"

#define TFTP_OP_RRQ 1
#define TFTP_OP_DATA 3
#define TFTP_OP_ACK 4
#define TFTP_OP_ERROR 5
#define TFTP_OP_OACK 6
#define TFTP_PORT 69
#define TFTP_DEFAULT_BLKSIZE 512
#define TFTP_ERROR_DISK_FULL 3
#define TFTP_ERROR_ILLEGAL 4
#define TFTP_ERROR_UNKNOWN_TID 5
#define TFTP_ERROR_OPTIONS 8
#define TFTP_RX_MESSAGE_MAX 128

typedef enum { TFTP_RX_REQUESTED, TFTP_RX_RECEIVING, TFTP_RX_DONE, TFTP_RX_FAILED } tftp_rx_state;

typedef enum {
    TFTP_RX_SEND_NOTHING,
    TFTP_RX_SEND_RRQ,   /* the request again, to port 69 (tftp_rx_build_rrq) */
    TFTP_RX_SEND_ACK,   /* ACK ack_block to port (tftp_build_ack) */
    TFTP_RX_SEND_ERROR, /* ERROR error_code, error_message to port (tftp_build_error) */
} tftp_rx_send;

typedef struct {
    const uint8_t *data; /* bytes just delivered into the buffer, in file order */
    size_t data_len;
    tftp_rx_send send;
    uint16_t port;
    uint16_t ack_block;
    uint16_t error_code;
    const char *error_message;
    const char *ignored; /* why the packet changed nothing (duplicate, foreign port, ...) */
} tftp_rx_event;

typedef struct {
    uint8_t *buf;
    size_t cap;
    uint32_t blksize_asked, windowsize_asked; /* 0: not asked */
    uint32_t blksize, windowsize;
    int tsize_known;
    uint64_t tsize;
    tftp_rx_state state;
    int tid_known;
    uint16_t tid;         /* the server's port for this transfer */
    size_t received;
    uint64_t blocks;      /* in-order blocks delivered; the wire number is this mod 65536 */
    uint32_t since_ack;   /* in-order blocks since the last ACK */
    int gap_acked;        /* a gap was ACKed; no more ACKs for it until progress */
    uint32_t timeout;     /* ticks without progress before the last ACK (or RRQ) is resent */
    uint32_t last_activity; /* the last progress or retry */
    unsigned retries, max_retries;
    const char *failure;  /* why the transfer failed */
    int timed_out;        /* the failure is the server's silence (retries ran out) */
    int server_error;     /* the failure is the server's ERROR packet: */
    uint16_t error_code;
    uint8_t error_message[TFTP_RX_MESSAGE_MAX];
    size_t error_message_len;
} tftp_rx;

/* blksize 0 or 512 and windowsize 0 or 1 are not asked for; blksize must be 8..65464 and
 * windowsize 1..65535 otherwise (clamped). tsize is always asked (as 0). */
void tftp_rx_init(tftp_rx *rx, uint8_t *buf, size_t cap, uint32_t blksize, uint32_t windowsize,
                  uint32_t timeout, unsigned max_retries, uint32_t now);

/* Hand over the buffer once the file's size is known, for a caller that allocates from the
 * OACK's tsize (it reads the OACK with tftp_oack_parse first, then feeds it in). Only before
 * the transfer has begun (state REQUESTED); returns 1 when taken, else 0. */
int tftp_rx_attach(tftp_rx *rx, uint8_t *buf, size_t cap);

/* The RRQ (octet mode, with the options of tftp_rx_init); 0 when it does not fit or the name
 * is empty. */
size_t tftp_rx_build_rrq(const tftp_rx *rx, const char *name, uint8_t *out, size_t cap);
size_t tftp_build_ack(uint8_t *out, size_t cap, uint16_t block);
size_t tftp_build_error(uint8_t *out, size_t cap, uint16_t code, const char *message);

/* A UDP payload that came from the server's address, from src_port. */
tftp_rx_state tftp_rx_receive(tftp_rx *rx, uint16_t src_port, const uint8_t *packet, size_t len,
                              uint32_t now, tftp_rx_event *ev);

/* Time passing: after `timeout` ticks without progress, the RRQ or the last ACK again; after
 * max_retries of those in a row, the transfer fails. Progress is the first OACK or a new
 * block in order, nothing else: repeated OACKs, duplicates, blocks after a gap or outside the
 * window, packets from foreign ports never postpone the clock, so a transfer that delivers
 * nothing fails (max_retries + 1) * timeout ticks after its last progress (when ticked). */
tftp_rx_state tftp_rx_tick(tftp_rx *rx, uint32_t now, tftp_rx_event *ev);

/* Why a failed transfer failed, in words (the server's ERROR through tftp_error_describe). */
void tftp_rx_describe_failure(const tftp_rx *rx, text_buf *tb);

#endif
