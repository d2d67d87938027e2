"""`workbench debug`: the stub under GDB in the lab, its symbols at the address it was loaded.

The machine's variable store gets StubWorkbenchDebug = 1 (stub/src/debug.h); the stub then
prints `stub: debug base=0x...` and spins until a debugger sets `stub_debugger_attached`. The
tree is booted as it is: nothing in the image changes. QEMU's gdbstub listens on a unix socket;
once the base is known, GDB connects, loads the unstripped ELF (`stub.so`, linked at 0, so its
addresses are RVAs) at that base, sets the breakpoints, releases the stub and continues.
Interactive: GDB takes the terminal. Batch: each breakpoint hit prints its backtrace, arguments
and locals, and the boot goes on to its outcome. MI (the TUI's Debug tab): GDB/MI through
workbench.gdb_mi, the session handed to the caller once the stub is released.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from workbench import contract
from workbench.arch import Arch
from workbench.debug_images import ImageEntryFinder, ImageNotLoaded
from workbench.efi_images import LoadedImage, PeFacts, file_reader, pe_facts
from workbench.errors import BadInput, LabFailure, MissingTool, WorkbenchError
from workbench.gdb_mi import GdbError, GdbText, MiNote, MiSession, Stopped
from workbench.gdb_prompt import prompt_loop
from workbench.lab.boot import BootRun
from workbench.lab.events import Event, Outcome, StubStep
from workbench.lab.firmware import find_firmware
from workbench.lab.request import BootMode, BootRequest, request_arch
from workbench.pe.image import PeImage

# The host's own GDB debugs x86_64 guests; an arm64 guest needs one that knows AArch64.
GDB = {"x86_64": ("gdb", "gdb"), "aarch64": ("gdb-multiarch", "gdb-multiarch")}
# The EFI variable that makes the stub wait (stub/src/debug.h): one byte, 1.
DEBUG_VARIABLE = "StubWorkbenchDebug"
DEBUG_VARIABLE_GUID = "eec1a4e9-d10a-419b-9d4b-2dfd783569f5"
ATTACH_SYMBOL = "stub_debugger_attached"
# The stub's failure path: every `stub: error:` line goes through it, so a failing boot stops
# where it fails.
DEFAULT_BREAKPOINTS = ("console_error",)
# The MI front end hands the session over stopped here: the stub's boot(), right after the wait.
FIRST_STOP = "boot"
MI_FIRST_STOP_TIMEOUT = 60.0
# Once the boot has its outcome, how long GDB gets to see the connection close.
GDB_GRACE = 10.0
# "Breakpoint 2, local_read (device=...) at src/local.c:84", or "Thread 1 hit Breakpoint 2, ..."
_HIT = re.compile(r"^(?:Thread \S+ hit )?Breakpoint (\d+), (?:0x[0-9a-f]+ in )?([A-Za-z_]\w*) \(")


@dataclass(frozen=True)
class DebugOptions:
    breakpoints: tuple[str, ...] = DEFAULT_BREAKPOINTS
    batch: bool = False
    user_commands: Path | None = None  # sourced after the setup, before the first continue
    # Our stub too is stopped at its first instruction through the firmware's debug image
    # table (instead of waiting for the debugger), so `break efi_main` hits.
    from_entry: bool = False


def gdb_plan(socket: Path, symbols: Path, base: int, options: DebugOptions) -> list[str]:
    """The GDB script: connect, place the symbols at the load address, break, release the stub,
    continue. In batch mode each breakpoint reports its frame and goes on."""
    lines = [
        "set pagination off",
        "set confirm off",
        "set print elements 256",
        f"target remote {socket}",
        f"add-symbol-file {symbols} -o {base:#x}",
    ]
    for where in options.breakpoints:
        lines.append(f"break {where}")
        if options.batch:
            lines += ["commands", "bt", "info args", "info locals", "continue", "end"]
    lines.append(f"set var {ATTACH_SYMBOL} = 1")
    if options.user_commands is not None:
        lines.append(f"source {options.user_commands}")
    lines.append("continue")
    return lines


def gdb_command(gdb: str, script: Path, batch: bool) -> list[str]:
    return [gdb, "-q", "-nx", *(["-batch"] if batch else []), "-x", str(script)]


def check_breakpoint(where: str) -> str:
    """A function name, FILE:LINE or *ADDRESS: one GDB word, nothing that ends the command."""
    if not where or any(c.isspace() for c in where) or not where.isprintable():
        raise BadInput(f"--break {where!r}: give a function name, FILE:LINE or *ADDRESS")
    return where


def symbols_beside(stub: Path) -> Path:
    """The unstripped ELF the stub was made from: stub.so next to stub.efi (stubaa64.so next to
    stubaa64.efi)."""
    symbols = stub.with_suffix(".so")
    if not symbols.is_file():
        raise MissingTool(
            f"no {symbols} (the unstripped ELF with the stub's symbols; `make stub` builds it "
            f"next to {stub.name}, or give --symbols)"
        )
    return symbols


def find_gdb(arch: Arch) -> str:
    """The GDB for the guest's architecture, or MissingTool naming its package."""
    program, package = GDB[arch.name]
    gdb = shutil.which(program)
    if gdb is None:
        raise MissingTool(f"{program} not found (install {package}: it debugs {arch.label} guests)")
    return gdb


