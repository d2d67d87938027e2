"""One TFTP read transfer as a small state machine: option negotiation, then DATA sent in
RFC 7440 windows. It never waits: the server's event loop hands it the datagrams that reach
its socket (`on_readable`) and calls it when its `deadline` passes (`on_deadline`), so one
thread runs every transfer and an idle one costs nothing until its deadline.

States: OACK sent and waiting for ACK 0; a window sent and waiting for its ACK; the
repeat-after fault; ended (`result` is set). Packets are read and built here (ACK, ERROR,
OACK are a few bytes); DATA goes out through workbench.lab.tftp_blocks.

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
- The file is read a window at a time at its offset (os.preadv into the server's one buffer):
  memory stays flat whatever its size and the number of clients.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from workbench.lab.tftp_blocks import BlockSender

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
ACK_OPCODE = 4
ERROR_OPCODE = 5
RECEIVE_BYTES = 2048  # ACKs and ERRORs are small; a longer datagram is cut, and ignored


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
NEVER = float("inf")
# How often a run of ACKs tells on_progress at most; the caller reports at its own pace.
PROGRESS_STEP = 0.1


class StopSending(Exception):
    """The stop-after fault: fall silent, as a dead server would."""


Progress = Callable[[int, int], None]
OACK, WINDOW, REPEAT, ENDED = "oack", "window", "repeat", "ended"


class Session:
    """Sends one open file to one client from its own socket (its own transfer ID). The
    caller owns the socket and the file; the session only sends, and reads from the socket
    when told it is readable (the socket is non-blocking)."""

    def __init__(self, sock: socket.socket, client: tuple, fd: int, size: int,
                 negotiated: Negotiated, limits: Limits, faults: Faults,
                 on_progress: Progress, sender: BlockSender | None = None) -> None:  # fmt: skip
        self.sock = sock
        self.client = client
        self.fd = fd
        self.size = size
        self.options = negotiated
        self.limits = limits
        self.faults = faults
        self.on_progress = on_progress
        self.sender = sender or BlockSender()
        # Faults that touch single packets take the slow path, block by block.
        self.plain = (
            faults.stop_after is None and faults.corrupt_at is None and not faults.drop_every
        )
        self.offload = True  # UDP segmentation offload, until the kernel says no for this route
        self.state = OACK
        self.deadline = NEVER  # when on_deadline is due (monotonic seconds)
        self.result: Result | None = None  # set once the transfer has ended
        self.retransmits = 0
        self.attempts = 0  # OACKs sent
        self.tries = 0  # times the current window went out without an answer
        self.acked = 0  # blocks the client has acknowledged (block index, not wire number)
        self.first = self.last = 0  # the window in flight
        self.data_sent = 0  # DATA packets handed to the socket, for drop_every
        self.dropped: set[int] = set()
        self.behind: int | None = None  # the oldest ACK seen from behind the window
        self.restarted: int | None = None  # the block whose ACK last restarted a window
        self.last_block = size // negotiated.blksize + 1  # the short (maybe empty) last block
        self.progress_at = 0.0  # when an ACK next tells on_progress (which keeps its own pace)

    # -- what the event loop calls -------------------------------------------------------------

    def start(self, now: float) -> None:
        """OACK when options were agreed; else plain RFC 1350: DATA 1 at once."""
        if self.options.oack:
            self._send_oack(now)
        else:
            self._guarded(self._next_window, now)

    def on_readable(self, now: float) -> None:
        """One datagram from the socket (the loop comes back while more are waiting: one read
        per wake spares the read that would only say there is nothing left)."""
        try:
            buffer, sender = self.sock.recvfrom(RECEIVE_BYTES)
        except OSError:
            return  # nothing after all, or an ICMP error queued on the socket
        if sender != self.client:
            # RFC 1350: a packet from another transfer ID gets ERROR 5, the transfer goes on;
            # an ERROR is never answered (two sockets answering each other's ERRORs, or one
            # its own under a forged source, would loop for as long as the transfer lives).
            if buffer[:2] != b"\x00\x05":
                self._send(error_packet(ERROR_UNKNOWN_TID), sender)
            return
        try:
            self._packet(buffer, now)
        except StopSending:
            self._fail(f"stopped after {self.faults.stop_after} bytes (fault injected)")

    def on_deadline(self, now: float) -> None:
        """The deadline passed: resend (OACK or window), or the repeat fault's next block."""
        if self.state == OACK:
            if self.attempts > self.limits.retries:
                self._fail("the client stopped answering")
            else:
                self.retransmits += 1
                self._send_oack(now)
        elif self.state == WINDOW:
            # A quiet client: say how far it got (a timed-out boot reports it).
            self.on_progress(self._bytes_through(self.acked), self.size)
            self.tries += 1
            self.retransmits += self.last - self.first + 1
            if self.tries > self.limits.retries:
                self._fail("the client stopped answering")
                return
            if self.behind is not None:
                # After a silence, an older ACK is the client's word that it lacks what
                # follows (some clients acknowledge blocks they skipped): go back to it.
                self.acked, self.behind = self.behind, None
            self._guarded(self._next_window, now)
        elif self.state == REPEAT:
            self._guarded(self._repeat_tick, now)

    def stop(self) -> None:
        """The server stops: the transfer ends as failed."""
        if self.result is not None:
            return
        if self.state == REPEAT:
            after = self.faults.repeat_after
            self._fail(f"repeated an old block after {after} bytes (fault injected)")
        else:
            self._fail("the server stopped")

    # -- states ----------------------------------------------------------------------------

    def _guarded(self, step: Callable[..., None], *args: object) -> None:
        try:
            step(*args)
        except StopSending:
            self._fail(f"stopped after {self.faults.stop_after} bytes (fault injected)")

    def _packet(self, buffer: bytes, now: float) -> None:
        if len(buffer) < 4:
            return
        opcode = buffer[0] << 8 | buffer[1]
        if opcode == ERROR_OPCODE:
            code = int.from_bytes(buffer[2:4], "big")
            if self.state == OACK and code == ERROR_OPTION_REFUSED:
                self._end(Result("probe", retransmits=self.retransmits))  # EDK2's size probe
            else:
                self._fail(_client_error(code, buffer[4:]))
            return
        if opcode != ACK_OPCODE:
            return  # not for a server sending a file: ignored
        wire = buffer[2] << 8 | buffer[3]
        if self.state == OACK:
            if wire == 0:
                self.state = WINDOW
                self._next_window(now)
        elif self.state == WINDOW:
            self._ack(wire, now)

    def _send_oack(self, now: float) -> None:
        """OACK, then ACK 0 (go) or ERROR 8 (EDK2's size probe: the client only wanted tsize)."""
        self.attempts += 1
        self._send(oack_packet(self.options.oack), self.client)
        self.deadline = now + self.options.timeout

    def _ack(self, wire: int, now: float) -> None:
        """An ACK while a window is out: move on, restart the window, or ignore it."""
        first, last = self.first, self.last
        if wire == last & 0xFFFF and last - first < 65535:  # the whole window: the usual case
            self.acked = last
            self.behind = None
            self.tries = 0
            if now >= self.progress_at:
                self.progress_at = now + PROGRESS_STEP
                self.on_progress(min(last * self.options.blksize, self.size), self.size)
            self._next_window(now)
            return
        block = self._unwrap(wire, first - 1, last)
        if block == first - 1 and self.options.window > 1 and self.restarted != block:
            # RFC 7440: the ACK of the block just before the window is the client's word that
            # the window's first block never came (it saw a gap): send it again now, rather
            # than after a timeout. Once per block: a client that ACKs every block after a gap
            # (EDK2 does) must not restart the window for each of them, and in lock-step the
            # same ACK is a duplicate and stays ignored (no Sorcerer's Apprentice).
            self.restarted = block
            self.retransmits += last - first + 1
        elif block is None or block < first:
            # Stale or duplicate: the window stays (no Sorcerer's Apprentice), but remember an
            # ACK from behind the window in case the client stays silent.
            older = self._unwrap(wire, max(0, first - 32768), first - 2)
            if older is not None and (self.behind is None or older < self.behind):
                self.behind = older
            return
        else:
            if block < last:
                self.retransmits += last - block  # the client asks again from block + 1
            self.acked = block
            self.behind = None
        self.tries = 0
        self.progress_at = now + PROGRESS_STEP
        self.on_progress(self._bytes_through(self.acked), self.size)
        self._next_window(now)

    def _next_window(self, now: float) -> None:
        """The next window from the first unacknowledged block, or the end."""
        self.state = WINDOW
        if self.acked >= self.last_block:
            self._end(Result("done", self.size, self.retransmits))
            return
        repeat = self.faults.repeat_after
        if repeat is not None and self.acked and self._bytes_through(self.acked) >= repeat:
            self.state = REPEAT
            self._repeat_tick(now)
            return
        first = self.acked + 1
        last = min(self.acked + self.options.window, self.last_block)
        self.first, self.last = first, last
        self.deadline = now + self.options.timeout
        if self.plain:
            blksize, offload = self.options.blksize, self.offload
            self.offload = self.sender.send(self.sock, self.client, self.fd, first, last,
                                            blksize, self.size, offload)  # fmt: skip
        else:
            for block in range(first, last + 1):
                self._send_block(block, resend=self.tries > 0)

    def _repeat_tick(self, now: float) -> None:
        """The repeat-after fault: the last acknowledged block again every REPEAT_SECONDS, so
        the client hears from us but gets nothing new, until it gives up or we stop."""
        self.on_progress(self._bytes_through(self.acked), self.size)
        self.deadline = now + REPEAT_SECONDS
        self._send_block(self.acked, resend=True)

    def _fail(self, error: str) -> None:
        self._end(Result("failed", self._bytes_through(self.acked), self.retransmits, error))

    def _end(self, result: Result) -> None:
        self.result = result
        self.state = ENDED
        self.deadline = NEVER

    @staticmethod
    def _unwrap(wire: int, low: int, high: int) -> int | None:
        """The block index in [low, high] whose 16-bit wire number is `wire` (rollover)."""
        candidate = low + ((wire - low) % 65536)
        return candidate if candidate <= high else None

    # -- packets ---------------------------------------------------------------------------

    def _send_block(self, block: int, resend: bool) -> None:
        """One DATA packet with the faults applied (the slow path)."""
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
        self._send(b"\x00\x03" + (block % 65536).to_bytes(2, "big") + data, self.client)

    def _send(self, packet: bytes, to: tuple) -> None:
        with contextlib.suppress(OSError):  # lost on the way (a full buffer): a timeout recovers it
            self.sock.sendto(packet, to)

    def _bytes_through(self, block: int) -> int:
        return min(block * self.options.blksize, self.size)


def oack_packet(options: dict[str, str]) -> bytes:
    """An OACK carrying `options` in the order given (RFC 2347)."""
    fields = b"".join(f"{name}\0{value}\0".encode("ascii") for name, value in options.items())
    return b"\x00\x06" + fields


def error_packet(code: int, message: str | None = None) -> bytes:
    """An ERROR packet; `message` (ASCII) or the RFC 1350 text of the code."""
    if message is None:
        message = ERROR_MESSAGES.get(code, "")
    text = message.encode("ascii", "replace").replace(b"\0", b"?")
    return b"\x00\x05" + code.to_bytes(2, "big") + text + b"\0"


def _client_error(code: int, message: bytes) -> str:
    text = message.split(b"\0", 1)[0].decode("utf-8", "replace")
    return f"client sent error {code}: {text}".rstrip(": ")
