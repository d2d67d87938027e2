/* Boot server choice from the DHCP ACK / ProxyOffer / PXE reply: the shared vectors in
 * tests/vectors/dhcp.json, then bounds on short and truncated packets. */
#include <stdlib.h>

#include "check.h"
#include "dhcp.h"

#define BUFFER 1472  /* EFI_PXE_BASE_CODE_PACKET */

struct packet_vector {
    const char *bytes;
    size_t built;
    size_t length;
    int received;
};

struct dhcp_vector {
    const char *name;
    struct packet_vector packets[3];  /* ACK, ProxyOffer, PXE reply */
    const char *error;
    uint8_t server[4];
    dhcp_origin origin;
    dhcp_server_field field;
};

#include "dhcp_vectors.h"

static void run_vector(const struct dhcp_vector *v)
{
    static uint8_t buffers[3][BUFFER];
    dhcp_packet packets[3];
    for (int i = 0; i < 3; i++) {
        const struct packet_vector *p = &v->packets[i];
        memset(buffers[i], 0, BUFFER);
        if (p->bytes)
            memcpy(buffers[i], p->bytes, p->built);
        size_t length = dhcp_packet_length(buffers[i], BUFFER);
        if (p->bytes && length != p->length)
            printf("  vector \"%s\", packet %d: length %zu, want %zu\n", v->name, i, length, p->length);
        CHECK(!p->bytes || length == p->length);
        packets[i] = (dhcp_packet){buffers[i], length, p->bytes && p->received};
    }
    uint8_t server[4];
    dhcp_origin origin = DHCP_FROM_ACK;
    dhcp_server_field field = DHCP_SERVER_SIADDR;
    const char *reason = dhcp_boot_server(&packets[0], &packets[1], &packets[2], server, &origin, &field);
    if ((reason == NULL) != (v->error == NULL))
        printf("  vector \"%s\"\n", v->name);
    CHECK_STR(reason, v->error);
    if (!v->error) {
        CHECK(memcmp(server, v->server, 4) == 0);
        CHECK(origin == v->origin);
        CHECK(field == v->field);
    }
}

/* Exact-size heap copies: ASan catches any read past a packet's real length. */
static void test_bounds(void)
{
    static uint8_t full[BUFFER];
    memset(full, 0, BUFFER);
    full[0] = 2;
    full[236] = 99, full[237] = 130, full[238] = 83, full[239] = 99;
    full[240] = 53, full[241] = 1, full[242] = 5;
    full[243] = 54, full[244] = 4, full[245] = 10, full[246] = 0, full[247] = 2, full[248] = 9;
    full[249] = 255;
    for (size_t len = 0; len <= 250; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, full, len);
        size_t measured = dhcp_packet_length(copy, len);
        CHECK(measured <= len);
        dhcp_packet ack = {copy, measured, 1};
        uint8_t server[4];
        dhcp_origin origin;
        dhcp_server_field field;
        const char *reason = dhcp_boot_server(&ack, NULL, NULL, server, &origin, &field);
        /* Option 54 is usable only once all of it is inside the packet. */
        CHECK((reason == NULL) == (len >= 249));
        free(copy);
    }
    CHECK(dhcp_packet_length(NULL, BUFFER) == 0);
    CHECK(dhcp_packet_length(full, 100) == 0);

    /* A short ProxyOffer that was received is an error, not a silent fall back to the ACK. */
    dhcp_packet ack = {full, 250, 1}, short_proxy = {full, 100, 1};
    uint8_t server[4];
    dhcp_origin origin;
    dhcp_server_field field;
    CHECK_STR(dhcp_boot_server(&ack, &short_proxy, NULL, server, &origin, &field), "ProxyOffer too short");
    CHECK_STR(dhcp_boot_server(NULL, NULL, NULL, server, &origin, &field), "no DHCP ACK received");

    size_t len;
    dhcp_packet none = {NULL, 0, 0};
    CHECK(dhcp_find_option(&none, 54, &len) == NULL && len == 0);
}

void test_dhcp(void)
{
    for (size_t i = 0; i < sizeof dhcp_vectors / sizeof dhcp_vectors[0]; i++)
        run_vector(&dhcp_vectors[i]);
    test_bounds();
}