def elf_section(path: Path, wanted: str) -> tuple[int, bytes] | None:
    """An ELF64 little-endian file's section: its address and bytes (None when absent)."""
    data = path.read_bytes()
    if data[:6] != b"\x7fELF\x02\x01":
        raise BadInput(f"{path}: not a 64-bit little-endian ELF file")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def header(index: int) -> tuple[int, int, int, int, int]:
        name, kind, _, address, offset, size = struct.unpack_from(
            "<IIQQQQ", data, shoff + index * shentsize
        )
        return name, kind, address, offset, size

    names_offset = header(shstrndx)[3]
    for index in range(shnum):
        name, _, address, offset, size = header(index)
        end = data.index(b"\0", names_offset + name)
        if data[names_offset + name : end].decode() == wanted:
            return address, data[offset : offset + size]
    return None


def check_symbols_match(symbols: Path, stub: Path) -> None:
    """The ELF's .text must be the PE's, at the same RVA: else every symbol would sit at the
    wrong address and GDB would say nothing about it."""
    text = elf_section(symbols, ".text")
    with PeImage.open(stub) as image:
        section = image.section(".text")
        pe_text = image.section_data(section)[: section.virtual_size] if section else None
        rva = section.virtual_address if section else None
    if text is None or pe_text is None:
        raise BadInput(f"{symbols} or {stub} has no .text section")
    address, code = text
    if address != rva or code != pe_text[: len(code)]:
        raise BadInput(
            f"{symbols} is not the ELF {stub} was built from (.text differs); rebuild the tree "
            "with `workbench build`, or give --symbols"
        )


def debug_vars(template: Path, out: Path, arch: Arch) -> Path:
    """OUT: the variable store TEMPLATE with StubWorkbenchDebug = 1, the stub's cue to wait.
    A blank store (AAVMF's is unformatted flash, formatted by the firmware at first boot) is
    replaced by the format of the arch's enrolled store with none of its variables."""
    from virt.firmware.efi.efivar import EfiVar
    from virt.firmware.varstore import edk2

    blank = not edk2.Edk2VarStore.probe(str(template)) and not template.read_bytes().strip(b"\0")
    if blank:
        template = find_firmware(secure_boot=True, arch=arch).vars_template
    if not edk2.Edk2VarStore.probe(str(template)):
        raise BadInput(f"{template} is not an edk2 variable store")
    try:
        store = edk2.Edk2VarStore(str(template))
        varlist = store.get_varlist()
        if blank:
            varlist.clear()
        variable = EfiVar(DEBUG_VARIABLE, guid=DEBUG_VARIABLE_GUID, data=b"\x01")
        variable.update_time()
        varlist[DEBUG_VARIABLE] = variable
        out.write_bytes(bytes(store.bytes_varstore(varlist)))
    except (ValueError, KeyError, IndexError, struct.error) as error:
        raise LabFailure(f"cannot set {DEBUG_VARIABLE} in {template}: {error}") from None
    return out


