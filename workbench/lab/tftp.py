"""A read-only TFTP server on tftpy, confined to its root, with transfer events and faults."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FaultPlan:
    """Faults to inject, by file name as the client asks for it (e.g. `EFI/Linux/vmlinuz`)."""

    # Fail the first N read requests for a name with a TFTP error.
    fail_first: dict[str, int] = field(default_factory=dict)
    # Stop sending a file after B bytes (the client must time out).
    stop_after: dict[str, int] = field(default_factory=dict)
    # Flip the byte at offset O of the served data.
    corrupt: dict[str, int] = field(default_factory=dict)
