"""`workbench debug`: the stub under GDB in the lab, its symbols at the address it was loaded."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import require_file, require_tool
from lab_support import Recorder, assert_nothing_left

from workbench.arch import X86_64
from workbench.cli import build_parser, main
from workbench.commands.debug import request_from
from workbench.contract import SAMPLE_MARKER
from workbench.debugger import (
    DEBUG_VARIABLE,
    DEBUG_VARIABLE_GUID,
    DebugOptions,
    DebugRequest,
    check_breakpoint,
    check_symbols_match,
    debug,
    debug_vars,
    gdb_command,
    gdb_plan,
    symbols_beside,
)
from workbench.errors import BadInput, MissingTool

SOCKET = Path("/tmp/wbdebug-x/gdb.sock")
SYMBOLS = Path("/repo/stub/build/stub.so")
FRAME_REPORT = ["commands", "bt", "info args", "info locals", "continue", "end"]


def test_plan_interactive_connects_places_symbols_breaks_releases_and_continues() -> None:
    plan = gdb_plan(SOCKET, SYMBOLS, 0x7E6B1000, DebugOptions())
    assert plan[plan.index(f"target remote {SOCKET}") :] == [
        f"target remote {SOCKET}",
        f"add-symbol-file {SYMBOLS} -o 0x7e6b1000",
        "break console_error",
        "set var stub_debugger_attached = 1",
        "continue",
    ]
    assert "set confirm off" in plan


def test_plan_batch_reports_each_hit_and_goes_on() -> None:
    options = DebugOptions(breakpoints=("local_read", "src/main.c:250"), batch=True)
    plan = gdb_plan(SOCKET, SYMBOLS, 0x1000, options)
    first = plan.index("break local_read")
    assert plan[first : first + 14] == [
        "break local_read", *FRAME_REPORT, "break src/main.c:250", *FRAME_REPORT
    ]  # fmt: skip
    assert plan[-2:] == ["set var stub_debugger_attached = 1", "continue"]


def test_plan_sources_the_users_commands_after_the_setup(tmp_path: Path) -> None:
    commands = tmp_path / "more.gdb"
    plan = gdb_plan(SOCKET, SYMBOLS, 0x1000, DebugOptions(user_commands=commands))
    assert plan[-3:] == ["set var stub_debugger_attached = 1", f"source {commands}", "continue"]


def test_gdb_command_line_batch_or_terminal(tmp_path: Path) -> None:
    script = tmp_path / "s.gdb"
    assert gdb_command("gdb", script, batch=True) == [
        "gdb",
        "-q",
        "-nx",
        "-batch",
        "-x",
        str(script),
    ]
    assert gdb_command("gdb", script, batch=False) == ["gdb", "-q", "-nx", "-x", str(script)]


def test_cli_options_become_the_request(tmp_path: Path) -> None:
    parser = build_parser()
    args = parser.parse_args(["debug", str(tmp_path), "--mode", "http", "--ipv6", "--batch",
                              "--break", "local_read", "--break", "verify"])  # fmt: skip
    request = request_from(args)
    assert (request.mode, request.ipv6, request.timeout) == ("http", True, 150)
    # The failure path always breaks, first.
    assert request.options == DebugOptions(
        breakpoints=("console_error", "local_read", "verify"), batch=True
    )
    interactive = request_from(parser.parse_args(["debug", str(tmp_path)]))
    assert interactive.options.breakpoints == ("console_error",)
    assert interactive.timeout == 3600 and not interactive.options.batch


@pytest.mark.parametrize("where", ["", "a b", "x\nkill", "f\x1b"])
def test_a_breakpoint_is_one_gdb_word(where: str) -> None:
    with pytest.raises(BadInput):
        check_breakpoint(where)


def test_missing_symbols_are_named(tmp_path: Path) -> None:
    with pytest.raises(MissingTool, match=r"stub\.so"):
        symbols_beside(tmp_path / "stub.efi")


def test_symbols_of_another_build_are_refused(stub_efi: Path, tmp_path: Path) -> None:
    require_tool("gcc")
    other = tmp_path / "other.so"
    source = tmp_path / "other.c"
    source.write_text("int f(int x) { return x + 1; }\n")
    subprocess.run(["gcc", "-shared", "-o", other, source], check=True)
    check_symbols_match(stub_efi.with_name("stub.so"), stub_efi)
    with pytest.raises(BadInput, match="not the ELF"):
        check_symbols_match(other, stub_efi)


def test_debug_vars_set_the_stubs_variable(tmp_path: Path) -> None:
    from virt.firmware.varstore import edk2

    from workbench.lab.firmware import find_firmware

    out = debug_vars(find_firmware(secure_boot=False).vars_template, tmp_path / "vars.fd", X86_64)
    variable = edk2.Edk2VarStore(str(out)).get_varlist()[DEBUG_VARIABLE]
    assert str(variable.guid) == DEBUG_VARIABLE_GUID
    assert variable.data == b"\x01"


# The boots: QEMU's gdbstub, the stub waiting, GDB placing the symbols and breaking.


def _debug_tools() -> None:
    for tool in ("gdb", "qemu-system-x86_64", "mkfs.vfat", "mcopy"):
        require_tool(tool)


@pytest.mark.boot
@pytest.mark.timeout(240)
def test_batch_breaks_in_local_read_with_the_stubs_backtrace(
    make_tree: Callable[..., Path], stub_efi: Path
) -> None:
    _debug_tools()
    root = make_tree()
    before = (root / "EFI/BOOT/BOOTX64.EFI").read_bytes()
    recorder = Recorder()
    request = DebugRequest(root=root, options=DebugOptions(breakpoints=("local_read",), batch=True),
                           expect=SAMPLE_MARKER, symbols=stub_efi.with_name("stub.so"))  # fmt: skip
    result = debug(request, recorder)
    assert_nothing_left(recorder)
    assert result.outcome.ok, result.outcome.reason
    assert result.base is not None and result.base % 4096 == 0
    # Kernel, then initrd: both read from the ESP, each a hit with the stub's frames under it.
    assert [hit.function for hit in result.hits] == ["local_read", "local_read"]
    output = "\n".join(result.gdb_output)
    assert f"offset by {result.base:#x}" in output
    frames = [line for line in result.gdb_output if line.startswith("#")]
    assert frames[0].startswith("#0  local_read (")
    for caller in ("fetch", "load_payloads", "efi_main"):
        assert any(f" {caller} (" in frame for frame in frames), (caller, frames)
    assert "sha256=ok" in recorder.serial()
    # The tree itself was booted as it is.
    assert (root / "EFI/BOOT/BOOTX64.EFI").read_bytes() == before


@pytest.mark.boot
@pytest.mark.timeout(240)
def test_a_tampered_initrd_stops_in_console_error_with_the_reason(
    make_tree: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _debug_tools()
    root = make_tree()
    initrd = root / "EFI/Linux/initrd.img"
    data = bytearray(initrd.read_bytes())
    data[4096] ^= 0x01
    initrd.write_bytes(bytes(data))
    # The CLI, default breakpoint (the failure path).
    code = main(["debug", str(root), "--batch", "--timeout", "200"])
    out = capsys.readouterr().out
    assert code == 1, out
    gdb = [line.removeprefix("gdb: ") for line in out.splitlines() if line.startswith("gdb: ")]
    hits = [line for line in gdb if line.startswith("Breakpoint 1, console_error (")]
    assert len(hits) == 1, out
    frames = [line for line in gdb if line.startswith("#")]
    assert frames[0].startswith("#0  console_error ("), frames
    assert " verify (" in frames[1], frames
    reason = next(line for line in gdb if line.startswith("reason = "))
    assert "sha256 mismatch (expected " in reason
    assert next(line for line in gdb if line.startswith("what = ")).endswith('"initrd"')
    assert "breakpoint hits: console_error x1" in out
    assert "outcome: FAILED: stub-error" in out


@pytest.mark.boot
@pytest.mark.timeout(300)
def test_secure_boot_is_enforced_with_the_debugger_attached(
    make_tree: Callable[..., Path],
    make_keydir: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _debug_tools()
    from workbench.pe.signing import sign

    keys = make_keydir("db")
    signed = make_tree()
    sign(signed / "EFI/BOOT/BOOTX64.EFI", keys)
    unsigned = make_tree()
    common = ["--batch", "--json", "--secure-boot", "--keys", str(keys), "--timeout", "200"]

    # Signed with the enrolled db key: it runs, under GDB, with Secure Boot on.
    code = main(["debug", str(signed), *common, "--break", "verify", "--expect", SAMPLE_MARKER])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    summary = records[-1]
    assert code == 0, summary
    assert summary["type"] == "DebugSummary" and summary["outcome"]["kind"] == "booted"
    assert [hit["function"] for hit in summary["hits"]] == ["verify", "verify"]
    steps = [record["raw"] for record in records if record["type"] == "StubStep"]
    assert "stub: secureboot=enabled" in steps, steps
    assert any(r["type"] == "GdbLine" and r["text"].startswith("#0  verify (") for r in records)

    # Unsigned: the firmware refuses it before a single instruction of it runs.
    code = main(["debug", str(unsigned), *common])
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert code == 1
    assert summary["outcome"]["kind"] == "firmware-refused", summary
    assert summary["base"] is None and summary["hits"] == []


def test_json_needs_batch(tmp_path: Path) -> None:
    assert main(["debug", str(tmp_path), "--json"]) == 2


@pytest.mark.boot
@pytest.mark.timeout(300)
def test_a_foreign_image_stops_at_its_entry_with_every_image_placed(
    tmp_path: Path, sample_kernel: Path, sample_initrd: Path
) -> None:
    """A systemd-stub UKI waits for no debugger: the firmware's debug image table shows where
    it was loaded, and the machine stops before its first instruction."""
    _debug_tools()
    systemd_stub = Path("/usr/lib/systemd/boot/efi/linuxx64.efi.stub")
    require_file(systemd_stub)
    from workbench import contract
    from workbench.efi_images import file_reader, pe_facts
    from workbench.pe.edit import rewrite_sections

    uki = tmp_path / contract.BOOT_PATH
    uki.parent.mkdir(parents=True)
    sections = {
        contract.OSREL: b"ID=workbench-test\n",
        contract.CMDLINE: b"console=ttyS0 panic=-1",
        contract.INITRD: sample_initrd.read_bytes(),
        contract.KERNEL: sample_kernel.read_bytes(),
    }
    rewrite_sections(systemd_stub, sections, out=uki)
    facts = pe_facts(file_reader(uki.read_bytes()), 0, with_name=False)
    assert facts is not None
    lines: list[str] = []
    request = DebugRequest(root=tmp_path, options=DebugOptions(batch=True), expect=SAMPLE_MARKER)
    result = debug(request, on_gdb_line=lines.append)
    assert result.outcome.ok, (result.outcome.reason, lines[:5])
    assert result.foreign == "BOOTX64.EFI" and result.base is not None
    entry = result.base + facts.entry
    assert lines[0].startswith(f"BOOTX64.EFI loaded at {result.base:#x}, stopped at its entry "
                               f"point {entry:#x}")  # fmt: skip
    # Every image the firmware had loaded: the DXE core (by its file GUID; Debian's OVMF keeps
    # no debug names), then drivers, and the UKI last, by its path on the ESP.
    placed = {image.name: image for image in result.images}
    assert "fv:d6a2cb7f-6a18-4e2f-b43b-9920a733700a" in placed
    assert result.images[-1].name == "\\EFI\\BOOT\\BOOTX64.EFI"
    assert result.images[-1].base == result.base
    assert len(result.images) > 50
    # GDB's backtrace at the stop: frame 0 is the entry point itself.
    frame = next(line for line in lines if line.startswith("#0 "))
    assert f"{entry:#018x}" in frame, frame
    assert "debug: image BOOTX64.EFI base" in result.summary()


@pytest.mark.boot
@pytest.mark.timeout(300)
def test_from_entry_our_stub_breaks_in_efi_main_at_source_level(
    make_tree: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _debug_tools()
    root = make_tree()
    code = main(["debug", str(root), "--from-entry", "--batch", "--break", "efi_main",
                 "--expect", SAMPLE_MARKER, "--timeout", "200"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    gdb = [line.removeprefix("gdb: ") for line in out.splitlines() if line.startswith("gdb: ")]
    assert gdb[0].startswith("BOOTX64.EFI loaded at "), gdb[:3]
    hit = next(line for line in gdb if line.startswith("Breakpoint "))
    assert ", efi_main (image=0x" in hit and " at src/main.c:" in hit, hit
    frames = [line for line in gdb if line.startswith("#0  efi_main (")]
    assert frames and "at src/main.c:" in frames[0], gdb
    # It did not also wait for a debugger: no `debug base=` line, and the boot went on.
    assert "stub: debug base=" not in out
    # Under TCG, QEMU's gdbstub now and then reports a second SIGTRAP at the same breakpoint
    # as GDB steps off it (seen once in many runs): efi_main, never anything else.
    assert re.search(r"breakpoint hits: efi_main x[12]$", out, re.MULTILINE), out[-500:]


@pytest.mark.boot
@pytest.mark.timeout(300)
def test_a_netbooted_stub_breaks_in_its_own_tftp_transfer(
    make_tree: Callable[..., Path], stub_efi: Path
) -> None:
    """PXE: the stub fetched by the firmware over TFTP, in the lab's namespace, under GDB."""
    _debug_tools()
    require_tool("dnsmasq")
    root = make_tree()
    options = DebugOptions(breakpoints=("console_error", "own_tftp_read"), batch=True)
    request = DebugRequest(root=root, mode="net", options=options, expect=SAMPLE_MARKER,
                           symbols=stub_efi.with_name("stub.so"))  # fmt: skip
    recorder = Recorder()
    result = debug(request, recorder)
    assert result.outcome.ok, result.outcome.reason
    assert [hit.function for hit in result.hits] == ["own_tftp_read", "own_tftp_read"]
    frames = [line for line in result.gdb_output if line.startswith("#")]
    for caller in ("net_read", "fetch", "efi_main"):
        assert any(f" {caller} (" in frame for frame in frames), (caller, frames)
    assert "via=own-tftp" in recorder.serial()
