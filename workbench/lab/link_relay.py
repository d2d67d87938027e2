"""A lossy, reordering link between the guest's NIC and the lab's tap device, in user space
(the lab's kernel may have no sch_netem). QEMU's NIC sends its frames to a unix datagram
socket (`-netdev dgram`); the relay moves each one between that socket and the tap device,
dropping some and holding some back until the next frame has gone, by a seeded RNG. Every
protocol crosses it: ARP, DHCP, TFTP, TCP.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import os
import random
import selectors
import shutil
import socket
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from workbench.errors import BadInput, LabFailure
from workbench.lab.faults import FaultPlan
from workbench.lab.qemu import UNIX_PATH_MAX, DgramLink

# linux/if_tun.h
TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
# A held frame goes out after the next frame, or after this long when no frame follows.
HOLD_SECONDS = 0.005
# Counters go out this often while they change: the run's outcome can come before the lab's
# last words reach it.
REPORT_SECONDS = 2.0
FRAME_MAX = 65536
TAP_BURST = 64

Verdict = Literal["drop", "hold", "pass"]


@dataclass
class LinkCounters:
    passed: int = 0  # sent in the order they came
    dropped: int = 0
    reordered: int = 0  # sent after a frame that came after them

    def text(self) -> str:
        return f"passed={self.passed} dropped={self.dropped} reordered={self.reordered}"


class Impairment:
    """One direction of the link, pure: the fate of each frame from a seeded RNG, and the one
    frame held back for reordering. The caller keeps the clock.

    A frame is dropped with `loss_percent`, held with `reorder_percent` (sent after the next
    frame that passes, or at `hold_seconds` when none comes), else passed. One frame is held
    at a time: a frame to be held while another is, passes (and overtakes it)."""

    def __init__(self, loss_percent: float, reorder_percent: float, seed: int | str,
                 hold_seconds: float = HOLD_SECONDS) -> None:  # fmt: skip
        for name, value in (("loss", loss_percent), ("reorder", reorder_percent)):
            if not 0 <= value <= 100:
                raise BadInput(f"link {name} {value}%: not a percentage (0-100)")
        if loss_percent + reorder_percent > 100:
            raise BadInput("link loss and reorder percentages add up to more than 100")
        self.loss_percent = loss_percent
        self.reorder_percent = reorder_percent
        self.hold_seconds = hold_seconds
        self.counters = LinkCounters()
        self._random = random.Random(seed)
        self._held: bytes | None = None
        self._held_until = 0.0

    def decide(self) -> Verdict:
        roll = self._random.random() * 100
        if roll < self.loss_percent:
            return "drop"
        if roll < self.loss_percent + self.reorder_percent:
            return "hold"
        return "pass"

    def offer(self, frame: bytes, now: float) -> list[bytes]:
        """The frames to send now that `frame` has come, in order."""
        verdict = self.decide()
        if verdict == "drop":
            self.counters.dropped += 1
            return []
        if verdict == "hold" and self._held is None:
            self._held, self._held_until = frame, now + self.hold_seconds
            return []
        self.counters.passed += 1
        if self._held is None:
            return [frame]
        held, self._held = self._held, None
        self.counters.reordered += 1
        return [frame, held]

    def deadline(self) -> float | None:
        """When the held frame is due, if one is held."""
        return self._held_until if self._held is not None else None

    def release_due(self, now: float) -> list[bytes]:
        """The held frame once its time is up (no frame came to overtake it)."""
        if self._held is None or now < self._held_until:
            return []
        held, self._held = self._held, None
        self.counters.passed += 1
        return [held]


def impairs_link(plan: FaultPlan) -> bool:
    return plan.link_loss_percent > 0 or plan.link_reorder_percent > 0


def open_tap(name: str) -> int:
    """Attach to the existing tap device, as QEMU's tap netdev would (frames without a
    packet-information header or a virtio-net header)."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd


class _Direction:
    """Frames one way: the impairment, then a queue for a receiver that is not ready."""

    def __init__(self, name: str, impairment: Impairment) -> None:
        self.name = name
        self.impairment = impairment
        self.waiting: collections.deque[bytes] = collections.deque()
        self.unsent = 0  # refused by the receiver (gone, not there yet): lost, not by us

    def text(self) -> str:
        return f"{self.name} {self.impairment.counters.text()} unsent={self.unsent}"


