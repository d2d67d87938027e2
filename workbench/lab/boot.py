"""Boot a tree in QEMU + OVMF, from a local ESP image or over the private network lab.

`BootRun.run()` blocks until an Outcome is known and streams events to `on_event` from the
calling thread. Problems with the request itself raise WorkbenchError before anything starts.
Several guests in one network lab (`request.guests`): each gets an Outcome by the same rules,
in `BootRun.outcomes` (published at the end, in guest order), and run() returns the run's
summary, ok only when every guest is (see lab/guests.py).
"""

from __future__ import annotations

import queue
import re
import shutil
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Protocol

from workbench.arch import X86_64, Arch, by_name
from workbench.errors import WorkbenchError
from workbench.lab.console import (
    firmware_refusal_reason,
    parse_firmware_load_failure,
    parse_firmware_refusal,
    parse_stub_line,
)
from workbench.lab.esp import make_esp_image
from workbench.lab.events import (
    Event,
    LabFailed,
    LabNote,
    MachineExit,
    Outcome,
    OutcomeKind,
    Reset,
    SerialLine,
    StubStep,
    Transfer,
)
from workbench.lab.faults import FaultPlan, foreign_fault
from workbench.lab.firmware import Firmware, find_firmware
from workbench.lab.guests import GuestAddresses, check_guests, summary
from workbench.lab.qemu import MachineSpec, QemuProcess, qemu_binary
from workbench.lab.request import (
    BOOT_MODES,
    TFTP_SERVERS,
    BootRequest,
    gdbstub_args,
    request_arch,
)
from workbench.lab.shim import ShimWatch, second_stage, staged_request
from workbench.lab.tpm import SoftwareTpm

OnEvent = Callable[[Event], None]
# After `stub: error:`, how long to wait for the reset when the stub did not announce a delay.
ERROR_RESET_WINDOW = 10.0
# Extra wait beyond an announced `stub: resetting in=Ns`.
RESET_GRACE = 4.0
# How many of the console's last lines a timeout reports.
CONSOLE_TAIL = 3
_STOP = object()
__all__ = ["TFTP_SERVERS", "BootRequest", "BootRun", "boot"]
# What the sample initramfs prints with a TPM: "WORKBENCH-PCR <bank> <pcr> <hex>".
_PCR_LINE = re.compile(r"WORKBENCH-PCR (sha1|sha256|sha384) (\d+) ([0-9A-Fa-f]+)")
# The stub's reason when the kernel's EFI stub called Exit() (stub/FORMAT.md, section 6).
KERNEL_STUB_FAILED = "the kernel's EFI stub failed"


class Lab(Protocol):
    def start(self, publish: Callable[[Event], None]) -> None: ...

    def stop(self) -> None: ...


class LocalLab:
    """The tree as a FAT disk image on virtio-blk, no network."""

    def __init__(self, request: BootRequest, firmware: Firmware, workdir: Path) -> None:
        self.request = request
        self.firmware = firmware
        self.workdir = workdir
        self.qemu: QemuProcess | None = None
        self.tpm: SoftwareTpm | None = None

    def start(self, publish: Callable[[Event], None]) -> None:
        if self.request.tpm:
            self.tpm = SoftwareTpm().start()
            pid = self.tpm.process.pid if self.tpm.process else "?"
            publish(LabNote(f"swtpm (pid {pid}): TPM 2.0 for the guest"))
        image = make_esp_image(self.request.root, self.workdir / "esp.img")
        publish(LabNote(f"ESP image {image.stat().st_size // (1024 * 1024)} MiB"))
        vars_path = self.workdir / "vars.fd"
        shutil.copyfile(self.request.vars_template or self.firmware.vars_template, vars_path)
        spec = MachineSpec(
            firmware=self.firmware,
            vars_path=vars_path,
            qmp_path=self.workdir / "qmp.sock",
            memory_mb=self.request.memory_mb,
            secure_boot=self.request.secure_boot,
            disk_image=image,
            tpm_socket=self.tpm.socket if self.tpm is not None else None,
            extra_args=gdbstub_args(self.request.gdb_socket),
            arch=by_name(self.firmware.arch),
        )
        self.qemu = QemuProcess(spec, publish)
        self.qemu.start()

    def stop(self) -> None:
        try:
            if self.qemu is not None:
                self.qemu.stop()
        finally:
            if self.tpm is not None:
                self.tpm.stop()


