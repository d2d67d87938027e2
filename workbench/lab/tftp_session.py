"""One TFTP read transfer: option negotiation, then DATA sent in RFC 7440 windows.

Packets are tftpy's packet classes (parsed by its TftpPacketFactory, encoded by the packets
themselves); the transfer loop is ours, so windows, block-number rollover and faults are too.

- RFC 2347/2348/2349: `blksize` (8..65464, capped by the server), `tsize` (answered with the
  file's size), `timeout` are accepted when asked for; unknown options are ignored. RFC 2349
  lets a server only take a client's `timeout` as it is or leave it out of the OACK: one above
  the server's cap (MAX_CLIENT_TIMEOUT, 5 s) is left out and the server's own timeout holds,
  so a silent client holds its session for (retries + 1) x 5 s at most, not 25 minutes.
- RFC 7440: `windowsize` up to the server's cap. The server sends a whole window, then waits
  for one ACK. An ACK for a block inside the window moves the window to the block after it
  (the client saw a gap), and so does the ACK of the block just before the window (the gap
  was at its first block); an older ACK, or any duplicate in lock-step, is stale and ignored
  (no Sorcerer's Apprentice). A timeout resends from the first unacknowledged block, or from
  an older block when the client acknowledged that one during the silence.
- Block numbers roll over from 65535 to 0, as tftpy, atftp and EDK2 expect.
- A client that asks for no option gets plain RFC 1350: DATA 1 straight away, lock-step.
- The file is read block by block at its offset (os.pread): memory stays flat whatever its size.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tftpy.TftpPacketFactory import TftpPacketFactory
from tftpy.TftpPacketTypes import (
    TftpPacketACK,
    TftpPacketDAT,
    TftpPacketERR,
    TftpPacketOACK,
)

DEFAULT_BLKSIZE = 512
MIN_BLKSIZE = 8
MAX_BLKSIZE = 65464
MAX_TIMEOUT = 255
# The longest client `timeout` option agreed to (atftpd's default retry timeout is 5 s).
MAX_CLIENT_TIMEOUT = 5
# TFTP error codes (RFC 1350, RFC 2347).
ERROR_NOT_DEFINED = 0
ERROR_FILE_NOT_FOUND = 1
ERROR_ACCESS_VIOLATION = 2
ERROR_ILLEGAL_OPERATION = 4
ERROR_UNKNOWN_TID = 5
ERROR_OPTION_REFUSED = 8
ERROR_MESSAGES = {
    ERROR_FILE_NOT_FOUND: "File not found",
    ERROR_ACCESS_VIOLATION: "Access violation",
    ERROR_ILLEGAL_OPERATION: "Illegal TFTP operation",
    ERROR_UNKNOWN_TID: "Unknown transfer ID",
    ERROR_OPTION_REFUSED: "Failed to negotiate options",
}
ACK_OPCODE = b"\x00\x04"
ACK_LENGTH = 4
STOP_POLL = 0.25  # how often a waiting transfer looks at the server's stop flag


@dataclass
class Negotiated:
    """What the transfer runs with, and which options the OACK carries."""

    blksize: int = DEFAULT_BLKSIZE
    window: int = 1
    timeout: float = 1.0
    oack: dict[str, str] = field(default_factory=dict)


@dataclass
class Limits:
    max_blksize: int = MAX_BLKSIZE
    max_window: int = 64
    timeout: float = 1.0  # until a client's `timeout` option says otherwise
    max_client_timeout: int = MAX_CLIENT_TIMEOUT
    retries: int = 5


def negotiate(asked: dict[str, str], size: int, limits: Limits) -> Negotiated:
    """The options a client asked for, answered within the server's limits (RFC 2347)."""
    result = Negotiated(timeout=limits.timeout)
    lowered = {str(key).lower(): str(value) for key, value in asked.items()}
    number = _numbers(lowered)
    if "blksize" in number and number["blksize"] >= MIN_BLKSIZE:
        result.blksize = min(number["blksize"], MAX_BLKSIZE, limits.max_blksize)
        result.oack["blksize"] = str(result.blksize)
    if "tsize" in number:
        result.oack["tsize"] = str(size)
    if "timeout" in number and 1 <= number["timeout"] <= min(
        MAX_TIMEOUT, limits.max_client_timeout
    ):
        result.timeout = float(number["timeout"])
        result.oack["timeout"] = str(number["timeout"])
    if "windowsize" in number and number["windowsize"] >= 1 and limits.max_window > 1:
        result.window = min(number["windowsize"], limits.max_window)
        result.oack["windowsize"] = str(result.window)
    return result


def _numbers(options: dict[str, str]) -> dict[str, int]:
    numbers = {}
    for key, value in options.items():
        if value.isascii() and value.isdigit() and len(value) <= 10:
            numbers[key] = int(value)
    return numbers