class LinkRelay:
    """Context manager: the relay thread between `tap_device` and the guest's socket, for as
    long as the lab runs. `link` is what QEMU's command line needs. `report` gets the counters
    ("link: ..." lines) every REPORT_SECONDS while they change, and when the relay stops."""

    def __init__(self, tap_device: str, workdir: Path, plan: FaultPlan,
                 report: Callable[[str], None]) -> None:  # fmt: skip
        self.tap_device = tap_device
        self.report = report
        loss, reorder, seed = plan.link_loss_percent, plan.link_reorder_percent, plan.link_seed
        self.settings = f"loss {loss:g}%, reorder {reorder:g}%, seed {seed}"
        # Each way its own RNG: one direction's traffic never shifts the other's fate.
        self.to_guest = _Direction("to-guest", Impairment(loss, reorder, f"{seed}:to-guest"))
        self.to_lab = _Direction("to-lab", Impairment(loss, reorder, f"{seed}:to-lab"))
        self._socket_dir: str | None = None
        if len(str(workdir / "link-guest.sock")) > UNIX_PATH_MAX:
            self._socket_dir = tempfile.mkdtemp(prefix="wbl-", dir="/tmp")
            workdir = Path(self._socket_dir)
        self.link = DgramLink(local=workdir / "link-guest.sock", remote=workdir / "link-relay.sock")
        self._tap = -1
        self._socket: socket.socket | None = None
        self._connected = False
        self._guest_full = False
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._selector = selectors.DefaultSelector()

    def __enter__(self) -> LinkRelay:
        try:
            self._tap = open_tap(self.tap_device)
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._socket.setblocking(False)
            self._socket.bind(str(self.link.remote))
        except OSError as error:
            self._close()
            raise LabFailure(f"link relay on {self.tap_device}: {error}") from None
        self._thread = threading.Thread(target=self._run, name="link-relay", daemon=True)
        self._thread.start()
        self.report(f"link: relay between {self.tap_device} and the guest, {self.settings}")
        return self

    def __exit__(self, *_: object) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close()
        self.report(f"link: stopped; {self.counters_text()}")

    def counters_text(self) -> str:
        return f"{self.to_guest.text()}; {self.to_lab.text()}"

    def _close(self) -> None:
        self._selector.close()
        if self._tap >= 0:
            os.close(self._tap)
            self._tap = -1
        if self._socket is not None:
            self._socket.close()
        self._wake_reader.close()
        self._wake_writer.close()
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
        else:
            for path in (self.link.local, self.link.remote):
                with contextlib.suppress(OSError):
                    path.unlink()

    def _run(self) -> None:
        try:
            self._relay()
        except OSError as error:
            # The link is down from here on: say so, the boot then fails on its own.
            self.report(f"link: relay failed: {error}; {self.counters_text()}")

    def _relay(self) -> None:
        assert self._socket is not None
        self._selector.register(self._wake_reader, selectors.EVENT_READ, "wake")
        self._selector.register(self._tap, selectors.EVENT_READ, "tap")
        self._selector.register(self._socket, selectors.EVENT_READ, "guest")
        reported = ""
        next_report = time.monotonic() + REPORT_SECONDS
        while not self._stopping.is_set():
            deadlines = [next_report] + [d for d in self._deadlines() if d is not None]
            timeout = max(0.0, min(deadlines) - time.monotonic())
            for key, mask in self._selector.select(timeout):
                if key.data == "tap":
                    self._from_tap()
                elif key.data == "guest":
                    if mask & selectors.EVENT_READ:
                        self._from_guest()
                    if mask & selectors.EVENT_WRITE:
                        self._flush_to_guest()
            now = time.monotonic()
            self._send_to_guest(self.to_guest.impairment.release_due(now))
            self._send_to_lab(self.to_lab.impairment.release_due(now))
            if now >= next_report:
                next_report = now + REPORT_SECONDS
                text = self.counters_text()
                if text != reported:
                    reported = text
                    self.report(f"link: {text}")

    def _deadlines(self) -> list[float | None]:
        return [self.to_guest.impairment.deadline(), self.to_lab.impairment.deadline()]

    def _from_tap(self) -> None:
        """Frames from the lab's side, a burst at most. None while the guest's socket is full:
        the tap device's own queue then holds them, as when QEMU reads the tap itself."""
        for _ in range(TAP_BURST):
            if self._guest_full:
                return
            try:
                frame = os.read(self._tap, FRAME_MAX)
            except BlockingIOError:
                return
            self._send_to_guest(self.to_guest.impairment.offer(frame, time.monotonic()))

    def _from_guest(self) -> None:
        assert self._socket is not None
        while True:
            try:
                frame = self._socket.recv(FRAME_MAX)
            except BlockingIOError:
                return
            self._send_to_lab(self.to_lab.impairment.offer(frame, time.monotonic()))

    def _send_to_lab(self, frames: list[bytes]) -> None:
        for frame in frames:
            try:
                os.write(self._tap, frame)
            except OSError:
                self.to_lab.unsent += 1

    def _send_to_guest(self, frames: list[bytes]) -> None:
        self.to_guest.waiting.extend(frames)
        self._flush_to_guest()

    def _flush_to_guest(self) -> None:
        """Send what waits for the guest; while its socket is full, wait for room (and leave
        the tap unread) instead of losing frames the impairment let through."""
        assert self._socket is not None
        waiting = self.to_guest.waiting
        while waiting:
            try:
                if not self._connected:
                    # Connected, the socket polls writable only when QEMU's queue has room.
                    self._socket.connect(str(self.link.local))
                    self._connected = True
                self._socket.send(waiting[0])
            except BlockingIOError:
                break
            except OSError:
                # QEMU is not listening yet, or is gone: the frame is lost.
                self.to_guest.unsent += 1
            waiting.popleft()
        if bool(waiting) != self._guest_full:
            self._guest_full = bool(waiting)
            self._watch_guest_room(self._guest_full)

    def _watch_guest_room(self, full: bool) -> None:
        """While the guest's socket is full: wait for it to have room, not for the tap."""
        assert self._socket is not None
        guest_events = selectors.EVENT_READ | (selectors.EVENT_WRITE if full else 0)
        self._selector.modify(self._socket, guest_events, "guest")
        if full:
            self._selector.unregister(self._tap)
        else:
            self._selector.register(self._tap, selectors.EVENT_READ, "tap")