@dataclass
class BreakpointHit:
    number: int
    function: str


@dataclass
class DebugResult:
    outcome: Outcome
    base: int | None
    gdb_output: list[str] = field(default_factory=list)
    hits: list[BreakpointHit] = field(default_factory=list)
    gdb_exit: int | None = None
    interactive: bool = False  # GDB wrote to the terminal: no hits counted
    gdb_left_early: bool = False  # GDB ended while the machine still ran
    # A foreign image (not our stub): what the firmware's debug image table showed at its entry.
    foreign: str | None = None  # the image's name, when it was not our stub
    images: list[LoadedImage] = field(default_factory=list)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for hit in self.hits:
            counts[hit.function] = counts.get(hit.function, 0) + 1
        hits = ", ".join(f"{name} x{count}" for name, count in counts.items()) or "none"
        base = f"{self.base:#x}" if self.base is not None else "never printed"
        if self.foreign is not None and self.base is None:
            base = "never loaded"
        if self.interactive:
            hits = "(interactive, not counted)"
        if self.gdb_left_early:
            hits += f"; gdb ended before the boot did (exit {self.gdb_exit})"
        verdict = "ok" if self.outcome.ok else "FAILED"
        what = "stub" if self.foreign is None else f"image {self.foreign}"
        return (
            f"debug: {what} base {base}; breakpoint hits: {hits}\n"
            f"outcome: {verdict}: {self.outcome.kind} after {self.outcome.seconds:.1f}s: "
            f"{self.outcome.reason}"
        )


@dataclass
class DebugRequest:
    root: Path
    mode: BootMode = "local"
    ipv6: bool = False
    options: DebugOptions = DebugOptions()
    timeout: float = 150
    expect: str | None = None
    symbols: Path | None = None  # default: stub.so beside the stub `workbench build` uses
    # Secure Boot: the firmware with keys enrolled (this store, StubWorkbenchDebug added to a
    # copy); signatures are enforced as in any boot, the debugger changes nothing there.
    secure_boot: bool = False
    vars_template: Path | None = None
    tpm: bool = False
    log: Path | None = None
    arch: str | None = None  # the machine: as in BootRequest, the tree's when None