def validate(request: BootRequest) -> Firmware:
    """Check the request; return the firmware to use. Raises WorkbenchError on bad input."""
    root = Path(request.root)
    if not root.is_dir():
        raise WorkbenchError(f"{root}: no such directory")
    arch = request_arch(request)
    if request.mode not in BOOT_MODES:
        raise WorkbenchError(f"unknown boot mode {request.mode!r} ({', '.join(BOOT_MODES)})")
    if request.ipv6 and request.mode == "local":
        raise WorkbenchError("--ipv6 needs --mode net or --mode http")
    if request.expect == "":
        raise WorkbenchError("the expected text must not be empty")
    if request.timeout <= 0:
        raise WorkbenchError("the timeout must be positive")
    if request.max_resets < 0:
        raise WorkbenchError("max resets must be 0 or more")
    if request.tftp_server not in TFTP_SERVERS:
        raise WorkbenchError(
            f"unknown TFTP server {request.tftp_server!r} ({', '.join(TFTP_SERVERS)})"
        )
    if request.tftp_server != "workbench" and (request.faults or request.mode != "net"):
        raise WorkbenchError("--tftp-server other than workbench needs --mode net and no faults")
    if request.tftp_server != "workbench" and request.ipv6:
        raise WorkbenchError("the TFTP peers (atftpd, dnsmasq) run over IPv4 only in the lab")
    if request.faults is not None:
        check_faults(request.faults, request.mode)
    if request.tftp_max_window < 1:
        raise WorkbenchError("the TFTP window cap must be 1 or more")
    if request.vars_template is not None and not Path(request.vars_template).is_file():
        raise WorkbenchError(f"{request.vars_template}: no such OVMF variable store")
    check_guests(request)
    qemu_binary(arch)
    # Through shim: the Secure Boot build, with Microsoft's keys (see lab/shim.py).
    return find_firmware(secure_boot=request.secure_boot or request.shim is not None, arch=arch)


def check_faults(faults: FaultPlan, mode: str) -> None:
    """Faults need a server to inject them: TFTP's own for net, HTTP's own for http."""
    if mode == "local":
        raise WorkbenchError("faults need --mode net or --mode http (a server to inject them)")
    flag = foreign_fault(faults, "http" if mode == "http" else "tftp")
    if flag is not None:
        other = "net" if mode == "http" else "http"
        raise WorkbenchError(f"{flag} is a fault of --mode {other}, not --mode {mode}")


@dataclass
class _Progress:
    started: float
    resets: int = 0
    errors: list[str] = field(default_factory=list)
    last_error: StubStep | None = None
    error_pending: bool = False  # a stub error since the last reset
    error_deadline: float | None = None
    reset_after_error: bool = False
    kernel_started: bool = False
    stub_seen: bool = False
    measured: dict[str, dict[str, str]] = field(default_factory=dict)
    firmware_errors: list[str] = field(default_factory=list)  # "Error: ..." lines before the stub
    # Where the boot stands, for an outcome that has nothing better to say (a timeout).
    last_stub_line: str | None = None
    console_tail: deque[str] = field(default_factory=lambda: deque(maxlen=CONSOLE_TAIL))
    in_flight: dict[tuple[str, str, str], Transfer] = field(default_factory=dict)

    def track_transfer(self, transfer: Transfer) -> None:
        key = (transfer.protocol, transfer.client, transfer.filename)
        if transfer.state in ("started", "progress"):
            self.in_flight[key] = transfer
        else:
            self.in_flight.pop(key, None)

    def where(self, now: float) -> dict[str, Any]:
        """The last stub line, the console's last lines, and each transfer in flight as the
        server last reported it."""
        return {
            "stub": self.last_stub_line,
            "console": list(self.console_tail),
            "in_flight": [
                {
                    "filename": t.filename,
                    "protocol": t.protocol,
                    "client": t.client,
                    "bytes": t.bytes,
                    "total": t.total,
                    "quiet_s": round(max(0.0, now - t.t), 1),
                }
                for t in self.in_flight.values()
            ],
        }


