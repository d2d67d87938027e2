"""The TCG2 crypto-agile event log (TCG PC Client Platform Firmware Profile, section 10), as
Linux exposes it in /sys/kernel/security/tpm0/binary_bios_measurements: parse it and replay
a PCR from it.

The log starts with one TCG_PCR_EVENT in the SHA-1 format whose data is the Spec ID Event
("Spec ID Event03") naming the banks and their digest sizes; every later record is a
TCG_PCR_EVENT2: PCR index, event type, the digests (one per bank, by TPM algorithm id), then
the event data.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from workbench.errors import BadInput

EV_NO_ACTION = 0x3
EV_IPL = 0xD
EV_EVENT_TAG = 0x6
ALGORITHMS = {0x0004: "sha1", 0x000B: "sha256", 0x000C: "sha384", 0x000D: "sha512"}
_SPEC_ID = b"Spec ID Event03\0"


@dataclass(frozen=True)
class LogEvent:
    pcr: int
    type: int
    digests: dict[str, str]  # bank -> hex
    data: bytes

    def utf16_text(self) -> str | None:
        """The event data as UTF-16LE text without its NUL, or None when it is not that."""
        if len(self.data) < 2 or len(self.data) % 2:
            return None
        try:
            text = self.data.decode("utf-16-le")
        except UnicodeDecodeError:
            return None
        return text[:-1] if text.endswith("\0") else text


@dataclass(frozen=True)
class EventLog:
    digest_sizes: dict[str, int]  # bank -> size, from the Spec ID Event
    events: list[LogEvent]

    def replay(self, pcr: int, bank: str = "sha256") -> str:
        """The PCR's value from its events: start at zero, extend with each digest."""
        if bank not in self.digest_sizes:
            raise BadInput(f"the event log has no {bank} bank ({', '.join(self.digest_sizes)})")
        value = bytes(self.digest_sizes[bank])
        for event in self.events:
            if event.pcr == pcr and event.type != EV_NO_ACTION:
                value = hashlib.new(bank, value + bytes.fromhex(event.digests[bank])).digest()
        return value.hex()

    def of_pcr(self, pcr: int) -> list[LogEvent]:
        return [e for e in self.events if e.pcr == pcr and e.type != EV_NO_ACTION]


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def take(self, size: int, what: str) -> bytes:
        if size < 0 or self.offset + size > len(self.data):
            raise BadInput(f"event log: {what} runs past the end (offset {self.offset})")
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def u32(self, what: str) -> int:
        return int(struct.unpack("<I", self.take(4, what))[0])

    def u16(self, what: str) -> int:
        return int(struct.unpack("<H", self.take(2, what))[0])

    @property
    def done(self) -> bool:
        return self.offset >= len(self.data)


def _spec_id(data: bytes) -> dict[int, int]:
    """Algorithm id -> digest size, from the Spec ID Event's data."""
    if not data.startswith(_SPEC_ID):
        raise BadInput("event log: not a crypto-agile log (no 'Spec ID Event03' first)")
    reader = _Reader(data)
    reader.take(len(_SPEC_ID) + 4 + 4, "Spec ID Event header")
    count = reader.u32("algorithm count")
    sizes = {}
    for _ in range(count):
        algorithm = reader.u16("algorithm id")
        sizes[algorithm] = reader.u16("digest size")
    return sizes


def parse(data: bytes) -> EventLog:
    """The events of a crypto-agile log; a clear BadInput for anything else."""
    reader = _Reader(data)
    reader.u32("first PCR index")
    if reader.u32("first event type") != EV_NO_ACTION:
        raise BadInput("event log: the first event is not the Spec ID Event (EV_NO_ACTION)")
    reader.take(20, "first SHA-1 digest")
    sizes = _spec_id(reader.take(reader.u32("first event size"), "Spec ID Event"))
    events = []
    # Trailing zero bytes (a preallocated log area) end the log.
    while not reader.done and any(data[reader.offset : reader.offset + 8]):
        pcr = reader.u32("PCR index")
        kind = reader.u32("event type")
        digests = {}
        for _ in range(reader.u32("digest count")):
            algorithm = reader.u16("digest algorithm")
            if algorithm not in sizes:
                raise BadInput(
                    f"event log: digest algorithm {algorithm:#06x} not in the Spec ID Event"
                )
            digest = reader.take(sizes[algorithm], "digest")
            digests[ALGORITHMS.get(algorithm, f"alg-{algorithm:#06x}")] = digest.hex()
        events.append(
            LogEvent(pcr, kind, digests, reader.take(reader.u32("event size"), "event data"))
        )
    banks = {ALGORITHMS.get(a, f"alg-{a:#06x}"): size for a, size in sizes.items()}
    return EventLog(banks, events)
