"""Secure Boot as distributions ship it: OVMF with Microsoft's keys, Debian's Microsoft-signed
shim as BOOTX64.EFI, our stub as shim's second stage signed with a test key enrolled as a MOK.
Shim's SBAT rules are checked without a boot; the boots are real (shim 16.1, the sample kernel).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import BASE_CMDLINE, require, require_tool

from workbench import contract, sbat
from workbench.cli import main
from workbench.errors import BadInput, WorkbenchError
from workbench.lab.events import Event, Outcome, SerialLine, StubStep, Transfer
from workbench.lab.request import BootRequest, ShimOptions

BOOT_TIMEOUT = 120
PYTEST_TIMEOUT = BOOT_TIMEOUT + 60
OUR_SBAT = (
    "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n"
    "stub-workbench,1,Stub Workbench,stub-workbench,0.1.0,https://example.invalid/stub-workbench\n"
)


# --- SBAT as shim decides it (no boots) -----------------------------------------------------


def level(text: str) -> list[sbat.LevelEntry]:
    return sbat.parse_level(text)


def test_a_level_above_the_generation_revokes_and_equal_or_below_passes() -> None:
    revoked = sbat.check(OUR_SBAT, level("sbat,1,2099010100\nstub-workbench,2\n"))
    assert not revoked.passes
    assert [(r.entry.component, r.by.generation) for r in revoked.revoked] == [
        ("stub-workbench", "2")
    ]
    assert revoked.reason == "stub-workbench generation 1 is revoked by level stub-workbench,2"
    assert sbat.check(OUR_SBAT, level("stub-workbench,1")).passes
    assert sbat.check(OUR_SBAT, level("stub-workbench,0")).passes
    # Shim's own level names components we do not have: nothing revoked.
    assert sbat.check(OUR_SBAT, level("sbat,1,2025051000\nshim,4\ngrub,5\n")).passes


def test_the_first_level_row_of_a_name_decides_as_in_shim() -> None:
    assert sbat.check(OUR_SBAT, level("stub-workbench,1\nstub-workbench,9")).passes
    assert not sbat.check(OUR_SBAT, level("stub-workbench,9\nstub-workbench,1")).passes


def test_generations_are_read_as_shims_atoi() -> None:
    assert sbat.shim_atoi("12abc") == 12
    assert sbat.shim_atoi("  7") == 7
    assert sbat.shim_atoi("x1") == 0  # no digits: 0, so any level above 0 revokes it
    assert sbat.shim_atoi("65537") == 1  # kept in a UINT16
    section = OUR_SBAT.replace("stub-workbench,1,", "stub-workbench,x1,")
    assert not sbat.check(section, level("stub-workbench,1")).passes


def test_shim_refuses_what_it_cannot_parse_or_a_missing_section() -> None:
    rules = level("stub-workbench,1")
    assert not sbat.check(None, rules).passes
    assert "no .sbat section" in sbat.check(b"", rules).reason
    short = sbat.check("stub-workbench,1,Stub Workbench\n", rules)
    assert not short.passes and "3 columns, shim needs 6" in short.reason
    empty = sbat.check("stub-workbench,1,,p,v,u\n", rules)
    assert not empty.passes and "empty column" in empty.reason
    # Extra columns are ignored, CR LF and blank lines too, and the data ends at a NUL.
    lenient = "\r\n\r\nstub-workbench,2,a,b,c,d,extra\r\n\0garbage"
    assert sbat.check(lenient.encode(), rules).passes
    assert sbat.check(OUR_SBAT, []).passes  # no level: nothing revoked


def test_level_argument_forms_and_bad_levels(tmp_path: Path) -> None:
    assert sbat.level_text("sbat,1,2099010100 stub-workbench,2") == (
        "sbat,1,2099010100\nstub-workbench,2\n"
    )
    assert sbat.level_text("a,1;b,2") == "a,1\nb,2\n"
    stored = tmp_path / "level"
    stored.write_text("sbat,1,2099010100\nstub-workbench,3\n")
    assert sbat.level_text(f"@{stored}") == stored.read_text()
    with pytest.raises(BadInput, match="needs NAME,GENERATION"):
        sbat.level_text("stub-workbench")
    with pytest.raises(BadInput, match="empty"):
        sbat.level_text("   ")
    with pytest.raises(BadInput, match="cannot read the SBAT level"):
        sbat.level_text(f"@{tmp_path / 'missing'}")


def test_inspect_and_preview_say_whether_the_stub_passes(stub_efi: Path, make_tree, capsys):
    assert main(["inspect", str(stub_efi), "--sbat-level", "stub-workbench,2"]) == 0
    out = capsys.readouterr().out
    assert "sbat lvl:  REVOKED, shim refuses it: stub-workbench generation 1" in out
    assert main(["inspect", str(stub_efi), "--json", "--sbat-level", "stub-workbench,1"]) == 0
    assert json.loads(capsys.readouterr().out)["sbat_level"]["passes"] is True
    stub = make_tree() / contract.BOOT_PATH
    assert main(["preview", str(stub), "--sbat-level", "sbat,1,2099010100 stub-workbench,5"]) == 0
    assert "shim, SBAT level: REVOKED" in capsys.readouterr().out
    assert main(["preview", str(stub), "--json", "--sbat-level", "stub-workbench,1"]) == 0
    assert json.loads(capsys.readouterr().out)["sbat_level"]["passes"] is True
    assert main(["inspect", str(stub_efi), "--sbat-level", "stub-workbench"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


# --- the layout and the variable store (no boots) -------------------------------------------


@pytest.fixture(scope="session")
def shim_binary() -> Path:
    from workbench.lab.shim import SHIM_DIR, SHIM_FILE

    path = SHIM_DIR / SHIM_FILE
    require(path.is_file(), f"{path} (package shim-signed)")
    return path


def test_shims_own_levels_are_read_from_its_sbatlevel_section(shim_binary: Path) -> None:
    from workbench.lab.shim import level_for_shim, shim_levels

    automatic, latest = shim_levels(shim_binary)
    assert automatic.startswith("sbat,1,") and latest.startswith("sbat,1,")
    newest = sbat.parse_level(latest)[0].datestamp
    assert newest is not None and newest >= "2025051000"  # shim 16.1's
    # Rows without the header get shim's newest date, so that shim keeps the level.
    text, note = level_for_shim("stub-workbench,2\n", shim_binary)
    assert text == f"sbat,1,{newest}\nstub-workbench,2\n" and note is not None
    with pytest.raises(WorkbenchError, match="older than shim's own"):
        level_for_shim("sbat,1,2021030218\nstub-workbench,2\n", shim_binary)


def test_stage_and_store_put_shim_first_and_the_mok_in_place(
    tmp_path: Path, make_tree, make_keydir: Callable[[str], Path], shim_binary: Path
) -> None:
    from virt.firmware.varstore import edk2

    from workbench.lab import shim
    from workbench.pe.image import PeImage
    from workbench.pe.signing import verify

    root = make_tree()
    before = (root / contract.BOOT_PATH).read_bytes()
    keydir = make_keydir("mok")
    setup = shim.prepare(root, tmp_path / "work", keydir, sbat_level="stub-workbench,2\n")
    assert (setup.root / contract.BOOT_PATH).read_bytes() == shim_binary.read_bytes()
    second = setup.root / shim.SECOND_STAGE
    assert verify(second, keydir)
    assert (root / contract.BOOT_PATH).read_bytes() == before  # the user's tree is untouched
    assert not (setup.root / "EFI/BOOT/mmx64.efi").exists()
    with PeImage.open(root / contract.BOOT_PATH) as image:
        assert not image.is_signed
    store = edk2.Edk2VarStore(str(setup.vars_template)).get_varlist()
    mok = store["MokList"]
    assert mok.attr == 0x3  # non-volatile, boot services only: shim deletes it otherwise
    der = (keydir / "db.cer").read_bytes()
    assert der in bytes(mok.data)
    assert bytes(store["SbatLevel"].data).decode().endswith("\nstub-workbench,2\n")
    assert store["SHIM_VERBOSE"].data == (1).to_bytes(4, "little")
    assert "PK" in store and "db" in store  # Microsoft's keys came with the template


def test_shim_watch_reads_the_refusals_shim_printed() -> None:
    """Lines as shim 16.1 printed them in the lab (verbose)."""
    from workbench.lab.shim import ShimWatch

    def watch(*lines: str) -> str | None:
        seen = ShimWatch()
        return next(found for line in lines if (found := seen.feed(line)))

    assert watch(
        "verify.c:590:verify_buffer_authenticode() No signatures found",
        "Verification failed: Security Policy Violation",
    ) == ("shim refused EFI/BOOT/grubx64.efi (Security Policy Violation): the stub is unsigned")
    assert "not in db, MokList" in str(
        watch(
            "verify.c:660:verify_buffer_authenticode() Binary is not authorized",
            "Verification failed: Security Policy Violation",
        )
    )
    assert "SBAT: stub-workbench generation 1 is revoked by SbatLevel" in str(
        watch(
            "sbat.c:150:verify_single_entry() component stub-workbench, generation 1, "
            "was revoked by SbatLevel variable",
            "Verification failed: Security Policy Violation",
        )
    )
    assert watch(
        "start_image() returned Not Found, falling back to default loader",
        "start_image() returned Not Found",
    ) == ("shim could not start EFI/BOOT/grubx64.efi: Not Found")


def test_boot_cli_refuses_shim_options_that_do_not_fit(tmp_path: Path, capsys) -> None:
    assert main(["boot", str(tmp_path), "--shim", "--secure-boot"]) == 2
    assert "leave out --secure-boot" in capsys.readouterr().err
    assert main(["boot", str(tmp_path), "--stub-as-is"]) == 2
    assert "only with --shim" in capsys.readouterr().err
    assert main(["boot", str(tmp_path), "--shim", "--keys", str(tmp_path / "none")]) == 2
    assert "no such key directory" in capsys.readouterr().err
    assert main(["boot", str(tmp_path), "--shim", "--sbat-level", "x"]) == 2
    assert "needs NAME,GENERATION" in capsys.readouterr().err


# --- real boots through shim ----------------------------------------------------------------


class Seen:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.steps: list[StubStep] = []
        self.transfers: list[Transfer] = []

    def __call__(self, event: Event) -> None:
        if isinstance(event, SerialLine):
            self.lines.append(event.text)
        elif isinstance(event, StubStep):
            self.steps.append(event)
        elif isinstance(event, Transfer):
            self.transfers.append(event)

    def field(self, step: str, name: str) -> list[str | None]:
        return [s.fields.get(name) for s in self.steps if s.step == step]


def shim_boot(
    root: Path, mode: str = "local", ipv6: bool = False, **options
) -> tuple[Outcome, Seen]:
    from workbench.lab.boot import BootRun

    require_tool("qemu-system-x86_64")
    if mode != "local":
        require_tool("dnsmasq")
    request = BootRequest(root=root, mode=mode, expect=contract.SAMPLE_MARKER,  # type: ignore[arg-type]
                          timeout=BOOT_TIMEOUT, ipv6=ipv6, shim=ShimOptions(**options))  # fmt: skip
    seen = Seen()
    return BootRun(request, seen).run(), seen


@pytest.mark.boot
@pytest.mark.timeout(PYTEST_TIMEOUT)
def test_shim_starts_the_signed_stub_and_the_kernel_is_locked_down(
    tmp_path, sample_kernel, make_tree, make_keydir, shim_binary, capsys
) -> None:
    """The kernel goes in without Debian's signature: the stub's hash is what vouches for it."""
    from workbench.pe.edit import rewrite_sections
    from workbench.pe.image import PeImage

    kernel = rewrite_sections(sample_kernel, {}, tmp_path / "vmlinuz", signed="drop")
    with PeImage.open(kernel) as image:
        assert not image.is_signed
    keydir = make_keydir("mok")
    root = make_tree(f"{BASE_CMDLINE} wb.shim=local", kernel=kernel)
    argv = ["boot", str(root), "--shim", "--keys", str(keydir), "--json",
            "--expect", contract.SAMPLE_MARKER, "--timeout", str(BOOT_TIMEOUT)]  # fmt: skip
    status = main(argv)
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    outcome = events[-1]
    assert (status, outcome["kind"]) == (0, "booted"), outcome
    serial = [event["text"] for event in events if event["type"] == "SerialLine"]
    assert "Verification succeeded" in serial  # shim's own word on our stub
    assert "stub: secureboot=enabled" in serial
    assert f"{contract.SAMPLE_MARKER} cmdline={BASE_CMDLINE} wb.shim=local" in serial
    kernel = "\n".join(serial)
    assert "Kernel is locked down from EFI Secure Boot" in kernel
    # The MOK reached the kernel through MokListRT.
    assert "UEFI:MokListRT" in kernel and "Stub Workbench TEST db key" in kernel
    print(f"shim local boot to the marker: {outcome['seconds']:.1f}s")


@pytest.mark.boot
@pytest.mark.net
@pytest.mark.timeout(PYTEST_TIMEOUT)
@pytest.mark.parametrize(
    ("mode", "protocol", "ipv6"),
    # Over IPv6 shim asks for `/EFI/BOOT/grubx64.efi`: a leading '/' names the served root.
    [("net", "tftp", False), ("http", "http", False), ("net", "tftp", True)],
    ids=["pxe", "http", "pxe-ipv6"],
)
def test_shim_fetches_the_stub_next_to_itself_over_the_network(
    mode, protocol, ipv6, make_tree, shim_binary
) -> None:
    outcome, seen = shim_boot(make_tree(f"{BASE_CMDLINE} wb.shim={mode}"), mode, ipv6=ipv6)
    assert outcome.ok, (outcome, seen.lines[-10:])
    fetched = {(t.protocol, t.filename.replace("//", "/")) for t in seen.transfers
               if t.state == "done"}  # fmt: skip
    assert (protocol, contract.BOOT_PATH) in fetched
    assert (protocol, "EFI/BOOT/grubx64.efi") in fetched  # shim's second stage, by shim
    assert seen.field("secureboot", "secureboot") == ["enabled"]
    assert seen.field("source", "source") == [mode]
    print(f"shim {mode} boot to the marker: {outcome.seconds:.1f}s")


@pytest.mark.boot
@pytest.mark.timeout(PYTEST_TIMEOUT)
@pytest.mark.parametrize("case", ["unsigned", "stranger", "sbat-revoked"])
def test_shim_refuses_and_the_run_ends_at_once(case, make_tree, make_keydir, shim_binary):
    from workbench.pe.signing import sign

    root = make_tree()
    options: dict[str, object] = {"keys": make_keydir("mok")}
    if case == "unsigned":
        options["sign"] = False
        expected = "the stub is unsigned"
    elif case == "stranger":
        sign(root / contract.BOOT_PATH, make_keydir("stranger"))
        options["sign"] = False
        expected = "the stub's signer is not in db, MokList or shim's vendor certificate"
    else:
        options["sbat_level"] = "stub-workbench,2\n"
        expected = "SBAT: stub-workbench generation 1 is revoked by SbatLevel"
    outcome, seen = shim_boot(root, **options)
    assert outcome.kind == "shim-refused", (outcome, seen.lines[-10:])
    assert outcome.reason == (
        f"shim refused EFI/BOOT/grubx64.efi (Security Policy Violation): {expected}"
    )
    assert seen.steps == [], "the stub ran although shim should refuse it"
    assert outcome.seconds < BOOT_TIMEOUT / 2
    print(f"shim refusal ({case}) after {outcome.seconds:.1f}s")


@pytest.mark.boot
@pytest.mark.timeout(PYTEST_TIMEOUT)
async def test_the_app_boots_through_shim_with_S(make_tree, shim_binary) -> None:
    import time

    from workbench.tui.app import WorkbenchApp

    require_tool("qemu-system-x86_64")
    root = make_tree()
    before = (root / contract.BOOT_PATH).read_bytes()
    app = WorkbenchApp(root / contract.BOOT_PATH, root=root, expect=contract.SAMPLE_MARKER)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("S")
        deadline = time.monotonic() + BOOT_TIMEOUT
        while app.last_outcome is None and time.monotonic() < deadline:
            await pilot.pause(0.5)
    outcome = app.last_outcome
    assert outcome is not None and outcome.kind == "booted", outcome
    assert (root / contract.BOOT_PATH).read_bytes() == before  # the lab signed a copy
