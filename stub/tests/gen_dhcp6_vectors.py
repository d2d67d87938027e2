"""Turn tests/vectors/dhcp6.json into a C header: each DHCPv6 packet (message type, transaction
id, options) as bytes; the test copies it into a zeroed 1472-byte buffer, as EDK2 keeps it."""

import ipaddress
import json
import sys

from gen_vectors import c_bytes

BUFFER = 1472
ORIGINS = {
    "ack": "DHCP_FROM_ACK",
    "proxy_offer": "DHCP_FROM_PROXY_OFFER",
    "pxe_reply": "DHCP_FROM_PXE_REPLY",
}


def value(text: str) -> bytes:
    return bytes.fromhex(text[4:]) if text.startswith("hex:") else text.encode()


def options(items: list) -> bytes:
    out = b""
    for code, text in items:
        data = value(text)
        out += code.to_bytes(2, "big") + len(data).to_bytes(2, "big") + data
    return out


def build(spec: dict) -> bytes:
    data = bytes([spec.get("type", 7), 1, 2, 3]) + options(spec.get("options", []))
    data += value(spec.get("raw_tail", "hex:")) + options(spec.get("then", []))
    assert len(data) <= BUFFER
    return data


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as source:
        cases = json.load(source)["cases"]
    print("/* Generated from tests/vectors/dhcp6.json by stub/tests/gen_dhcp6_vectors.py. */")
    print("static const struct dhcp6_vector dhcp6_vectors[] = {")
    for case in cases:
        parts = []
        for role in ("ack", "proxy_offer", "pxe_reply"):
            spec = case.get(role)
            if spec is None:
                parts.append("{NULL, 0, 0}")
                continue
            data = build(spec)
            received = 1 if spec.get("received", True) else 0
            parts.append(f"{{{c_bytes(data)}, {len(data)}, {received}}}")
        expect = case["expect"]
        error = c_bytes(expect["error"].encode()) if "error" in expect else "NULL"
        server = ipaddress.IPv6Address(expect.get("server", "::")).packed
        print(
            f"    {{{c_bytes(case['name'].encode())}, {{{', '.join(parts)}}}, {error}, "
            f"{{{', '.join(str(b) for b in server)}}}, {ORIGINS[expect['origin']]}}},"
        )
    print("};")


if __name__ == "__main__":
    main()