class DebugRun:
    """Boot a debug copy of the tree and run GDB against it; `on_event` sees the boot's events,
    `on_gdb_line` GDB's output (batch only: interactive GDB writes to the terminal).

    With `on_session`, GDB runs in MI mode: once it is connected, the symbols placed, the
    breakpoints set and the stub released, the caller gets the session with the machine
    still stopped (it then drives GDB: continue, step, next, finish) and `on_note` sees GDB's
    stops."""

    def __init__(
        self,
        request: DebugRequest,
        on_event: Callable[[Event], None] | None = None,
        on_gdb_line: Callable[[str], None] | None = None,
        on_session: Callable[[MiSession], None] | None = None,
        on_note: Callable[[MiNote], None] | None = None,
    ) -> None:
        self.request = request
        self.on_event = on_event
        self.on_gdb_line = on_gdb_line
        self.on_session = on_session
        self.on_note = on_note
        self._based = threading.Event()
        self._base: int | None = None
        self._outcome: Outcome | None = None
        self._done = threading.Event()
        self._boot_run: BootRun | None = None
        self._stopping = threading.Event()

    def stop(self) -> None:
        """End the run from another thread: the machine stops, GDB sees the connection close."""
        self._stopping.set()
        if self._boot_run is not None:
            self._boot_run.stop()

    def run(self) -> DebugResult:
        arch = request_arch(
            BootRequest(root=self.request.root, mode=self.request.mode, arch=self.request.arch)
        )
        gdb = find_gdb(arch)
        options = self.request.options
        for where in options.breakpoints:
            check_breakpoint(where)
        if options.user_commands is not None and not options.user_commands.is_file():
            raise BadInput(f"{options.user_commands}: no such file")
        root = Path(self.request.root)
        stub = root / arch.boot_path
        ours = is_our_stub(stub)
        wanted = None if ours and not options.from_entry else foreign_facts(stub)
        symbols = self.request.symbols
        if ours:
            symbols = symbols or symbols_beside(default_stub(arch))
        if symbols is not None and not symbols.is_file():
            raise BadInput(f"{symbols}: no such file")
        if ours and symbols is not None:
            check_symbols_match(symbols, stub)
        # Short and private: the socket path must fit sockaddr_un.
        with tempfile.TemporaryDirectory(prefix="wbdebug-", dir="/tmp") as scratch:
            work = Path(scratch)
            template = (
                self.request.vars_template
                or find_firmware(secure_boot=self.request.secure_boot, arch=arch).vars_template
            )
            # Stopped at its entry, our stub must not also wait for a debugger.
            if wanted is None:
                template = debug_vars(template, work / "vars.fd", arch)
            return self._debug(gdb, symbols, work, template, wanted, arch)

    def _debug(
        self,
        gdb: str,
        symbols: Path | None,
        work: Path,
        vars_template: Path,
        wanted: PeFacts | None,
        arch: Arch,
    ) -> DebugResult:
        socket = work / "gdb.sock"
        boot = BootRun(
            BootRequest(
                root=self.request.root,
                vars_template=vars_template,
                mode=self.request.mode,
                ipv6=self.request.ipv6,
                expect=self.request.expect,
                timeout=self.request.timeout,
                gdb_socket=socket,
                secure_boot=self.request.secure_boot,
                tpm=self.request.tpm,
                log=self.request.log,
                arch=arch.name,
            ),
            self._event,
        )
        self._boot_run = boot
        if self._stopping.is_set():
            boot.stop()
        failure: list[BaseException] = []
        thread = threading.Thread(target=self._boot, args=(boot, failure), daemon=True)
        thread.start()
        placeholder = Outcome(ok=False, kind="interrupted", reason="", seconds=0)
        result = DebugResult(outcome=placeholder, base=None)
        result.interactive = not self.request.options.batch and self.on_session is None
        try:
            if wanted is not None:
                result.foreign = self.request.root.joinpath(arch.boot_path).name
                self._run_foreign(gdb, socket, symbols, wanted, result)
            else:
                assert symbols is not None  # our stub's: run() found them
                self._run_waiting_stub(gdb, socket, symbols, work, result)
            thread.join()
        except KeyboardInterrupt:
            boot.stop()
            thread.join()
        if failure:
            error = failure[0]
            raise error if isinstance(error, WorkbenchError) else LabFailure(str(error))
        assert self._outcome is not None
        result.outcome = self._outcome
        if result.base is None and wanted is not None:
            result.outcome.ok = False
            result.outcome.reason = (
                f"the firmware never started {result.foreign}; "
                f"{result.outcome.kind}: {result.outcome.reason}"
            )
        elif result.base is None:
            result.outcome.ok = False
            result.outcome.reason = (
                f"the stub printed no `debug base=` line (a stub older than StubWorkbenchDebug?); "
                f"{result.outcome.kind}: {result.outcome.reason}"
            )
        return result

    def _boot(self, boot: BootRun, failure: list[BaseException]) -> None:
        try:
            self._outcome = boot.run()
        except BaseException as error:  # handed to the main thread
            failure.append(error)
        finally:
            self._done.set()

    def _event(self, event: Event) -> None:
        if isinstance(event, StubStep) and event.step == "debug" and self._base is None:
            with contextlib.suppress(ValueError):
                self._base = int(event.fields.get("base", ""), 16)
                self._based.set()
        if self.on_event is not None:
            self.on_event(event)

    def _run_gdb(self, command: list[str], result: DebugResult) -> None:
        if not self.request.options.batch:
            # The terminal's Ctrl-C belongs to GDB (it stops the guest), not to us.
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                result.gdb_exit = subprocess.run(command, check=False).returncode
            finally:
                signal.signal(signal.SIGINT, previous)
            return
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        reader = threading.Thread(target=self._read_gdb, args=(process, result), daemon=True)
        reader.start()
        try:
            while process.poll() is None and not self._done.wait(0.2):
                pass
            result.gdb_left_early = not self._done.is_set()
            # The boot ended: QEMU is gone, and GDB sees the connection close.
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=GDB_GRACE)
        finally:
            if process.poll() is None:
                process.kill()
            result.gdb_exit = process.wait()
            reader.join(timeout=5)

    def _run_waiting_stub(
        self, gdb: str, socket: Path, symbols: Path, work: Path, result: DebugResult
    ) -> None:
        """Our stub prints its base and waits: GDB/MI for the TUI, else a script."""
        while not self._based.wait(0.2) and not self._done.is_set():
            pass
        if self._base is None:
            return
        result.base = self._base
        if self.on_session is not None:
            self._run_mi(gdb, socket, symbols, self._base, result)
            return
        script = work / "session.gdb"
        plan = gdb_plan(socket, symbols, self._base, self.request.options)
        script.write_text("\n".join(plan) + "\n")
        self._run_gdb(gdb_command(gdb, script, self.request.options.batch), result)

    def _run_mi(
        self, gdb: str, socket: Path, symbols: Path, base: int, result: DebugResult
    ) -> None:
        """GDB/MI: the same setup as gdb_plan, then the caller drives until the boot ends."""
        assert self.on_session is not None
        session = MiSession(gdb, self._mi_note)
        try:
            session.console("set pagination off")
            session.console("set print elements 256")
            session.request(f"-target-select remote {socket}")
            session.console(f"add-symbol-file {symbols} -o {base:#x}")
            for where in self.request.options.breakpoints:
                session.break_at(where)
            session.console(f"set var {ATTACH_SYMBOL} = 1")
            # Handed over stopped where the stub goes on after the wait (in its own code, not
            # in the firmware's Stall, where no frame unwinds): the caller adds breakpoints and
            # continues.
            session.request(f"-break-insert -t {FIRST_STOP}")
            session.resume_until_stopped("continue", MI_FIRST_STOP_TIMEOUT)
            self.on_session(session)
            while not self._done.wait(0.2) and not session.closed:
                pass
            result.gdb_left_early = not self._done.is_set()
        finally:
            session.close()

    def _run_foreign(
        self,
        gdb: str,
        socket: Path,
        symbols: Path | None,
        wanted: PeFacts,
        result: DebugResult,
    ) -> None:
        """Any image: stop at its entry point through the debug image table (debug_images)."""
        while not socket.exists() and not self._done.wait(0.05):
            pass  # QEMU makes the socket as it starts
        if self._done.is_set():
            return
        deadline = time.monotonic() + self.request.timeout
        batch = self.on_session is None and self.request.options.batch

        # GDB's chatter while the finder slices the run and watches image loads is not shown.
        finding = threading.Event()
        finding.set()

        def note(event: MiNote) -> None:
            if finding.is_set():
                return
            if isinstance(event, GdbText) and batch:
                self._gdb_line(event.text, result)
            elif isinstance(event, GdbText) and self.on_session is None:
                print(event.text, flush=True)  # the prompt's output
            self._mi_note(event)

        session = MiSession(gdb, note)
        try:
            session.console("set pagination off")
            session.request(f"-target-select remote {socket}")
            finder = ImageEntryFinder(session, wanted, BootRequest.memory_mb << 20)
            try:
                entry = finder.stop_at_entry(deadline)
            except (ImageNotLoaded, GdbError) as error:
                self._gdb_line(f"no stop at {result.foreign}'s entry point: {error}", result)
                return
            finding.clear()
            result.base = entry.image.base
            result.images = finder.images(entry.header)
            assert entry.image.facts is not None
            self._gdb_line(
                f"{result.foreign} loaded at {entry.image.base:#x}, stopped at its entry point "
                f"{entry.image.base + entry.image.facts.entry:#x} (image loads watched: "
                f"{entry.watch_stops}); the firmware's debug image table:",
                result,
            )
            for image in result.images:
                self._gdb_line(f"  {image.line()}", result)
            if symbols is not None:
                # The ELF's addresses are the PE's preferred base plus RVAs (elf2efi, objcopy).
                offset = entry.image.base - wanted.image_base
                session.console(f"add-symbol-file {symbols} -o {offset:#x}")
            for where in self.request.options.breakpoints:
                if where in DEFAULT_BREAKPOINTS and symbols is None:
                    continue  # our failure path: not in this image, or no symbols to find it
                try:
                    session.break_at(where)
                except GdbError as error:
                    if where not in DEFAULT_BREAKPOINTS:
                        self._gdb_line(f"break {where}: {error}", result)
            if self.on_session is not None:
                self.on_session(session)
                while not self._done.wait(0.2) and not session.closed:
                    pass
            elif batch:
                self._foreign_batch(session, result)
            else:
                # QEMU would let the machine go with this session's end: the prompt runs in it.
                if self.request.options.user_commands is not None:
                    session.console(f"source {self.request.options.user_commands}")
                session.console("bt")
                prompt_loop(session, self._done)
        finally:
            finding.set()  # GDB's words as it is closed are not the user's business
            session.close()

    def _foreign_batch(self, session: MiSession, result: DebugResult) -> None:
        """As gdb_plan's batch mode: the frame at the entry, then each hit's frame, until the
        boot ends."""
        session.console("bt")
        while not self._done.is_set() and not session.closed:
            try:
                stop = session.resume_until_stopped("continue", self.request.timeout, self._done)
            except GdbError:
                return
            if stop.reason == "breakpoint-hit" and stop.frame is not None:
                # GDB's console says "Breakpoint N, function (args) at file:line" itself.
                result.hits.append(BreakpointHit(stop.breakpoint or 0, stop.frame.function))
                for command in ("bt", "info args", "info locals"):
                    session.console(command)
            elif isinstance(stop, Stopped) and stop.reason.startswith("exited"):
                return

    def _gdb_line(self, line: str, result: DebugResult) -> None:
        result.gdb_output.append(line)
        if self.on_gdb_line is not None:
            self.on_gdb_line(line)

    def _mi_note(self, note: MiNote) -> None:
        if self.on_note is not None:
            self.on_note(note)

    def _read_gdb(self, process: subprocess.Popen[str], result: DebugResult) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip("\n")
            result.gdb_output.append(line)
            hit = _HIT.match(line)
            if hit is not None:
                result.hits.append(BreakpointHit(int(hit.group(1)), hit.group(2)))
            if self.on_gdb_line is not None:
                self.on_gdb_line(line)


