/* The TFTP receiver on a sequence of packets and clock ticks: bytes delivered are contiguous
 * in the buffer, equal to the DATA that carried them, never past the buffer or the tsize.
 * Input: records of [flags][tick step][length][packet]: flags bit 0 picks a foreign source
 * port, bit 1 a tick instead of a packet. The first byte sets the window asked. */
#include <assert.h>
#include <string.h>

#include "tftp_rx.h"

#define CAP 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[CAP];
    if (size < 1)
        return 0;
    tftp_rx rx;
    tftp_rx_init(&rx, buf, CAP, 16, data[0] % 8 + 1, 4, 3, 0);
    size_t delivered = 0, at = 1;
    uint32_t now = 0;
    while (at + 3 <= size) {
        uint8_t flags = data[at], step = data[at + 1];
        size_t len = data[at + 2];
        at += 3;
        if (len > size - at)
            len = size - at;
        const uint8_t *packet = data + at;
        at += len;
        now += step;
        tftp_rx_event ev;
        tftp_rx_state before = rx.state;
        if (flags & 2) {
            tftp_rx_tick(&rx, now, &ev);
            assert(ev.data_len == 0);
        } else {
            uint16_t port = flags & 1 ? 4000 : 3000;
            tftp_rx_receive(&rx, port, packet, len, now, &ev);
            if (ev.data_len) {
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
