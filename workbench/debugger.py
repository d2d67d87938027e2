"""`workbench debug`: the stub under GDB in the lab, its symbols at the address it was loaded.

The machine's variable store gets StubWorkbenchDebug = 1 (stub/src/debug.h); the stub then
prints `stub: debug base=0x...` and spins until a debugger sets `stub_debugger_attached`. The
tree is booted as it is: nothing in the image changes. QEMU's gdbstub listens on a unix socket;
once the base is known, GDB connects, loads the unstripped ELF (`stub.so`, linked at 0, so its
addresses are RVAs) at that base, sets the breakpoints, releases the stub and continues.
Interactive: GDB takes the terminal. Batch: each breakpoint hit prints its backtrace, arguments
and locals, and the boot goes on to its outcome.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from workbench import contract
from workbench.errors import BadInput, LabFailure, MissingTool, WorkbenchError
from workbench.lab.boot import BootRun
from workbench.lab.events import Event, Outcome, StubStep
from workbench.lab.firmware import find_firmware
from workbench.lab.request import BootMode, BootRequest
from workbench.pe.image import PeImage

GDB = "gdb"
# The EFI variable that makes the stub wait (stub/src/debug.h): one byte, 1.
DEBUG_VARIABLE = "StubWorkbenchDebug"
DEBUG_VARIABLE_GUID = "eec1a4e9-d10a-419b-9d4b-2dfd783569f5"
ATTACH_SYMBOL = "stub_debugger_attached"
# The stub's failure path: every `stub: error:` line goes through it, so a failing boot stops
# where it fails.
DEFAULT_BREAKPOINTS = ("console_error",)
# Once the boot has its outcome, how long GDB gets to see the connection close.
GDB_GRACE = 10.0
# "Breakpoint 2, local_read (device=...) at src/local.c:84", or "Thread 1 hit Breakpoint 2, ..."
_HIT = re.compile(r"^(?:Thread \S+ hit )?Breakpoint (\d+), (?:0x[0-9a-f]+ in )?([A-Za-z_]\w*) \(")


@dataclass(frozen=True)
class DebugOptions:
    breakpoints: tuple[str, ...] = DEFAULT_BREAKPOINTS
    batch: bool = False
    user_commands: Path | None = None  # sourced after the setup, before the first continue


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
    """The unstripped ELF the stub was made from: stub.so next to stub.efi."""
    symbols = stub.with_name("stub.so")
    if not symbols.is_file():
        raise MissingTool(
            f"no {symbols} (the unstripped ELF with the stub's symbols; `make stub` builds it "
            "next to stub.efi, or give --symbols)"
        )
    return symbols


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


def debug_vars(template: Path, out: Path) -> Path:
    """OUT: the variable store TEMPLATE with StubWorkbenchDebug = 1, the stub's cue to wait."""
    from virt.firmware.efi.efivar import EfiVar
    from virt.firmware.varstore import edk2

    if not edk2.Edk2VarStore.probe(str(template)):
        raise BadInput(f"{template} is not an edk2 variable store")
    try:
        store = edk2.Edk2VarStore(str(template))
        varlist = store.get_varlist()
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

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for hit in self.hits:
            counts[hit.function] = counts.get(hit.function, 0) + 1
        hits = ", ".join(f"{name} x{count}" for name, count in counts.items()) or "none"
        base = f"{self.base:#x}" if self.base is not None else "never printed"
        if self.interactive:
            hits = "(interactive, not counted)"
        if self.gdb_left_early:
            hits += f"; gdb ended before the boot did (exit {self.gdb_exit})"
        verdict = "ok" if self.outcome.ok else "FAILED"
        return (
            f"debug: stub base {base}; breakpoint hits: {hits}\n"
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


class DebugRun:
    """Boot a debug copy of the tree and run GDB against it; `on_event` sees the boot's events,
    `on_gdb_line` GDB's output (batch only: interactive GDB writes to the terminal)."""

    def __init__(
        self,
        request: DebugRequest,
        on_event: Callable[[Event], None] | None = None,
        on_gdb_line: Callable[[str], None] | None = None,
    ) -> None:
        self.request = request
        self.on_event = on_event
        self.on_gdb_line = on_gdb_line
        self._based = threading.Event()
        self._base: int | None = None
        self._outcome: Outcome | None = None
        self._done = threading.Event()

    def run(self) -> DebugResult:
        gdb = shutil.which(GDB)
        if gdb is None:
            raise MissingTool("gdb not found (install gdb)")
        options = self.request.options
        for where in options.breakpoints:
            check_breakpoint(where)
        if options.user_commands is not None and not options.user_commands.is_file():
            raise BadInput(f"{options.user_commands}: no such file")
        symbols = self.request.symbols or symbols_beside(default_stub())
        if not symbols.is_file():
            raise BadInput(f"{symbols}: no such file")
        root = Path(self.request.root)
        stub = root / contract.BOOT_PATH
        if not stub.is_file():
            raise BadInput(f"{root}: no {contract.BOOT_PATH}")
        check_symbols_match(symbols, stub)
        # Short and private: the socket path must fit sockaddr_un.
        with tempfile.TemporaryDirectory(prefix="wbdebug-", dir="/tmp") as scratch:
            work = Path(scratch)
            template = find_firmware(secure_boot=False).vars_template
            vars_template = debug_vars(template, work / "vars.fd")
            return self._debug(gdb, symbols, work, vars_template)

    def _debug(self, gdb: str, symbols: Path, work: Path, vars_template: Path) -> DebugResult:
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
            ),
            self._event,
        )
        failure: list[BaseException] = []
        thread = threading.Thread(target=self._boot, args=(boot, failure), daemon=True)
        thread.start()
        placeholder = Outcome(ok=False, kind="interrupted", reason="", seconds=0)
        result = DebugResult(outcome=placeholder, base=None)
        result.interactive = not self.request.options.batch
        try:
            while not self._based.wait(0.2) and not self._done.is_set():
                pass
            if self._base is not None:
                result.base = self._base
                script = work / "session.gdb"
                plan = gdb_plan(socket, symbols, self._base, self.request.options)
                script.write_text("\n".join(plan) + "\n")
                self._run_gdb(gdb_command(gdb, script, self.request.options.batch), result)
            thread.join()
        except KeyboardInterrupt:
            boot.stop()
            thread.join()
        if failure:
            error = failure[0]
            raise error if isinstance(error, WorkbenchError) else LabFailure(str(error))
        assert self._outcome is not None
        result.outcome = self._outcome
        if result.base is None:
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


def default_stub() -> Path:
    from workbench.builder import default_stub as stub_build_uses

    return stub_build_uses()


def debug(request: DebugRequest, on_event: Callable[[Event], None] | None = None,
          on_gdb_line: Callable[[str], None] | None = None) -> DebugResult:  # fmt: skip
    return DebugRun(request, on_event, on_gdb_line).run()
