"""Turn tests/vectors/dhcp.json into a C header: each packet built into a 1472-byte buffer, as
EDK2's PXE Base Code keeps it (no length), plus the length dhcp_packet_length must measure."""

import json
import sys

from gen_vectors import c_bytes

BUFFER = 1472
COOKIE = bytes([99, 130, 83, 99])
ORIGINS = {"ack": "DHCP_FROM_ACK", "proxy_offer": "DHCP_FROM_PROXY_OFFER", "pxe_reply": "DHCP_FROM_PXE_REPLY"}
FIELDS = {"siaddr": "DHCP_SERVER_SIADDR", "option54": "DHCP_SERVER_OPTION_54"}


def value(text: str) -> bytes:
    if text.startswith("hex:"):
        return bytes.fromhex(text[4:].replace(" ", ""))
    if text.count(".") == 3:
        return bytes(int(x) for x in text.split("."))
    return bytes.fromhex(text)


def options(items: list) -> bytes:
    out = b""
    for item in items:
        out += bytes([item[0]]) if len(item) == 1 else bytes([item[0], len(value(item[1]))]) + value(item[1])
    return out


def build(spec: dict) -> tuple[bytes, int]:
    data = bytearray(236)
    data[0] = 2  # BOOTREPLY
    data[20:24] = value(spec["siaddr"])
    file = spec.get("file", "").encode()
    data[108 : 108 + len(file)] = file
    if spec.get("cookie", True):
        data += COOKIE + options(spec.get("options", []))
        if spec.get("fill_to_end"):
            code, length = spec["tail_option"]
            data += bytes([0] * (BUFFER - len(data) - 2 - length + 1)) + bytes([code, length])
        elif spec.get("end", True):
            data += b"\xff" + options(spec.get("after_end", []))
    data += value(spec["raw_tail"]) if "raw_tail" in spec else b""
    assert len(data) <= BUFFER
    return bytes(data), spec.get("length", len(data) - len(options(spec.get("after_end", [])))
                                       if spec.get("cookie", True) else 236)


def main() -> None:
    cases = json.load(open(sys.argv[1], encoding="utf-8"))["cases"]
    print("/* Generated from tests/vectors/dhcp.json by stub/tests/gen_dhcp_vectors.py. */")
    print("static const struct dhcp_vector dhcp_vectors[] = {")
    for case in cases:
        parts = []
        for role in ("ack", "proxy_offer", "pxe_reply"):
            spec = case.get(role)
            if spec is None:
                parts.append("{NULL, 0, 0, 0}")
                continue
            data, length = build(spec)
            parts.append(f"{{{c_bytes(data)}, {len(data)}, {length}, {1 if spec.get('received', True) else 0}}}")
        expect = case["expect"]
        error = c_bytes(expect["error"].encode()) if "error" in expect else "NULL"
        server = expect.get("server", "0.0.0.0").split(".")
        print(f"    {{{c_bytes(case['name'].encode())}, {{{', '.join(parts)}}}, {error}, "
              f"{{{', '.join(server)}}}, {ORIGINS.get(expect.get('origin'), 0)}, "
              f"{FIELDS.get(expect.get('field'), 0)}}},")
    print("};")


if __name__ == "__main__":
    main()
