"""Several machines in one network lab (`boot --guests N`): their MACs, which guest a server's
transfer belongs to, the checks on such a request, and the run's summary of their outcomes.

Pure: no QEMU, no namespace. The lab (lab/netns_child.py) gives guest i the MAC `guest_mac(i)`
and a tap of its own on one bridge; the run (lab/boot.py) decides an outcome per guest.
"""

from __future__ import annotations

import re

from workbench.errors import WorkbenchError
from workbench.lab.events import Event, Outcome, RemoteLine, Transfer
from workbench.lab.request import BootRequest

MAX_GUESTS = 16
# QEMU's own MAC is the first guest's, so one guest is the machine it always was.
FIRST_MAC = 0x525400123456
# As lab notes relay dnsmasq's lines: "dnsmasq: DHCPACK(br0) 10.0.2.17 52:54:00:12:34:57", and
# over IPv6 "DHCPREPLY(br0) fd00::21 DUID", where OVMF's DUID-LLT (00:01, hardware type 00:01,
# a 4-byte time) or a DUID-LL (00:03:00:01) ends with the MAC.
_DHCP_BOUND = re.compile(
    r"\bDHCP(?:ACK|REPLY)\([^)]*\) (\S+) "
    r"(?:00:01:00:01(?::[0-9a-fA-F]{2}){4}:|00:03:00:01:)?"
    r"((?:[0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2})(?:\s|$)"
)


def guest_mac(index: int) -> str:
    """52:54:00:12:34:56 for guest 0, ...:57 for guest 1, and so on."""
    value = f"{FIRST_MAC + index:012x}"
    return ":".join(value[i : i + 2] for i in range(0, 12, 2))


def check_guests(request: BootRequest) -> None:
    """Refuse what one lab cannot do for several guests at once (one-line errors)."""
    count = request.guests
    if count < 1 or count > MAX_GUESTS:
        raise WorkbenchError(f"--guests must be 1 to {MAX_GUESTS}, not {count}")
    if count == 1:
        return
    if request.mode == "local":
        raise WorkbenchError("--guests needs --mode net or --mode http (one lab network)")
    if request.tpm:
        raise WorkbenchError("--guests with --tpm is not supported (one swtpm per guest)")
    if request.shim is not None:
        raise WorkbenchError("--guests with --shim is not supported")
    if request.gdb_socket is not None:
        raise WorkbenchError("--guests with a debugger is not supported")
    faults = request.faults
    if faults is not None and (
        faults.link_loss_percent or faults.link_reorder_percent or faults.arp_silent_after
    ):
        raise WorkbenchError("--guests with link faults (loss, reordering, ARP silence) "
                             "is not supported: they impair one guest's link")  # fmt: skip


class GuestAddresses:
    """Which guest an address is: learnt from dnsmasq's DHCPACK and DHCPv6 REPLY lines (MAC ->
    address) and
    from the stub's syslog lines (hostname is its MAC); a server's events are then attributed
    by client address, or left the lab's (guest None) when no guest holds that address."""

    def __init__(self, guests: int) -> None:
        self.guests = guests
        self._index = {guest_mac(i): i for i in range(guests)}
        self.addresses: dict[int, str] = {}  # guest -> its last address
        self._owner: dict[str, int] = {}

    def learn(self, mac: str, address: str) -> None:
        index = self._index.get(mac.lower())
        if index is None:
            return
        self.addresses[index] = address
        self._owner[address] = index

    def learn_note(self, text: str) -> None:
        match = _DHCP_BOUND.search(text)
        if match is not None:
            self.learn(match.group(2), match.group(1))

    def owner(self, client: str) -> int | None:
        return self._owner.get(client)

    def attribute(self, event: Event) -> None:
        """Set the guest of a server's event (a transfer, a syslog line) by its client."""
        if isinstance(event, RemoteLine):
            self.learn(event.hostname, event.source)
            event.guest = self.owner(event.source)
        elif isinstance(event, Transfer):
            event.guest = self.owner(event.client)


def summary(outcomes: list[Outcome], seconds: float) -> Outcome:
    """One outcome for the whole run: ok only when every guest reached its goal; the first
    failed guest's kind otherwise. It belongs to no guest."""
    failed = [o for o in outcomes if not o.ok]
    reached = len(outcomes) - len(failed)
    reason = f"{reached} of {len(outcomes)} guests reached the goal"
    if failed:
        reason += "; failed: " + ", ".join(f"g{o.guest} {o.kind}" for o in failed)
    return Outcome(
        ok=not failed,
        kind=failed[0].kind if failed else "booted",
        reason=reason,
        seconds=seconds,
        resets=sum(o.resets for o in outcomes),
        errors=[f"g{o.guest}: {error}" for o in outcomes for error in o.errors],
        reset_after_error=any(o.reset_after_error for o in outcomes),
        guest=None,
    )