@dataclass
class Faults:
    """Faults for one transfer (from the server's FaultPlan)."""

    stop_after: int | None = None  # stop sending once this many bytes are out
    corrupt_at: int | None = None  # flip this byte
    drop_every: int = 0  # never send every Nth DATA packet the first time
    repeat_after: int | None = None  # once this many bytes are acknowledged, resend the last
    # acknowledged block now and then instead of going on (a client re-ACKs it, as EDK2 does)


@dataclass
class Result:
    state: str  # "done", "probe", "failed"
    sent: int = 0
    retransmits: int = 0
    error: str | None = None


# How often the repeat-after fault sends its old block again.
REPEAT_SECONDS = 2.0


class StopSending(Exception):
    """The stop-after fault: fall silent, as a dead server would."""


Progress = Callable[[int, int], None]


class Session:
    """Sends one open file to one client from its own socket (its own transfer ID)."""

    def __init__(self, sock: socket.socket, client: tuple[str, int], fd: int, size: int,
                 negotiated: Negotiated, limits: Limits, faults: Faults,
                 on_progress: Progress, stopping: Callable[[], bool]) -> None:  # fmt: skip
        self.sock = sock
        self.client = client
        self.fd = fd
        self.size = size
        self.options = negotiated
        self.limits = limits
        self.faults = faults
        self.on_progress = on_progress
        self.stopping = stopping
        self.factory = TftpPacketFactory()
        self.result = Result(state="failed")
        self.acked = 0  # blocks the client has acknowledged (block index, not wire number)
        self.data_sent = 0  # DATA packets handed to the socket, for drop_every
        self.dropped: set[int] = set()
        self.behind: int | None = None  # the oldest ACK seen from behind the window
        self.restarted: int | None = None  # the block whose ACK last restarted a window
        self.last_block = size // negotiated.blksize + 1  # the short (maybe empty) last block

    # -- the transfer ----------------------------------------------------------------------

    def run(self) -> Result:
        try:
            if self.options.oack and not self._send_oack():
                return self.result
            self._send_file()
        except StopSending:
            self._fail(f"stopped after {self.faults.stop_after} bytes (fault injected)")
        return self.result

    def _fail(self, error: str) -> None:
        sent = self._bytes_through(self.acked)
        self.result = Result("failed", sent, self.result.retransmits, error)

    def _send_oack(self) -> bool:
        """OACK, then ACK 0 (go) or ERROR 8 (EDK2's size probe: the client only wanted tsize)."""
        packet = TftpPacketOACK()
        packet.options = self.options.oack
        buffer = packet.encode().buffer
        for attempt in range(self.limits.retries + 1):
            if attempt:
                self.result.retransmits += 1
            self.sock.sendto(buffer, self.client)
            reply = self._receive(time.monotonic() + self.options.timeout)
            if isinstance(reply, TftpPacketACK) and reply.blocknumber == 0:
                return True
            if isinstance(reply, TftpPacketERR):
                if reply.errorcode == ERROR_OPTION_REFUSED:
                    self.result = Result("probe")
                else:
                    self.result = Result("failed", error=_client_error(reply))
                return False
            if self.stopping():
                self.result.error = "the server stopped"
                return False
        self.result.error = "the client stopped answering"
        return False

    def _send_file(self) -> None:
        window = self.options.window
        tries = 0
        while self.acked < self.last_block:
            if self.stopping():
                self._fail("the server stopped")
                return
            repeat = self.faults.repeat_after
            if repeat is not None and self.acked and self._bytes_through(self.acked) >= repeat:
                self._repeat_old_block()
                return
            first = self.acked + 1
            last = min(self.acked + window, self.last_block)
            for block in range(first, last + 1):
                self._send_block(block, resend=tries > 0)
            outcome = self._await_ack(first, last)
            if outcome == "error":
                return
            if outcome == "timeout":
                # A quiet client: say how far it got (a timed-out boot reports it).
                self.on_progress(self._bytes_through(self.acked), self.size)
                tries += 1
                self.result.retransmits += last - first + 1
                if tries > self.limits.retries:
                    self._fail("the client stopped answering")
                    return
                if self.behind is not None:
                    # After a silence, an older ACK is the client's word that it lacks what
                    # follows (some clients acknowledge blocks they skipped): go back to it.
                    self.acked, self.behind = self.behind, None
                continue
            tries = 0
            self.on_progress(self._bytes_through(self.acked), self.size)
        self.result = Result("done", self.size, self.result.retransmits)

    def _await_ack(self, first: int, last: int) -> str:
        """Wait for an ACK inside [first - 1, last]; "acked", "timeout" or "error"."""
        deadline = time.monotonic() + self.options.timeout
        while True:
            reply = self._receive(deadline)
            if reply is None:
                return "timeout"
            if isinstance(reply, TftpPacketERR):
                self._fail(_client_error(reply))
                return "error"
            if not isinstance(reply, TftpPacketACK):
                continue
            block = self._unwrap(reply.blocknumber, first - 1, last)
            if block == first - 1 and self.options.window > 1 and self.restarted != block:
                # RFC 7440: the ACK of the block just before the window is the client's word
                # that the window's first block never came (it saw a gap): send it again now,
                # rather than after a timeout. Once per block: a client that ACKs every block
                # after a gap (EDK2 does) must not restart the window for each of them, and in
                # lock-step the same ACK is a duplicate and stays ignored (no Sorcerer's
                # Apprentice).
                self.restarted = block
                self.result.retransmits += last - first + 1
                return "acked"
            if block is None or block < first:
                # Stale or duplicate: the window stays (no Sorcerer's Apprentice), but remember
                # an ACK from behind the window in case the client stays silent.
                older = self._unwrap(reply.blocknumber, max(0, first - 32768), first - 2)
                if older is not None and (self.behind is None or older < self.behind):
                    self.behind = older
                continue
            if block < last:
                self.result.retransmits += last - block  # the client asks again from block + 1
            self.acked = block
            self.behind = None
            return "acked"

    def _repeat_old_block(self) -> None:
        """The repeat-after fault: the last acknowledged block again every REPEAT_SECONDS, so
        the client hears from us but gets nothing new, until it gives up or we stop."""
        while not self.stopping():
            self.on_progress(self._bytes_through(self.acked), self.size)
            self._send_block(self.acked, resend=True)
            deadline = time.monotonic() + REPEAT_SECONDS
            while (reply := self._receive(deadline)) is not None:
                if isinstance(reply, TftpPacketERR):
                    self._fail(_client_error(reply))
                    return
        self._fail(f"repeated an old block after {self.faults.repeat_after} bytes (fault injected)")

    @staticmethod
    def _unwrap(wire: int, low: int, high: int) -> int | None:
        """The block index in [low, high] whose 16-bit wire number is `wire` (rollover)."""
        candidate = low + ((wire - low) % 65536)
        return candidate if candidate <= high else None

    # -- packets ---------------------------------------------------------------------------

    def _send_block(self, block: int, resend: bool) -> None:
        offset = (block - 1) * self.options.blksize
        length = max(0, min(self.options.blksize, self.size - offset))
        if self.faults.stop_after is not None and offset + length > self.faults.stop_after:
            raise StopSending
        data = os.pread(self.fd, length, offset) if length else b""
        corrupt = self.faults.corrupt_at
        if corrupt is not None and offset <= corrupt < offset + len(data):
            index = corrupt - offset
            data = data[:index] + bytes([data[index] ^ 0xFF]) + data[index + 1 :]
        self.data_sent += 1
        drop = self.faults.drop_every
        if drop and not resend and block not in self.dropped and self.data_sent % drop == 0:
            self.dropped.add(block)
            return  # lost on the way: the client's ACK or our timeout recovers it
        packet = TftpPacketDAT()
        packet.blocknumber = block % 65536
        packet.data = data
        self.sock.sendto(packet.encode().buffer, self.client)

    def _receive(self, deadline: float) -> object | None:
        """The next packet from our client before the deadline; None on timeout."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(min(left, STOP_POLL))
            try:
                buffer, sender = self.sock.recvfrom(65536)
            except TimeoutError:
                if self.stopping():
                    return None
                continue
            except OSError:
                continue
            if sender != self.client:
                # RFC 1350: a packet from another transfer ID gets ERROR 5, the transfer goes on.
                self.sock.sendto(error_packet(ERROR_UNKNOWN_TID), sender)
                continue
            if len(buffer) == ACK_LENGTH and buffer[:2] == ACK_OPCODE:
                # The packet of every window: tftpy's ACK, without its parser's debug logging.
                ack = TftpPacketACK()
                ack.blocknumber = int.from_bytes(buffer[2:4], "big")
                return ack
            try:
                return self.factory.parse(buffer)
            except Exception:  # tftpy raises its own and struct errors on garbage
                continue

    def _bytes_through(self, block: int) -> int:
        return min(block * self.options.blksize, self.size)


def error_packet(code: int, message: str | None = None) -> bytes:
    """An ERROR packet; `message` (ASCII) or the RFC 1350 text of the code."""
    if message is None:
        message = ERROR_MESSAGES.get(code, "")
    text = message.encode("ascii", "replace").replace(b"\0", b"?")
    return b"\x00\x05" + code.to_bytes(2, "big") + text + b"\0"


def _client_error(packet: TftpPacketERR) -> str:
    message = packet.errmsg.decode("utf-8", "replace") if packet.errmsg else ""
    return f"client sent error {packet.errorcode}: {message}".rstrip(": ")
