/* The TFTP receiver on a sequence of packets and clock ticks: bytes delivered are contiguous
 * in the buffer, equal to the DATA that carried them, never past the buffer or the tsize;
 * blocks are taken strictly in order (the next number, with rollover); and whatever comes in,
 * a transfer that makes no progress for (max_retries + 1) * timeout ticks is over. Input:
 * records of [flags][tick step][length][packet]: the clock advances one tick at a time by
 * the step, the receiver ticked at each; then flags bit 0 picks a foreign source port, bit 1
 * no packet at all. The first byte sets the window asked. */
#include <assert.h>
#include <string.h>

#include "tftp_rx.h"

#define CAP 4096
#define TIMEOUT 4
#define MAX_RETRIES 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[CAP];
    if (size < 1)
        return 0;
    tftp_rx rx;
    tftp_rx_init(&rx, buf, CAP, 16, data[0] % 8 + 1, TIMEOUT, MAX_RETRIES, 0);
    size_t delivered = 0, at = 1;
    uint32_t now = 0, progress_at = 0; /* the start, the OACK, the last block in order */
    while (at + 3 <= size) {
        uint8_t flags = data[at], step = data[at + 1];
        size_t len = data[at + 2];
        at += 3;
        if (len > size - at)
            len = size - at;
        const uint8_t *packet = data + at;
        at += len;
        tftp_rx_event ev = {0};
        for (uint8_t i = 0; i < step; i++) {
            now++;
            tftp_rx_state before = rx.state;
            tftp_rx_tick(&rx, now, &ev);
            assert(ev.data_len == 0);
            if (before == TFTP_RX_DONE || before == TFTP_RX_FAILED)
                assert(rx.state == before);
            /* Liveness: no packet can keep a transfer without progress going. */
            if (rx.state == TFTP_RX_REQUESTED || rx.state == TFTP_RX_RECEIVING)
                assert(now - progress_at < (MAX_RETRIES + 1) * TIMEOUT);
        }
        tftp_rx_state before = rx.state;
        if (!(flags & 2)) {
            uint16_t port = flags & 1 ? 4000 : 3000;
            uint64_t blocks = rx.blocks;
            tftp_rx_receive(&rx, port, packet, len, now, &ev);
            if (rx.blocks != blocks) {
                /* In order: exactly the next block, its number the next one modulo 65536. */
                assert(rx.blocks == blocks + 1 && len >= 4 && packet[1] == TFTP_OP_DATA);
                assert((uint16_t)(packet[2] << 8 | packet[3]) == (uint16_t)(blocks + 1));
                progress_at = now;
            }
            if (before == TFTP_RX_REQUESTED && rx.state == TFTP_RX_RECEIVING)
                progress_at = now;
            if (ev.data_len) {
                assert(rx.blocks == blocks + 1);
                assert(ev.data == buf + delivered);
                assert(len >= 4 && ev.data_len == len - 4 && packet[1] == TFTP_OP_DATA);
                assert(memcmp(ev.data, packet + 4, ev.data_len) == 0);
                delivered += ev.data_len;
            }
            if (ev.send == TFTP_RX_SEND_ERROR && ev.error_code == TFTP_ERROR_UNKNOWN_TID)
                assert(rx.tid_known && ev.port != rx.tid);
        }
        assert(delivered == rx.received && rx.received <= CAP);
        assert(rx.blksize == TFTP_DEFAULT_BLKSIZE || (rx.blksize >= 8 && rx.blksize <= 16));
        if (rx.tsize_known && rx.state != TFTP_RX_FAILED)
            assert(rx.received <= rx.tsize);
        if (before == TFTP_RX_DONE || before == TFTP_RX_FAILED)
            assert(rx.state == before);
        if (ev.send == TFTP_RX_SEND_ACK)
            assert(ev.ack_block == (uint16_t)rx.blocks && ev.port == rx.tid);
    }
    return 0;
}
