"""Events streamed by a boot run: plain dataclasses, JSON-serialisable with `to_dict()`.

Every event carries `t`, seconds since the run started; the run stamps it when the event is
published, so producers (including the network lab's child process) leave it at 0.

Every event also carries `guest`, the index of the machine it belongs to when a run boots
several at once (`boot --guests N`): 0 for the only one, None for the lab's own (its servers,
a transfer no guest's address claims). `to_dict()` leaves out `guest` 0, so a one-guest run's
JSON is what it always was.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

TransferState = Literal["started", "progress", "done", "failed", "probe", "refused"]
OutcomeKind = Literal[
    "booted",
    "stub-error",
    "kernel-failed",
    "firmware-refused",
    "shim-refused",
    "firmware-failed",
    "timeout",
    "reset-loop",
    "qemu-failed",
    "lab-failed",
    "interrupted",
    "exited",
    "bad-input",
    "missing-tool",
    "internal-error",
    "pcr-mismatch",
]


@dataclass
class _Event:
    t: float = field(default=0.0, kw_only=True)
    guest: int | None = field(default=0, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        data = {"type": type(self).__name__, **asdict(self)}
        if data["guest"] == 0:
            del data["guest"]
        return data


@dataclass
class SerialLine(_Event):
    """One line of the machine's serial console, ANSI sequences and CRs removed."""

    text: str


@dataclass
class StubStep(_Event):
    """One `stub: ` line, parsed (see workbench.lab.console)."""

    step: str
    subject: str | None
    fields: dict[str, str]
    path: str | None
    reason: str | None
    raw: str


@dataclass
class Reset(_Event):
    """The machine reset (QMP RESET event); `by_guest`: the guest asked for it (QMP's "guest")."""

    by_guest: bool = True
    reason: str = ""


@dataclass
class Transfer(_Event):
    """A file served by the lab's TFTP or HTTP server: started, progress, done or failed."""

    filename: str
    client: str
    state: TransferState
    bytes: int = 0
    total: int | None = None
    seconds: float = 0.0
    error: str | None = None
    blksize: int | None = None  # as negotiated (None: refused before negotiation)
    window: int | None = None  # RFC 7440 window; 1 is lock-step
    retransmits: int = 0  # DATA packets sent again
    protocol: Literal["tftp", "http"] = "tftp"


@dataclass
class LabNote(_Event):
    """Something the lab did or saw (dnsmasq lease, QEMU started...)."""

    text: str


@dataclass
class MachineExit(_Event):
    """QEMU ended. `guest_shutdown` is true when the guest powered itself off."""

    code: int | None
    guest_shutdown: bool
    stderr_tail: str = ""


@dataclass
class LabFailed(_Event):
    """The lab itself broke (network namespace, DHCP or TFTP server): the run cannot go on."""

    reason: str


@dataclass
class RemoteLine(_Event):
    """A syslog message the lab's receiver got: a netbooted stub sends each console line so
    (stub/FORMAT.md, "Console lines over syslog"). `text` has non-printable characters as
    `\\xNN` (workbench.lab.syslog_rx); for the stub it is the `stub: ` line as printed."""

    source: str  # the sender's IP address
    text: str
    hostname: str = ""  # the stub's MAC address (or IP address)
    app: str = ""  # "stub" for the stub's lines
    severity: int = 6  # 3 error, 4 warning, 6 info


@dataclass
class Outcome(_Event):
    ok: bool
    kind: OutcomeKind
    reason: str
    seconds: float
    resets: int = 0
    errors: list[str] = field(default_factory=list)
    reset_after_error: bool = False
    # A --tpm run: {"scheme", "predicted": {bank: {pcr: hex}}, "measured": {...}, "match": bool}
    pcrs: dict[str, Any] | None = None
    # A timeout: where the boot stood ({"stub", "console", "in_flight"}, see lab/boot.py).
    where: dict[str, Any] | None = None


Event = (
    SerialLine
    | StubStep
    | Reset
    | Transfer
    | LabNote
    | MachineExit
    | LabFailed
    | Outcome
    | RemoteLine
)

_TYPES: dict[str, type[_Event]] = {
    cls.__name__: cls
    for cls in (
        SerialLine,
        StubStep,
        Reset,
        Transfer,
        LabNote,
        MachineExit,
        LabFailed,
        Outcome,
        RemoteLine,
    )
}


def event_from_dict(data: dict[str, Any]) -> Event:
    """The inverse of `to_dict()` (used to carry events out of the network lab)."""
    values = dict(data)
    cls = _TYPES[values.pop("type")]
    return cls(**values)  # type: ignore[return-value]
