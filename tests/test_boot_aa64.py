"""arm64 machines in the lab: QEMU's virt machine with AAVMF (always TCG on this host) boots the
arm64 stub (EFI/BOOT/BOOTAA64.EFI) as completely as q35 + OVMF boots the x86_64 one.

Locally (with a TPM: PCR 11 as predicted), by PXE + TFTP, by HTTP Boot and over IPv6; one tree
with both stubs answered by DHCP according to the machine's architecture; the stub refusing a
tampered initrd; the Exit() and foreign-initrd stand-ins built for arm64; Secure Boot with our
keys enrolled in AAVMF's store (signed boots, unsigned refused by the firmware).
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO, require, require_file, require_tool
from lab_support import (
    Recorder,
    assert_nothing_left,
    assert_stub_refused,
    boot_in_lab,
    marker_line,
    require_net_lab,
)

from workbench import keys
from workbench.arch import AARCH64, X86_64
from workbench.contract import SAMPLE_MARKER
from workbench.lab.boot import BootRequest, boot
from workbench.lab.events import Outcome
from workbench.lab.request import BootMode

pytestmark = [pytest.mark.boot, pytest.mark.timeout(180)]

CMDLINE = "console=ttyAMA0 panic=-1"
BOOT_TIMEOUT = 90
KERNEL_DEB_GLOB = "linux-image-*-cloud-arm64_*_arm64.deb"
# The arm64 cloud kernel builds the TPM TIS driver as modules (x86's has it built in); the TPM
# initramfs loads them before /init reads the PCRs.
TPM_MODULES = ("tpm_tis_core.ko", "tpm_tis.ko")
ROGUE_MARKER = "WORKBENCH-ROGUE-INITRD"
FOREIGN_INITRD = "another loader already registered an initrd (LoadFile2 on the initrd media path)"


@pytest.fixture(autouse=True)
def _tools() -> None:
    for tool in (AARCH64.qemu_system, "mkfs.vfat", "mcopy"):
        require_tool(tool)


@pytest.fixture(scope="session")
def aa64_stub() -> Path:
    return require_file(REPO / "stub" / "build" / AARCH64.stub_file)


@pytest.fixture(scope="session")
def aa64_app() -> Callable[[str], Path]:
    """An arm64 stand-in from stub/tests/efi (stub/build/aa64/test)."""
    return lambda name: require_file(REPO / "stub" / "build" / "aa64" / "test" / f"{name}.efi")


@pytest.fixture(scope="session")
def aa64_kernel() -> Path:
    return require_file(REPO / "samples" / "build" / "aa64" / "vmlinuz")


@pytest.fixture(scope="session")
def aa64_initrd() -> Path:
    return require_file(REPO / "samples" / "build" / "aa64" / "initrd.img")


def _make_initrd_module():
    spec = importlib.util.spec_from_file_location("make_initrd", REPO / "samples/make_initrd.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _initrd(directory: Path, init: str, extra: dict[str, bytes] | None = None) -> Path:
    """An arm64 initramfs (the sample's busybox) with this /init."""
    busybox = require_file(REPO / "samples" / "build" / "aa64" / "busybox")
    script = directory / "init.sh"
    script.write_text(init)
    out = directory / "initrd.img"
    archive = _make_initrd_module().build_initrd(busybox, script, extra)
    out.write_bytes(gzip.compress(archive, mtime=0))
    return out


def _kernel_modules(names: tuple[str, ...]) -> dict[str, bytes]:
    """Modules out of the arm64 kernel's package in samples/cache (fetch-kernel.sh keeps it)."""
    debs = sorted((REPO / "samples" / "cache").glob(KERNEL_DEB_GLOB))
    require(bool(debs), f"samples/cache/{KERNEL_DEB_GLOB} (run 'make -C samples')")
    dpkg = require_tool("dpkg-deb")
    data = subprocess.run([dpkg, "--fsys-tarfile", str(debs[-1])], check=True,
                          capture_output=True).stdout  # fmt: skip
    found: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for member in archive:
            name = Path(member.name).name
            if name in names and "/drivers/char/tpm/" in member.name:
                extracted = archive.extractfile(member)
                assert extracted is not None
                found[name] = extracted.read()
    assert sorted(found) == sorted(names), found.keys()
    return found


@pytest.fixture(scope="session")
def tpm_initrd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample initramfs for arm64, loading the TPM TIS driver before it reads the PCRs."""
    init = (REPO / "samples" / "init.sh").read_text()
    reads = "for bank in"
    assert init.count(reads) == 1, "samples/init.sh reads the PCRs in one loop"
    loads = "".join(f"/bin/busybox insmod /{name}\n" for name in TPM_MODULES)
    extra = _kernel_modules(TPM_MODULES)
    return _initrd(tmp_path_factory.mktemp("tpm-initrd"), init.replace(reads, loads + reads), extra)


@pytest.fixture
def make_aa64_tree(
    tmp_path: Path, aa64_stub: Path, aa64_kernel: Path, aa64_initrd: Path
) -> Callable[..., Path]:
    """A fresh arm64 tree (EFI/BOOT/BOOTAA64.EFI); the test may change it freely."""
    from workbench.builder import build_tree

    counter = iter(range(1000))

    def make(
        cmdline: str = CMDLINE,
        *,
        kernel: Path | None = None,
        initrd: Path | None = None,
        with_initrd: bool = True,
        sign_keys: Path | None = None,
        root: Path | None = None,
        kernel_name: str | None = None,
        initrd_name: str | None = None,
        policy: dict[str, str] | None = None,
    ) -> Path:
        root = root or tmp_path / f"aa64-tree{next(counter)}"
        build_tree(stub=aa64_stub, kernel=kernel or aa64_kernel,
                   initrd=(initrd or aa64_initrd) if with_initrd else None, cmdline=cmdline,
                   out_dir=root, policy={"error-delay": "1", **(policy or {})},
                   sign_keys=sign_keys,
                   kernel_name=kernel_name, initrd_name=initrd_name)  # fmt: skip
        return root

    return make


def boot_local(
    root: Path, expect: str | None = SAMPLE_MARKER, **options
) -> tuple[Outcome, Recorder]:
    recorder = Recorder()
    request = BootRequest(root=root, mode="local", expect=expect, timeout=BOOT_TIMEOUT, **options)
    outcome = boot(request, recorder)
    assert_nothing_left(recorder)
    return outcome, recorder


# --- local, with a TPM ------------------------------------------------------------------------


def test_local_boot_with_a_tpm_reaches_the_marker_and_pcr11_as_predicted(
    make_aa64_tree: Callable[..., Path], tpm_initrd: Path
) -> None:
    require_tool("swtpm")
    cmdline = f'{CMDLINE} wb.note="a b" wb.arch=aarch64'
    root = make_aa64_tree(cmdline, initrd=tpm_initrd)
    outcome, recorder = boot_local(root, tpm=True)
    assert outcome.ok and outcome.kind == "booted", outcome
    assert marker_line(recorder) == f"{SAMPLE_MARKER} cmdline={cmdline}"
    assert recorder.steps("cmdline")[0].fields["cmdline"] == cmdline
    loaded = [(s.subject, s.fields.get("sha256")) for s in recorder.steps("loaded")]
    assert loaded == [("kernel", "ok"), ("initrd", "ok")]
    assert recorder.steps("source")[0].fields["source"] == "local"
    # PCR 11 the kernel read through the TIS device equals `workbench pcrs` of BOOTAA64.EFI.
    assert outcome.reason.endswith("PCR 11 as predicted"), outcome.reason
    assert outcome.pcrs is not None
    for bank in ("sha256", "sha384", "sha1"):
        assert outcome.pcrs["measured"][bank]["11"] == outcome.pcrs["predicted"][bank]["11"]
    assert recorder.steps("measured")[0].fields["pcr"] == "11"
    print(f"arm64 local + TPM to the marker: {outcome.seconds:.1f}s")


# --- over the network ------------------------------------------------------------------------


@pytest.mark.net
@pytest.mark.parametrize(
    ("mode", "ipv6", "stack", "via"),
    [
        ("http", False, "own", "own-http"),
        ("net", False, "firmware", "mtftp4"),  # the firmware's MTFTP4, with RFC 7440 windows
        ("http", False, "firmware", "http"),  # the firmware's EFI_HTTP_PROTOCOL
        ("net", True, "own", "pxe6"),  # over IPv6, PXE Base Code: the only path
    ],
    ids=["http", "mtftp4", "firmware-http", "ipv6"],
)
def test_netboots_to_the_marker(
    mode: BootMode, ipv6: bool, stack: str, via: str, make_aa64_tree: Callable[..., Path]
) -> None:
    require_net_lab()
    cmdline = f"{CMDLINE} wb.mode={mode}{'6' if ipv6 else ''}"
    root = make_aa64_tree(cmdline, policy={"net-stack": stack})
    outcome, recorder = boot_in_lab(root, mode, ipv6=ipv6, timeout=BOOT_TIMEOUT)
    assert outcome.ok, (outcome, recorder.serial()[-1500:])
    assert marker_line(recorder) == f"{SAMPLE_MARKER} cmdline={cmdline}"
    source = recorder.steps("source")[0].fields
    assert source["source"] == mode
    assert (":" in source.get("server", "")) == ipv6, source
    done = {t.filename for t in recorder.transfers("done")}
    assert AARCH64.boot_path in done and "EFI/Linux/vmlinuz" in done, done
    ways = {step.fields.get("via") for step in recorder.steps("transfer")}
    assert ways == {via}, ways
    print(f"arm64 {mode}{' ipv6' if ipv6 else ''} via {via} to the marker: {outcome.seconds:.1f}s")


@pytest.mark.net
@pytest.mark.long
@pytest.mark.timeout(240)
def test_http_boot_over_ipv6_waits_out_the_firmwares_ipv4_attempt(
    make_aa64_tree: Callable[..., Path],
) -> None:
    """AAVMF tries HTTP Boot over IPv4 first (no firmware switch drops it) and waits about a
    minute for DHCPv4; the lab counts that failure as expected and the IPv6 attempt boots."""
    require_net_lab()
    cmdline = f"{CMDLINE} wb.mode=http6"
    outcome, recorder = boot_in_lab(make_aa64_tree(cmdline), "http", ipv6=True, timeout=200)
    assert outcome.ok, (outcome, recorder.serial()[-1500:])
    assert marker_line(recorder) == f"{SAMPLE_MARKER} cmdline={cmdline}"
    source = recorder.steps("source")[0].fields
    assert source["source"] == "http" and ":" in source.get("server", ""), source
    print(f"arm64 http ipv6 to the marker: {outcome.seconds:.1f}s")


@pytest.fixture
def both_tree(make_aa64_tree: Callable[..., Path], make_tree: Callable[..., Path]) -> Path:
    """One netboot root with BOOTX64.EFI and BOOTAA64.EFI, each naming its own kernel."""
    root = make_tree()
    make_aa64_tree(f"{CMDLINE} wb.both=1", root=root, kernel_name="vmlinuz-arm64",
                   initrd_name="initrd-arm64.img")  # fmt: skip
    return root


@pytest.mark.net
@pytest.mark.parametrize("arch", [AARCH64, X86_64], ids=["aarch64", "x86_64"])
def test_one_tree_with_both_stubs_pxe_boots_each_machine_by_its_dhcp_architecture(
    arch, both_tree: Path
) -> None:
    """DHCP option 93 (11 or 7) picks the boot file; each stub then fetches its own kernel."""
    require_net_lab()
    require_tool(arch.qemu_system)
    recorder = Recorder()
    request = BootRequest(root=both_tree, mode="net", expect=SAMPLE_MARKER,
                          timeout=BOOT_TIMEOUT, arch=arch.name)  # fmt: skip
    outcome = boot(request, recorder)
    assert_nothing_left(recorder)
    assert outcome.ok, (outcome, recorder.serial()[-1500:])
    done = [t.filename for t in recorder.transfers("done")]
    other = X86_64 if arch is AARCH64 else AARCH64
    assert arch.boot_path in done and other.boot_path not in done, done
    kernel = "EFI/Linux/vmlinuz-arm64" if arch is AARCH64 else "EFI/Linux/vmlinuz"
    assert kernel in done, done
    assert f"console={arch.console}" in marker_line(recorder)
    print(f"both-stub tree, {arch.label} machine by PXE: {outcome.seconds:.1f}s")


def test_a_tree_with_both_stubs_boots_x86_64_unless_asked(both_tree: Path) -> None:
    from workbench.lab.request import request_arch

    assert request_arch(BootRequest(root=both_tree, mode="net")) is X86_64
    assert request_arch(BootRequest(root=both_tree, mode="net", arch="aarch64")) is AARCH64


@pytest.mark.net
def test_a_tampered_initrd_over_pxe_never_boots(make_aa64_tree: Callable[..., Path]) -> None:
    require_net_lab()
    root = make_aa64_tree()
    initrd = root / "EFI" / "Linux" / "initrd.img"
    data = bytearray(initrd.read_bytes())
    data[4096] ^= 0x01
    initrd.write_bytes(bytes(data))
    outcome, recorder = boot_in_lab(root, "net", timeout=BOOT_TIMEOUT)
    error = assert_stub_refused(outcome, recorder, "initrd", "initrd.img")
    assert "sha256" in (error.reason or "")
    assert recorder.serial().count("stub: error:") >= 1


# --- the stand-ins, built for arm64 ----------------------------------------------------------


def test_a_kernel_whose_exit_boot_services_fails_still_meets_the_policy(
    make_aa64_tree: Callable[..., Path], aa64_app: Callable[[str], Path]
) -> None:
    root = make_aa64_tree(f"{CMDLINE} ebs", kernel=aa64_app("exit-kernel"))
    outcome, recorder = boot_local(root, expect=None)
    serial = recorder.serial()
    for attempt in (1, 2):
        assert f"ExitBootServices attempt {attempt}: Invalid Parameter crc=ok" in serial, serial
    assert "WORKBENCH-TEST-KERNEL calling Exit" in serial
    errors = recorder.steps("error")
    assert [(e.subject, e.reason, e.fields.get("status")) for e in errors] == [
        ("kernel", "the kernel's EFI stub failed", "EFI_INVALID_PARAMETER")
    ]
    assert recorder.steps("resetting"), "the default policy resets"
    assert outcome.kind == "kernel-failed" and outcome.reset_after_error, outcome


def test_a_foreign_initrd_never_reaches_the_verified_kernel(
    make_aa64_tree: Callable[..., Path], aa64_app: Callable[[str], Path], tmp_path: Path
) -> None:
    root = make_aa64_tree()
    own = root / "EFI" / "workbench"
    own.mkdir(parents=True)
    shutil.move(root / AARCH64.boot_path, own / "stub.efi")
    shutil.copyfile(aa64_app("plant-initrd"), root / AARCH64.boot_path)
    rogue_init = f"#!/bin/busybox sh\necho {ROGUE_MARKER}\n/bin/busybox poweroff -f\n"
    (tmp_path / "rogue").mkdir()
    shutil.copyfile(_initrd(tmp_path / "rogue", rogue_init), own / "rogue.img")
    outcome, recorder = boot_local(root, expect=ROGUE_MARKER)
    serial = recorder.serial()
    assert "WORKBENCH-PLANTER planted a rogue initrd: Success" in serial
    assert ROGUE_MARKER not in serial and SAMPLE_MARKER not in serial
    assert not outcome.ok and outcome.kind == "stub-error", outcome
    error = recorder.steps("error")[0]
    assert (error.subject, error.reason) == ("initrd", FOREIGN_INITRD)
    assert error.fields["status"] == "EFI_ALREADY_STARTED"
    assert recorder.steps("loaded") == []


# --- Secure Boot: our keys in AAVMF's store --------------------------------------------------


@pytest.fixture(scope="session")
def aa64_sb_vars(make_keydir: Callable[[str], Path], tmp_path_factory) -> tuple[Path, Path]:
    """(KEYDIR, a store with KEYDIR enrolled for AAVMF); each run boots on a copy of it."""
    from workbench.lab.firmware import find_firmware

    keydir = make_keydir("aa64-db")
    firmware = find_firmware(secure_boot=True, arch=AARCH64)
    out = tmp_path_factory.mktemp("aa64-sb-vars") / "vars.fd"
    return keydir, keys.prepare_vars(keydir, firmware.vars_template, out)


@pytest.mark.parametrize(
    ("signed", "mode"),
    [pytest.param(True, "net", marks=pytest.mark.net), (False, "local")],
    ids=["signed-net", "unsigned-local"],
)
def test_secure_boot_starts_the_signed_stub_and_refuses_the_unsigned(
    signed: bool, mode: BootMode, make_aa64_tree: Callable[..., Path],
    aa64_sb_vars: tuple[Path, Path],
) -> None:  # fmt: skip
    if mode == "net":
        require_net_lab()
    keydir, store = aa64_sb_vars
    cmdline = f"{CMDLINE} wb.sb=1"
    root = make_aa64_tree(cmdline, sign_keys=keydir if signed else None)
    recorder = Recorder()
    request = BootRequest(root=root, mode=mode, expect=SAMPLE_MARKER, timeout=BOOT_TIMEOUT,
                          secure_boot=True, vars_template=store)  # fmt: skip
    outcome = boot(request, recorder)
    assert_nothing_left(recorder)
    if signed:
        assert outcome.ok, (outcome, recorder.serial()[-1500:])
        assert [s.fields.get("secureboot") for s in recorder.steps("secureboot")] == ["enabled"]
        assert recorder.steps("source")[0].fields["source"] == mode
        assert marker_line(recorder) == f"{SAMPLE_MARKER} cmdline={cmdline}"
    else:
        assert outcome.kind == "firmware-refused", outcome
        assert "Access Denied" in outcome.reason or "Security Violation" in outcome.reason
        assert "stub:" not in recorder.serial()
    print(
        f"arm64 Secure Boot ({'signed' if signed else 'unsigned'}, {mode}): {outcome.seconds:.1f}s"
    )


def test_boot_arch_must_have_its_boot_file(make_tree: Callable[..., Path], capsys) -> None:
    """`workbench boot --arch aarch64` on a tree without BOOTAA64.EFI: one line, exit 2."""
    from workbench.cli import main

    assert main(["boot", str(make_tree()), "--arch", "aarch64"]) == 2
    assert "no EFI/BOOT/BOOTAA64.EFI" in capsys.readouterr().err


def test_the_lab_knows_no_kvm_for_arm64_on_this_host() -> None:
    """An arm64 guest on another host is emulated: no KVM probe, TCG."""
    from workbench.lab.qemu import accelerator

    if os.uname().machine != "aarch64":
        assert accelerator(Path("/nonexistent"), AARCH64) == "tcg"


# --- shim, as distributions ship Secure Boot on arm64 -------------------------------------------


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
def test_shim_starts_the_signed_stub_and_refuses_the_unsigned(
    signed: bool, make_aa64_tree: Callable[..., Path]
) -> None:
    """Debian's Microsoft-signed shimaa64 (samples/build/aa64/shim, unpacked) with our MOK: the
    signed stub boots to the marker, an unsigned one is refused by shim and the run ends."""
    from workbench.lab.request import ShimOptions
    from workbench.lab.shim import find_shim

    try:
        find_shim(arch=AARCH64)
    except Exception as error:  # MissingTool: fail under CI, skip on a workstation
        require(False, str(error))
    cmdline = f"{CMDLINE} wb.shim=1"
    recorder = Recorder()
    request = BootRequest(root=make_aa64_tree(cmdline), mode="local", expect=SAMPLE_MARKER,
                          timeout=BOOT_TIMEOUT, shim=ShimOptions(sign=signed))  # fmt: skip
    outcome = boot(request, recorder)
    assert_nothing_left(recorder)
    serial = recorder.serial()
    if signed:
        assert outcome.ok, (outcome, serial[-1500:])
        assert "Verification succeeded" in serial  # shim's own word on our stub
        assert [s.fields.get("secureboot") for s in recorder.steps("secureboot")] == ["enabled"]
        assert marker_line(recorder) == f"{SAMPLE_MARKER} cmdline={cmdline}"
    else:
        assert outcome.kind == "shim-refused", outcome
        assert "stub:" not in serial and SAMPLE_MARKER not in serial
    print(
        f"arm64 shim ({'signed' if signed else 'unsigned'}): {outcome.kind} {outcome.seconds:.1f}s"
    )


# --- the debugger on arm64 ------------------------------------------------------------------------


def test_the_debugger_breaks_in_the_arm64_stubs_local_read_with_its_backtrace(
    make_aa64_tree: Callable[..., Path], aa64_stub: Path
) -> None:
    """gdb-multiarch on QEMU's aarch64 gdbstub, stubaa64.so placed at the base the stub
    printed: kernel and initrd each stop in local_read with the stub's frames under it."""
    from workbench.debugger import DebugOptions, DebugRequest, debug

    require_tool("gdb-multiarch")
    root = make_aa64_tree()
    recorder = Recorder()
    options = DebugOptions(breakpoints=("local_read",), batch=True)
    result = debug(DebugRequest(root=root, options=options, expect=SAMPLE_MARKER), recorder)
    assert_nothing_left(recorder)
    assert result.outcome.ok, result.outcome.reason
    assert result.base is not None and result.base % 4096 == 0
    assert [hit.function for hit in result.hits] == ["local_read", "local_read"]
    frames = [line for line in result.gdb_output if line.startswith("#")]
    assert frames[0].startswith("#0  local_read (")
    for caller in ("fetch", "load_payloads", "efi_main"):
        assert any(f" {caller} (" in frame for frame in frames), (caller, frames)
    assert marker_line(recorder) == f"{SAMPLE_MARKER} cmdline={CMDLINE}"
