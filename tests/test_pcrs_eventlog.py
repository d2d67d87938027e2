"""workbench.eventlog: the TCG2 crypto-agile log Linux exposes, parsed and replayed, on logs
built here byte by byte (the boot tests read a real one from the guest)."""

from __future__ import annotations

import hashlib
import struct

import pytest

from workbench.errors import BadInput
from workbench.eventlog import EV_IPL, EV_NO_ACTION, parse

SHA1, SHA256 = 0x0004, 0x000B


def spec_id_event(algorithms: list[tuple[int, int]]) -> bytes:
    data = b"Spec ID Event03\0" + struct.pack("<IBBBB", 0, 0, 2, 0, 2)
    data += struct.pack("<I", len(algorithms))
    data += b"".join(struct.pack("<HH", alg, size) for alg, size in algorithms)
    data += b"\0"  # vendorInfoSize
    return struct.pack("<II", 0, EV_NO_ACTION) + bytes(20) + struct.pack("<I", len(data)) + data


def event2(pcr: int, kind: int, measured: bytes, data: bytes) -> bytes:
    digests = [(SHA1, hashlib.sha1(measured).digest()), (SHA256, hashlib.sha256(measured).digest())]
    out = struct.pack("<III", pcr, kind, len(digests))
    out += b"".join(struct.pack("<H", alg) + digest for alg, digest in digests)
    return out + struct.pack("<I", len(data)) + data


def sample_log() -> bytes:
    name = ".linux\0".encode("utf-16-le")
    return (
        spec_id_event([(SHA1, 20), (SHA256, 32)])
        + event2(0, 0x80000008, b"firmware", b"blob")
        + event2(11, EV_IPL, b".linux\0", name)
        + event2(11, EV_IPL, b"kernel bytes", name)
        + event2(11, EV_NO_ACTION, b"ignored", b"")
    )


def test_parse_and_replay() -> None:
    log = parse(sample_log())
    assert log.digest_sizes == {"sha1": 20, "sha256": 32}
    assert len(log.events) == 4
    pcr11 = log.of_pcr(11)
    assert [e.utf16_text() for e in pcr11] == [".linux", ".linux"]
    assert pcr11[1].digests["sha256"] == hashlib.sha256(b"kernel bytes").hexdigest()
    value = bytes(32)
    for measured in (b".linux\0", b"kernel bytes"):
        value = hashlib.sha256(value + hashlib.sha256(measured).digest()).digest()
    assert log.replay(11, "sha256") == value.hex()
    assert log.replay(12, "sha1") == "00" * 20


def test_trailing_zeros_end_the_log() -> None:
    assert len(parse(sample_log() + bytes(64)).events) == 4


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "runs past the end"),
        (struct.pack("<II", 0, 1) + bytes(40), "not the Spec ID Event"),
        (spec_id_event([(SHA1, 20)])[:-3], "runs past the end"),
        (spec_id_event([(SHA1, 20)]) + event2(11, EV_IPL, b"x", b"")[:30], "runs past the end"),
        (spec_id_event([(SHA1, 20)]) + event2(11, EV_IPL, b"x", b""), "not in the Spec ID"),
    ],
)
def test_bad_logs_are_one_line_errors(data: bytes, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        parse(data)


def test_a_bank_the_log_lacks() -> None:
    with pytest.raises(BadInput, match="no sha384 bank"):
        parse(sample_log()).replay(11, "sha384")


def test_utf16_text_of_other_data() -> None:
    odd = spec_id_event([(SHA1, 20), (SHA256, 32)]) + event2(11, EV_IPL, b"x", b"abc")
    assert parse(odd).events[0].utf16_text() is None
