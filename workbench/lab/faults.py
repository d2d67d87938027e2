"""Faults the lab's servers inject, by file name: one plan for TFTP and HTTP alike."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from workbench.lab.tftp_session import Faults


@dataclass
class FaultPlan:
    """Faults to inject, by file name as the client asks for it (e.g. `EFI/Linux/vmlinuz`).
    The TFTP and HTTP servers share it; the last three kinds are HTTP's own."""

    # Fail the first N read requests for a name (TFTP error 1; HTTP 503).
    fail_first: dict[str, int] = field(default_factory=dict)
    # Stop sending a file after B bytes (TFTP: the client times out; HTTP: the connection
    # closes, a short body).
    stop_after: dict[str, int] = field(default_factory=dict)
    # Flip the byte at offset O of the served data.
    corrupt: dict[str, int] = field(default_factory=dict)
    # Drop every Nth DATA packet of a name the first time it is sent (retransmits recover it).
    drop_every: dict[str, int] = field(default_factory=dict)
    # Answer requests for a name that ask for one of these options (comma-separated) with
    # ERROR 8, as an older server does: {"EFI/Linux/vmlinuz": "windowsize,blksize"}.
    refuse_options: dict[str, str] = field(default_factory=dict)
    # HTTP: answer every request for a name with this status (404, 500...).
    http_status: dict[str, int] = field(default_factory=dict)
    # HTTP: send B bytes, then hold the connection silent (the client times out).
    stall_after: dict[str, int] = field(default_factory=dict)
    # HTTP: send the body without a Content-Length (closing the connection at its end).
    no_length: list[str] = field(default_factory=list)
    # TFTP: once B bytes are acknowledged, resend the last acknowledged block every 2 s and
    # nothing new (the client re-acknowledges it; only a deadline of its own ends that).
    repeat_after: dict[str, int] = field(default_factory=dict)
    # HTTP: send B bytes, then one byte every TRICKLE_SECONDS: a server slow enough to keep
    # every per-read timeout alive.
    trickle_after: dict[str, int] = field(default_factory=dict)

    # The lab's network: once one of these names has been served whole, the server's interface
    # stops answering ARP (an address the firmware already knows still works; a client that
    # has to ask, such as the stub's own network path, gets no answer).
    arp_silent_after: list[str] = field(default_factory=list)
    # The lab's link (every frame of every protocol, both ways, see lab/link_relay.py): the
    # share of frames dropped, and of frames held back until the next one has gone, by an RNG
    # seeded with link_seed (the same seed, the same fate for the same sequence of frames).
    link_loss_percent: float = 0.0
    link_reorder_percent: float = 0.0
    link_seed: int = 1

    def to_dict(self) -> dict[str, dict[str, int] | dict[str, str] | list[str] | float | int]:
        return {
            "fail_first": self.fail_first,
            "stop_after": self.stop_after,
            "corrupt": self.corrupt,
            "drop_every": self.drop_every,
            "refuse_options": self.refuse_options,
            "http_status": self.http_status,
            "stall_after": self.stall_after,
            "no_length": self.no_length,
            "trickle_after": self.trickle_after,
            "repeat_after": self.repeat_after,
            "arp_silent_after": self.arp_silent_after,
            "link_loss_percent": self.link_loss_percent,
            "link_reorder_percent": self.link_reorder_percent,
            "link_seed": self.link_seed,
        }

    def __bool__(self) -> bool:
        # A seed alone injects nothing.
        return any(value for name, value in self.to_dict().items() if name != "link_seed")

    def for_name(self, name: str) -> Faults:
        return Faults(
            stop_after=self.stop_after.get(name),
            corrupt_at=self.corrupt.get(name),
            drop_every=self.drop_every.get(name, 0),
            repeat_after=self.repeat_after.get(name),
        )


# Faults only one server can inject, with the flag that asks for each.
TFTP_ONLY = {"drop_every": "--drop-every", "refuse_options": "--refuse-option",
             "repeat_after": "--repeat-after"}  # fmt: skip
HTTP_ONLY = {"http_status": "--http-status", "stall_after": "--stall-after",
             "no_length": "--no-length", "trickle_after": "--trickle-after"}  # fmt: skip


def foreign_fault(plan: FaultPlan, protocol: str) -> str | None:
    """The flag of a fault in `plan` that the other protocol's server injects, or None."""
    foreign = TFTP_ONLY if protocol == "http" else HTTP_ONLY
    return next((flag for name, flag in foreign.items() if getattr(plan, name)), None)


class InjectedFailures:
    """The `fail_first` countdown of a plan, shared by a server's threads."""

    def __init__(self, plan: FaultPlan) -> None:
        self._left = dict(plan.fail_first)
        self._lock = threading.Lock()

    def take(self, name: str) -> bool:
        """True (and one fewer left) while requests for `name` are still to fail."""
        with self._lock:
            left = self._left.get(name, 0)
            if left > 0:
                self._left[name] = left - 1
            return left > 0