def is_our_stub(stub: Path) -> bool:
    """Our stub carries a .wbstub section; it waits for the debugger by itself."""
    try:
        with PeImage.open(stub) as image:
            return image.section(contract.WB_MAGIC) is not None
    except WorkbenchError:
        return False


def foreign_facts(stub: Path) -> PeFacts:
    facts = pe_facts(file_reader(stub.read_bytes()), 0, with_name=False)
    if facts is None:
        raise BadInput(f"{stub}: not a PE/COFF image")
    return facts


def default_stub(arch: Arch) -> Path:
    from workbench.builder import default_stub as stub_build_uses

    return stub_build_uses(arch)


def debug(request: DebugRequest, on_event: Callable[[Event], None] | None = None,
          on_gdb_line: Callable[[str], None] | None = None) -> DebugResult:  # fmt: skip
    return DebugRun(request, on_event, on_gdb_line).run()


def summary_dict(result: DebugResult) -> dict[str, object]:
    """`workbench debug --json`'s last line."""
    return {
        "type": "DebugSummary",
        "base": f"{result.base:#x}" if result.base is not None else None,
        "hits": [{"number": hit.number, "function": hit.function} for hit in result.hits],
        "gdb_exit": result.gdb_exit,
        "gdb_left_early": result.gdb_left_early,
        "outcome": result.outcome.to_dict(),
    }
