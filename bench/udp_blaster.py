"""The sender for the network probe (stub/tests/efi/netprobe.c); runs inside the lab's network
namespace (bench_layers starts it there with nsenter), never outside it.

A request `NETPROBE <layer> <burst> <count> <size>` gets `count` datagrams of `size` bytes back
to where it came from, each starting with b"NPB1", the burst id and its index (big-endian
32-bit). One JSON line per burst on stdout says how long the sending took; another per layer
counts the ICMP port-unreachable messages the guest sent us (the firmware's UDP4 answering
datagrams no child of it asked for).

Run: python -m bench.udp_blaster [--port 9999]
"""

from __future__ import annotations

import argparse
import json
import select
import socket
import struct
import time

MAGIC = b"NPB1"
MAX_COUNT = 64
MAX_SIZE = 1472
ICMP_UNREACHABLE, PORT_UNREACHABLE = 3, 3


def datagrams(burst: int, count: int, size: int) -> list[bytes]:
    pad = bytes(max(0, size - 12))
    return [MAGIC + struct.pack(">II", burst, index) + pad for index in range(count)]


def parse_request(data: bytes) -> tuple[str, int, int, int] | None:
    words = data.decode("ascii", "replace").split()
    if len(words) != 5 or words[0] != "NETPROBE" or not all(w.isdigit() for w in words[2:]):
        return None
    count, size = int(words[3]), int(words[4])
    if not (1 <= count <= MAX_COUNT and 12 <= size <= MAX_SIZE):
        return None
    return words[1], int(words[2]), count, size


def is_port_unreachable(packet: bytes) -> bool:
    """An ICMP port unreachable, read from a raw socket (the IPv4 header comes first)."""
    header = (packet[0] & 0x0F) * 4 if packet else 0
    return (
        len(packet) >= header + 2
        and packet[header] == ICMP_UNREACHABLE
        and (packet[header + 1] == PORT_UNREACHABLE)
    )


def emit(record: dict[str, object]) -> None:
    print(json.dumps(record), flush=True)


def serve(port: int) -> None:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
    udp.bind(("0.0.0.0", port))
    icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    emit({"ready": port})
    layer, unreachable = "", 0
    while True:
        readable, _, _ = select.select([udp, icmp], [], [])
        if icmp in readable and is_port_unreachable(icmp.recv(2048)):
            unreachable += 1
        if udp not in readable:
            continue
        data, peer = udp.recvfrom(2048)
        request = parse_request(data)
        if request is None:
            continue
        name, burst, count, size = request
        if name != layer:
            if layer:
                emit({"layer": layer, "icmp_port_unreachable": unreachable})
            layer, unreachable = name, 0
        packets = datagrams(burst, count, size)
        started = time.perf_counter()
        for packet in packets:
            udp.sendto(packet, peer)
        took = time.perf_counter() - started
        emit(
            {
                "layer": name,
                "burst": burst,
                "count": count,
                "size": size,
                "send_us": round(took * 1e6, 1),
                "icmp_port_unreachable": unreachable,
            }
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9999)
    serve(parser.parse_args().port)


if __name__ == "__main__":
    main()
