/* frame_rx's TCP branch end to end: flag bits in the first byte make the frame ours (addresses, protocol 6) and fix the IPv4 header and TCP checksums, so the fuzzer gets past them; the segment found must lie inside the frame and inside the IP datagram. */
#include <assert.h>
#include <string.h>
#include "frame_rx.h"
#include "inet_csum.h"
static const uint8_t our_mac[6] = {0x52, 0x54, 0, 0, 0, 1};
static const uint8_t our_ip[4] = {10, 0, 2, 15};
static const uint8_t server_ip[4] = {10, 0, 2, 2};
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t storage[16 * 2048], frame[1600], reply[64];
    static frame_rx rx;
    if (size < 3 || size > sizeof frame + 1)
        return 0;
    frame_rx_init(&rx, our_mac, our_ip, server_ip, 2000, storage, sizeof storage, 100);
    uint8_t flags = data[0];
    size_t len = size - 1;
    memcpy(frame, data + 1, len);
    if (len >= 34 && (flags & 1)) {
        memcpy(frame, our_mac, 6);
        frame[12] = 8, frame[13] = 0;
        uint8_t *ip = frame + 14;
        ip[0] = (uint8_t)(0x40 | (ip[0] & 15));
        if ((ip[0] & 15) < 5) ip[0] = 0x45;
        memcpy(ip + 12, server_ip, 4);
        memcpy(ip + 16, our_ip, 4);
        ip[9] = 6;
        if (flags & 2) { ip[6] &= 0x1f; ip[7] = 0; ip[6] &= (uint8_t)~0x20; }
        size_t hl = (size_t)(ip[0] & 15) * 4;
        size_t avail = len - 14;
        if (flags & 4) { ip[2] = (uint8_t)(avail >> 8); ip[3] = (uint8_t)avail; }
        ip[8] |= 1;
        if (hl <= avail) {
            ip[10] = ip[11] = 0;
            uint16_t c = inet_csum(ip, hl);
            ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
            size_t total = (size_t)(ip[2] << 8 | ip[3]);
            if (total >= hl && total <= avail && total - hl >= 18) {
                uint8_t *t = ip + hl;
                size_t tl = total - hl;
                t[2] = 0x07, t[3] = 0xd0;
                uint8_t pseudo[12] = {10, 0, 2, 2, 10, 0, 2, 15, 0, 6, (uint8_t)(tl >> 8), (uint8_t)tl};
                t[16] = t[17] = 0;
                uint16_t c2 = inet_csum_finish(inet_csum_add(inet_csum_add(0, pseudo, 12), t, tl));
                t[16] = (uint8_t)(c2 >> 8), t[17] = (uint8_t)c2;
            }
        }
    }
    frame_rx_result r = {.reply = reply};
    frame_rx_kind k = frame_rx_take(&rx, frame, len, 0, &r);
    if (k == FRAME_RX_TCP) {
        const uint8_t *ipp = frame + 14;
        assert(r.tcp.dst_port == 2000 && r.tcp.src_port && r.src_port == r.tcp.src_port);
        assert(r.tcp.header_len >= 20 && r.tcp.header_len <= 60);
        assert(r.tcp.payload >= frame && r.tcp.payload + r.tcp.payload_len <= frame + len);
        assert(r.payload == r.tcp.payload && r.payload_len == r.tcp.payload_len);
        size_t total = (size_t)(ipp[2] << 8 | ipp[3]);
        assert(r.tcp.payload + r.tcp.payload_len == ipp + total);
        assert(!(ipp[6] & 0x20) && !((ipp[6] & 0x1f) | ipp[7]));
        assert(!memcmp(ipp + 12, server_ip, 4));
    }
    return 0;
}