class BootRun:
    def __init__(self, request: BootRequest, on_event: OnEvent | None = None) -> None:
        self.request = request
        self.on_event = on_event
        self._queue: queue.Queue[object] = queue.Queue()
        self._started = time.monotonic()
        self._log: IO[str] | None = None
        self._shim_watch: ShimWatch | None = None
        # Several guests: each one's outcome once known, its console log (--log FILE.gN).
        self._decided: dict[int, Outcome] = {}
        self._guest_logs: dict[int, IO[str]] = {}
        # Every guest's outcome, in guest order, once run() returns.
        self.outcomes: list[Outcome] = []
        self._arch: Arch | None = None

    def stop(self) -> None:
        """Tear the run down from any thread; run() then returns an "interrupted" Outcome."""
        self._queue.put(_STOP)

    def run(self) -> Outcome:
        firmware = validate(self.request)
        self._started = time.monotonic()
        progress = _Progress(started=self._started)
        workdir = Path(tempfile.mkdtemp(prefix="workbench-boot-"))
        lab: Lab | None = None
        try:
            self._open_log()
            lab = self._make_lab(firmware, workdir)
            try:
                lab.start(self._queue.put)
            except OSError as error:
                outcome = self._outcome(progress, "lab-failed", f"lab failed to start: {error}")
            else:
                if self.request.guests == 1:
                    outcome = self._watch(progress)
                else:
                    outcome = self._watch_guests(lab)
        except KeyboardInterrupt:
            outcome = self._outcome(progress, "interrupted", "interrupted")
        finally:
            try:
                if lab is not None:
                    lab.stop()
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
                if sys.exc_info()[0] is not None:
                    self._close_logs()
        if self.request.guests > 1:
            outcome = self._conclude_guests(outcome)
        else:
            self.outcomes = [outcome]
        self._publish(outcome)
        self._close_logs()
        return outcome

    def _close_logs(self) -> None:
        for log in (self._log, *self._guest_logs.values()):
            if log is not None:
                log.close()

    def _open_log(self) -> None:
        if self.request.log is None:
            return
        if self.request.guests > 1:
            # One console log per guest: FILE.g0, FILE.g1...
            for index in range(self.request.guests):
                path = Path(f"{self.request.log}.g{index}")
                self._guest_logs[index] = self._open_one_log(path)
            return
        self._log = self._open_one_log(Path(self.request.log))

    @staticmethod
    def _open_one_log(path: Path) -> IO[str]:
        try:
            return open(path, "w", encoding="utf-8")
        except OSError as error:
            reason = error.strerror or str(error)
            raise WorkbenchError(f"{path}: cannot write the log: {reason}") from None

    def _make_lab(self, firmware: Firmware, workdir: Path) -> Lab:
        request = self._through_shim(workdir) if self.request.shim else self.request
        if request.mode in ("net", "http"):
            from workbench.lab.netns import NetLab

            return NetLab(request, firmware, workdir)
        return LocalLab(request, firmware, workdir)

    def _through_shim(self, workdir: Path) -> BootRequest:
        """The lab boots shim with the stub behind it; self.request (its tree, for the PCR
        prediction) stays as asked."""
        staged, notes = staged_request(self.request, workdir)
        for note in notes:
            self._publish(LabNote(f"shim: {note}"))
        self._shim_watch = ShimWatch(second_stage(self.arch))
        return staged

    def _publish(self, event: Event) -> None:
        event.t = round(time.monotonic() - self._started, 3)
        log = self._log
        if self._guest_logs and event.guest is not None:
            log = self._guest_logs.get(event.guest)
        if log is not None:
            if isinstance(event, SerialLine):
                log.write(event.text + "\n")
            elif isinstance(event, Outcome):
                log.write(f"# outcome: {event.kind}: {event.reason}\n")
            log.flush()
        if self.on_event is not None:
            self.on_event(event)

    def _watch(self, progress: _Progress) -> Outcome:
        deadline = self._started + self.request.timeout
        while True:
            wait_until = min(deadline, progress.error_deadline or deadline)
            try:
                item = self._queue.get(timeout=max(0.0, wait_until - time.monotonic()))
            except queue.Empty:
                if progress.error_pending:
                    return self._stub_error(progress, "no reset followed")
                return self._timeout(progress)
            if item is _STOP:
                return self._outcome(progress, "interrupted", "stopped")
            assert isinstance(item, Event)
            outcome = self._handle(item, progress)
            if outcome is not None:
                return outcome

    def _watch_guests(self, lab: Lab) -> Outcome:
        """Several guests: each event goes to its guest's progress, under the same rules as
        one guest's; a guest whose outcome is known is stopped, the others go on. Returns
        when every guest has an outcome (the run's summary is made by run())."""
        count = self.request.guests
        progresses = [_Progress(started=self._started) for _ in range(count)]
        addresses = GuestAddresses(count)
        deadline = self._started + self.request.timeout

        def undecided() -> list[int]:
            return [i for i in range(count) if i not in self._decided]

        while undecided():
            errors = [progresses[i].error_deadline for i in undecided()]
            wait_until = min([deadline, *(e for e in errors if e is not None)])
            try:
                item = self._queue.get(timeout=max(0.0, wait_until - time.monotonic()))
            except queue.Empty:
                now = time.monotonic()
                for index in undecided():
                    progress = progresses[index]
                    due = progress.error_deadline
                    error_due = due is not None and due <= now
                    if progress.error_pending and (error_due or now >= deadline):
                        self._decide(lab, index, self._stub_error(progress, "no reset followed"))
                    elif now >= deadline:
                        self._decide(lab, index, self._timeout(progress))
                continue
            if item is _STOP:
                for index in undecided():
                    self._decide(lab, index, self._outcome(progresses[index], "interrupted",
                                                           "stopped"))  # fmt: skip
                break
            assert isinstance(item, Event)
            if item.guest is None:
                if isinstance(item, LabNote):
                    addresses.learn_note(item.text)
                addresses.attribute(item)
            if item.guest is None or item.guest not in undecided():
                self._publish(item)
                if isinstance(item, LabFailed):
                    for index in undecided():
                        failed = self._outcome(progresses[index], "lab-failed", item.reason)
                        self._decide(lab, index, failed)
                continue
            outcome = self._handle(item, progresses[item.guest])
            if outcome is not None:
                self._decide(lab, item.guest, outcome)
        return summary([self._decided[i] for i in range(count)], self._seconds())

    def _decide(self, lab: Lab, index: int, outcome: Outcome) -> None:
        """Guest `index` has its outcome: the lab ends that machine (NetLab.stop_guest), so
        one that failed does not keep the others' cores busy."""
        outcome.guest = index
        self._decided[index] = outcome
        stop_guest = getattr(lab, "stop_guest", None)
        if stop_guest is not None:
            stop_guest(index)

    def _conclude_guests(self, outcome: Outcome) -> Outcome:
        """Every guest's outcome (a guest without one gets the run's, e.g. interrupted),
        published in guest order; then the run's summary."""
        for index in range(self.request.guests):
            if index not in self._decided:
                self._decided[index] = replace(outcome, guest=index)
        self.outcomes = [self._decided[i] for i in range(self.request.guests)]
        for guest_outcome in self.outcomes:
            self._publish(guest_outcome)
        if outcome.guest is None:
            return outcome
        return summary(self.outcomes, self._seconds())

    def _seconds(self) -> float:
        return round(time.monotonic() - self._started, 3)

    def _timeout(self, progress: _Progress) -> Outcome:
        where = progress.where(time.monotonic() - self._started)
        reason = f"{self._goal()} not reached in {self.request.timeout:g}s; {describe_where(where)}"
        outcome = self._outcome(progress, "timeout", reason)
        outcome.where = where
        return outcome

    def _goal(self) -> str:
        if self.request.expect is not None:
            return repr(self.request.expect)
        return "kernel start and power-off"

    def _handle(self, event: Event, progress: _Progress) -> Outcome | None:
        self._publish(event)
        if isinstance(event, Transfer):
            progress.track_transfer(event)
        if isinstance(event, SerialLine):
            if event.text.strip():
                progress.console_tail.append(event.text.strip())
            step = parse_stub_line(event.text)
            if step is not None:
                step.guest = event.guest
                self._publish(step)
                outcome = self._on_step(step, progress)
                if outcome is not None:
                    return outcome
            pcr = _PCR_LINE.search(event.text)
            if pcr is not None:
                bank, index, value = pcr.groups()
                progress.measured.setdefault(bank, {})[index] = value.lower()
            if self.request.expect is not None and self.request.expect in event.text:
                return self._booted(progress, f"saw {self.request.expect!r}")
            refusal = parse_firmware_refusal(event.text)
            if refusal is not None:
                # Under Secure Boot the firmware then only tries slower options that lead nowhere.
                option, description, status = refusal
                reason = firmware_refusal_reason(option, description, status)
                return self._outcome(progress, "firmware-refused", reason)
            if self._shim_watch is not None and not progress.stub_seen:
                refused = self._shim_watch.feed(event.text)
                if refused is not None:
                    return self._outcome(progress, "shim-refused", refused)
            failure = parse_firmware_load_failure(event.text)
            if failure is not None and self._is_prelude(failure[1]):
                progress.firmware_errors.clear()  # the next option starts afresh
            elif failure is not None and self.request.mode != "local" and not progress.stub_seen:
                # The lab offers one network boot; the firmware's own download of it failed.
                option, description, status = failure
                reason = f'the firmware could not load {option} "{description}": {status.strip()}'
                if progress.firmware_errors:
                    reason += f" ({'; '.join(progress.firmware_errors)})"
                return self._outcome(progress, "firmware-failed", reason)
            if event.text.strip().startswith("Error: ") and not progress.stub_seen:
                progress.firmware_errors.append(event.text.strip().removeprefix("Error: "))
        elif isinstance(event, Reset):
            return self._on_reset(progress)
        elif isinstance(event, MachineExit):
            return self._on_exit(event, progress)
        elif isinstance(event, LabFailed):
            return self._outcome(progress, "lab-failed", event.reason)
        return None

    def _is_prelude(self, description: str) -> bool:
        """A boot option the lab puts before the one it offers: PXE over IPv6 ahead of HTTP
        Boot over IPv6 (see netns_child.firmware_switches). Its failure is expected. AAVMF
        (aarch64) also keeps HTTP Boot over IPv4 in front: no fw_cfg switch takes it away, and
        it gives up after a minute without a DHCPv4 answer."""
        if self.request.mode != "http" or not self.request.ipv6:
            return False
        return "PXEv6" in description or ("HTTPv4" in description and self.arch is not X86_64)

    @property
    def arch(self) -> Arch:
        """The machine's architecture (the request's, else the tree's)."""
        if self._arch is None:
            self._arch = request_arch(self.request)
        return self._arch

    def _on_step(self, step: StubStep, progress: _Progress) -> Outcome | None:
        progress.stub_seen = True
        progress.last_stub_line = step.raw
        now = time.monotonic()
        if step.step == "error":
            progress.errors.append(step.raw.partition("stub: ")[2])
            progress.last_error = step
            progress.error_pending = True
            progress.error_deadline = now + ERROR_RESET_WINDOW
        elif step.step == "resetting" and progress.error_pending:
            # `resetting in=5s`; an older stub wrote `resetting in 5s`.
            announced = step.fields.get("in") or step.raw.partition("resetting")[2]
            delay = re.search(r"(\d+(?:\.\d+)?)\s*s", announced)
            if delay:
                progress.error_deadline = now + float(delay.group(1)) + RESET_GRACE
        elif step.step == "halting" and progress.error_pending:
            return self._stub_error(progress, "the stub halted")
        elif step.step == "starting":
            progress.kernel_started = True
        return None

    def _on_reset(self, progress: _Progress) -> Outcome | None:
        progress.resets += 1
        if progress.error_pending:
            progress.reset_after_error = True
        if progress.resets > self.request.max_resets:
            if progress.error_pending or progress.errors:
                return self._stub_error(progress, "the machine reset")
            reason = f"the machine reset {progress.resets} time(s), no stub error"
            return self._outcome(progress, "reset-loop", reason)
        progress.error_pending = False
        progress.error_deadline = None
        progress.kernel_started = False
        return None

    def _on_exit(self, event: MachineExit, progress: _Progress) -> Outcome:
        if event.code not in (0, None) and not event.guest_shutdown:
            last = (event.stderr_tail.splitlines() or [f"exit code {event.code}"])[-1]
            return self._outcome(progress, "qemu-failed", f"qemu: {last}")
        if progress.error_pending:
            return self._stub_error(progress, "the machine stopped")
        if (
            self.request.expect is None
            and event.guest_shutdown
            and (progress.kernel_started or not progress.stub_seen)
        ):
            return self._booted(progress, "the machine booted and powered off")
        how = "powered off" if event.guest_shutdown else f"exited (code {event.code})"
        return self._outcome(progress, "exited", f"the machine {how} before {self._goal()}")

    def _booted(self, progress: _Progress, reason: str) -> Outcome:
        """Booted; with a TPM, only when PCR 11 reads what `workbench pcrs` predicts."""
        if not self.request.tpm:
            return self._outcome(progress, "booted", reason, ok=True)
        check = self._check_pcrs(progress)
        if check["match"]:
            outcome = self._outcome(progress, "booted", f"{reason}; PCR 11 as predicted", ok=True)
        else:
            outcome = self._outcome(progress, "pcr-mismatch", f"{reason}; {check['why']}")
        outcome.pcrs = check
        return outcome

    def _check_pcrs(self, progress: _Progress) -> dict[str, Any]:
        from workbench.pcrs import predict
        from workbench.pe.image import PeImage

        stub = Path(self.request.root) / self.arch.boot_path
        with PeImage.open(stub) as image:
            prediction = predict(image, ("sha256", "sha384", "sha1"), Path(self.request.root))
        check: dict[str, Any] = {"scheme": prediction.scheme, "predicted": prediction.banks,
                                 "measured": progress.measured, "match": False}  # fmt: skip
        banks = [bank for bank in progress.measured if "11" in progress.measured[bank]]
        if not banks:
            check["why"] = "the guest printed no PCR 11 (no TPM seen by the kernel?)"
            return check
        for bank in banks:
            measured = progress.measured[bank]["11"]
            predicted = prediction.banks[bank]["11"]
            if measured != predicted:
                check["why"] = (f"PCR 11 ({bank}) is {measured[:16]}..., "
                                f"predicted {predicted[:16]}...")  # fmt: skip
                return check
        check["match"] = True
        check["why"] = f"PCR 11 as predicted ({', '.join(banks)})"
        return check

    def _stub_error(self, progress: _Progress, what_then: str) -> Outcome:
        step = progress.last_error
        if step is not None and step.reason == KERNEL_STUB_FAILED:
            status = step.fields.get("status", "unknown status")
            reason = f"{KERNEL_STUB_FAILED}: {status} ({what_then})"
            return self._outcome(progress, "kernel-failed", reason)
        last = progress.errors[-1] if progress.errors else "error"
        return self._outcome(progress, "stub-error", f"stub {last} ({what_then})")

    def _outcome(
        self, progress: _Progress, kind: OutcomeKind, reason: str, ok: bool = False
    ) -> Outcome:
        return Outcome(
            ok=ok,
            kind=kind,
            reason=reason,
            seconds=round(time.monotonic() - self._started, 3),
            resets=progress.resets,
            errors=list(progress.errors),
            reset_after_error=progress.reset_after_error,
        )


def describe_where(where: dict[str, Any]) -> str:
    """Where a boot stood, in one line: the stub's last line, each transfer in flight with the
    server's last word on it, and the console's last line."""
    parts = []
    if where["stub"]:
        parts.append(f"the stub's last line: {where['stub']!r}")
    else:
        parts.append("the stub printed nothing")
    for transfer in where["in_flight"]:
        total = f" of {transfer['total']}" if transfer["total"] is not None else ""
        parts.append(
            f"in flight: {transfer['filename']!r} over {transfer['protocol']} to "
            f"{transfer['client']}, {transfer['bytes']}{total} bytes, the server's last report "
            f"{transfer['quiet_s']:g} s before"
        )
    if where["console"] and where["console"][-1] != where["stub"]:
        parts.append(f"the console's last line: {where['console'][-1]!r}")
    return "; ".join(parts)


def boot(request: BootRequest, on_event: OnEvent | None = None) -> Outcome:
    return BootRun(request, on_event).run()
