/* Frames through the whole receive path as the stub's own network path chains it:
 * frame_rx_take (Ethernet, ARP, IPv4, reassembly, UDP) and then tftp_rx_receive. Input:
 * records of [flags][length, 2 bytes][frame]; flags bit 0 recomputes the IPv4 header checksum
 * and bit 1 zeroes the UDP checksum, so that the fuzzer gets past them; bit 2 advances the
 * clock. The path asked for the server's MAC, so that a reply can teach it. Payloads stay
 * inside the frame or the reassembly buffer, ARP replies inside their buffer, delivered bytes
 * inside the TFTP buffer; a MAC learnt for the server never changes. */
#include <assert.h>
#include <string.h>

#include "frame_rx.h"
#include "inet_csum.h"
#include "tftp_rx.h"

#define CAP 8192

static const uint8_t our_mac[6] = {0x52, 0x54, 0x00, 0x00, 0x00, 0x01};
static const uint8_t our_ip[4] = {10, 0, 2, 15};
static const uint8_t server_ip[4] = {10, 0, 2, 2};

static void fix_checksums(uint8_t *frame, size_t len, uint8_t flags)
{
    if (len < ETHER_HEADER_LEN + IPV4_HEADER_LEN)
        return;
    uint8_t *ip = frame + ETHER_HEADER_LEN;
    size_t hl = (size_t)(ip[0] & 15) * 4;
    if (hl < IPV4_HEADER_LEN || hl > len - ETHER_HEADER_LEN)
        return;
    if (flags & 1) {
        ip[10] = ip[11] = 0;
        uint16_t c = inet_csum(ip, hl);
        ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
    }
    if ((flags & 2) && len - ETHER_HEADER_LEN - hl >= UDP_HEADER_LEN)
        ip[hl + 6] = ip[hl + 7] = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t storage[2 * 4096], buf[CAP], frame[2048], reply[ETHER_MIN_FRAME];
    frame_rx path;
    frame_rx_init(&path, our_mac, our_ip, server_ip, 2000, storage, sizeof storage, 8);
    assert(frame_rx_resolve(&path, server_ip, frame, sizeof frame) == ETHER_MIN_FRAME);
    tftp_rx rx;
    tftp_rx_init(&rx, buf, CAP, 1024, 4, 4, 3, 0);
    uint32_t now = 0;
    size_t at = 0;
    uint8_t server_mac[6];
    int server_mac_known = 0;
    while (at + 3 <= size) {
        uint8_t flags = data[at];
        size_t len = (size_t)data[at + 1] << 8 | data[at + 2];
        at += 3;
        if (len > size - at)
            len = size - at;
        if (len > sizeof frame)
            len = sizeof frame;
        memcpy(frame, data + at, len);
        at += len;
        if (flags & 4)
            now += 3;
        fix_checksums(frame, len, flags);
        frame_rx_result r = {.reply = reply};
        tftp_rx_event ev;
        switch (frame_rx_take(&path, frame, len, now, &r)) {
        case FRAME_RX_ARP_REPLY:
            assert(r.reply == reply && r.reply_len == ETHER_MIN_FRAME);
            break;
        case FRAME_RX_UDP:
            assert((r.payload >= frame && r.payload + r.payload_len <= frame + len) ||
                   (r.payload >= storage && r.payload + r.payload_len <= storage + sizeof storage));
            tftp_rx_receive(&rx, r.src_port, r.payload, r.payload_len, now, &ev);
            if (ev.data_len)
                assert(ev.data + ev.data_len == buf + rx.received && rx.received <= CAP);
            break;
        case FRAME_RX_DROPPED:
            assert(r.reason != NULL);
            break;
        default:
            break;
        }
        tftp_rx_tick(&rx, now, &ev);
        uint8_t mac[6];
        if (arp_cache_lookup(&path.arp, server_ip, mac)) {
            if (!server_mac_known)
                memcpy(server_mac, mac, 6), server_mac_known = 1;
            assert(memcmp(mac, server_mac, 6) == 0);
        }
    }
    return 0;
}
