"""`workbench pcrs` follows each stub's own rules: systemd's section order (uki.h) for our stub
and the systemd-stub release `.sdmagic` names, VirtualSize 0 as absent, how each release finds
a section by name, and the UTF-16 event data."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from conftest import REPO, require_file

from workbench import contract
from workbench.errors import BadInput
from workbench.pcrs import UKI_ORDER, description, predict, rules_for, systemd_rules
from workbench.pe.edit import rewrite_sections
from workbench.pe.image import PeImage

SYSTEMD_STUB = Path("/usr/lib/systemd/boot/efi/linuxx64.efi.stub")
KERNEL = b"MZ" + bytes(510)  # enough of a kernel for the flavour: a PE's first bytes
EXTRAS = {".dtbauto": b"\xd0\x0d\xfe\xed auto", ".hwids": b"hwids", ".efifw": b"efifw",
          ".uname": b"6.1.0-test", ".ucode": b"ucode"}  # fmt: skip


def measured(image: PeImage) -> list[str]:
    """Section names in measuring order (each once: name event, data event)."""
    return [e.section for e in predict(image).events if e.part == "name"]


def uki(tmp_path: Path, version: str | None, extra: Mapping[str, bytes | None]) -> Path:
    """Debian's systemd-stub with a kernel, and `.sdmagic` claiming `version`."""
    require_file(SYSTEMD_STUB)
    out = tmp_path / f"uki-{version}.efi"
    magic = None if version is None else f"#### LoaderInfo: systemd-stub {version} ####".encode()
    # Debian's stub leaves header room for 15 sections: 8 of its own, 7 more.
    changes: dict[str, bytes | None] = {".sdmagic": magic, contract.KERNEL: KERNEL, **extra}
    if version == "252-as-shipped":
        del changes[".sdmagic"]
    return rewrite_sections(SYSTEMD_STUB, changes, out=out)


def test_our_stub_measures_in_systemds_order(make_tree: Callable[..., Path]) -> None:
    root = make_tree("console=ttyS0", fat=True)
    stub = root / contract.BOOT_PATH
    rewrite_sections(stub, {**EXTRAS, ".dtb": b"dtb", ".profile": b"ID=a\n", ".pcrpkey": b"k"})
    with PeImage.open(stub) as image:
        order = measured(image)
    # Before: `.dtbauto .hwids` right after `.dtb`, which no systemd tool reproduces.
    assert [name for name in order if name in UKI_ORDER] == [
        ".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".dtb", ".uname", ".sbat",
        ".pcrpkey", ".profile", ".dtbauto", ".hwids", ".efifw",
    ]  # fmt: skip


def test_our_stub_skips_a_section_with_virtual_size_0(make_tree: Callable[..., Path]) -> None:
    root = make_tree("console=ttyS0", fat=True)
    stub = root / contract.BOOT_PATH
    rewrite_sections(stub, {".splash": b""})
    with PeImage.open(stub) as image:
        section = image.section(".splash")
        assert section is not None and section.virtual_size == 0
        assert ".splash" not in measured(image)
        assert len(predict(image).events) == 2 * len(measured(image))


@pytest.mark.parametrize(
    ("version", "order"),
    [
        # Debian 12's stub as shipped: `.dtbauto` answers for `.dtb` (prefix match, last wins).
        ("252-as-shipped", [".linux", ".dtb"]),
        ("253", [".linux", ".dtb"]),
        ("255", [".linux", ".dtb", ".uname", ".sbat"]),
        ("256", [".linux", ".ucode", ".dtb", ".uname", ".sbat"]),
        # From 257 the name must match; `.dtbauto` and `.efifw` only when the hardware picks one.
        ("257.1", [".linux", ".ucode", ".uname", ".sbat", ".hwids"]),
        ("258", [".linux", ".ucode", ".uname", ".sbat", ".hwids"]),
        (None, [".linux", ".ucode", ".uname", ".sbat", ".hwids"]),
    ],
)
def test_each_systemd_release_is_predicted_by_its_own_rules(
    tmp_path: Path, version: str | None, order: list[str]
) -> None:
    stub = uki(tmp_path, version, {**EXTRAS, ".splash": b""})
    with PeImage.open(stub) as image:
        assert measured(image) == order
        events = {(e.section, e.part): e for e in predict(image).events}
    if ".dtb" in order:  # the `.dtbauto` section's bytes, under the name `.dtb`
        digest = events[(".dtb", "data")].digests["sha256"]
        assert digest == hashlib.sha256(EXTRAS[".dtbauto"]).hexdigest()


def test_before_257_the_last_matching_header_wins(tmp_path: Path) -> None:
    stub = uki(tmp_path, "255", {".dtb": b"plain"})
    stub = rewrite_sections(stub, {}, out=tmp_path / "two.efi", append=[(".dtbauto", b"auto")])
    with PeImage.open(stub) as image:
        data = [e for e in predict(image).events if e.part == "data" and e.section == ".dtb"]
        assert [e.digests["sha256"] for e in data] == [hashlib.sha256(b"auto").hexdigest()]
    stub = rewrite_sections(stub, {".sdmagic": b"systemd-stub 257"}, out=tmp_path / "257.efi")
    with PeImage.open(stub) as image:
        data = [e for e in predict(image).events if e.part == "data" and e.section == ".dtb"]
        assert [e.digests["sha256"] for e in data] == [hashlib.sha256(b"plain").hexdigest()]


def test_scheme_names_the_release(tmp_path: Path) -> None:
    with PeImage.open(uki(tmp_path, "252-as-shipped", {})) as image:
        assert predict(image).scheme == "systemd-stub 252"
    with PeImage.open(uki(tmp_path, None, {})) as image:
        assert predict(image).scheme == "systemd-stub"


def test_hardware_selected_sections_are_noted(tmp_path: Path) -> None:
    with PeImage.open(uki(tmp_path, "258", EXTRAS)) as image:
        notes = predict(image).notes
    assert [note.split(":")[0] for note in notes] == [".dtbauto", ".efifw"]


def test_systemd_measures_virtual_size_zero_filled(tmp_path: Path) -> None:
    """VirtualSize larger than the raw data: systemd measures the zeros the loader adds."""
    stub = uki(tmp_path, "257", {".uname": b"u" * 10})
    data = bytearray(stub.read_bytes())
    header = data.index(b".uname\0\0", 0, 4096)
    assert int.from_bytes(data[header + 8 : header + 12], "little") == 10
    data[header + 8 : header + 12] = (4096).to_bytes(4, "little")
    stub.write_bytes(bytes(data))
    with PeImage.open(stub) as image:
        event = next(e for e in predict(image).events if e.section == ".uname" and e.part == "data")
    padded = b"u" * 10 + bytes(4096 - 10)
    assert event.digests["sha256"] == hashlib.sha256(padded).hexdigest()


def test_the_default_profile_replaces_base_sections_from_257(tmp_path: Path) -> None:
    require_file(SYSTEMD_STUB)
    stub = rewrite_sections(
        SYSTEMD_STUB,
        {".sdmagic": b"#### LoaderInfo: systemd-stub 257 ####", contract.KERNEL: KERNEL,
         contract.CMDLINE: b"base"},
        out=tmp_path / "profiles.efi",
        append=[(".profile", b"ID=one\n"), (contract.CMDLINE, b"one"),
                (".profile", b"ID=two\n"), (contract.CMDLINE, b"two")],
    )  # fmt: skip
    with PeImage.open(stub) as image:
        events = [e for e in predict(image).events if e.part == "data"]
    by_name = {e.section: e.digests["sha256"] for e in events}
    assert by_name[contract.CMDLINE] == hashlib.sha256(b"one").hexdigest()
    assert by_name[".profile"] == hashlib.sha256(b"ID=one\n").hexdigest()


def test_event_data_is_the_name_in_utf16() -> None:
    rules = systemd_rules(252)
    assert description(".linux", rules) == ".linux\0".encode("utf-16-le")
    assert description(".linux", rules).hex() == "2e006c0069006e00750078000000"


def test_prediction_carries_the_event_data(make_tree: Callable[..., Path]) -> None:
    root = make_tree("console=ttyS0")
    with PeImage.open(root / contract.BOOT_PATH) as image:
        assert rules_for(image).scheme == "workbench"
        for event in predict(image).events:
            assert bytes.fromhex(event.event_data) == (event.section + "\0").encode("utf-16-le")


def test_lanzaboote_measures_the_files_and_empty_sections(tmp_path: Path) -> None:
    """lanzaboote: `.linux`/`.initrd` measure the files (SHA-256 known from `.linuxh`), an empty
    section still counts, and its event data has no NUL."""
    require_file(SYSTEMD_STUB)
    kernel, initrd = b"kernel file", b"initrd file"
    (tmp_path / "EFI" / "nixos").mkdir(parents=True)
    (tmp_path / "EFI" / "nixos" / "k.efi").write_bytes(kernel)
    (tmp_path / "EFI" / "nixos" / "i.efi").write_bytes(initrd)
    stub = rewrite_sections(
        SYSTEMD_STUB,
        {".sdmagic": None, contract.KERNEL: b"\\EFI\\nixos\\k.efi",
         contract.INITRD: b"\\EFI\\nixos\\i.efi",
         contract.KERNEL_HASH: hashlib.sha256(kernel).digest(),
         contract.INITRD_HASH: hashlib.sha256(initrd).digest(), ".splash": b""},
        out=tmp_path / "lzbt.efi",
    )  # fmt: skip
    with PeImage.open(stub) as image:
        assert rules_for(image).scheme == "lanzaboote"
        without_root = predict(image)
        with_root = predict(image, ("sha256", "sha1"), tmp_path)
        with pytest.raises(BadInput, match="--root"):
            predict(image, ("sha1",))
    assert [e.section for e in without_root.events if e.part == "name"] == [
        ".linux", ".initrd", ".splash", ".sbat"]  # fmt: skip
    assert without_root.banks["sha256"] == with_root.banks["sha256"]
    data = {e.section: e for e in with_root.events if e.part == "data"}
    assert data[".linux"].digests["sha1"] == hashlib.sha1(kernel).hexdigest()
    assert bytes.fromhex(data[".linux"].event_data) == ".linux".encode("utf-16-le")


def test_pcrs_events_show_the_event_data(tmp_path: Path) -> None:
    stub = uki(tmp_path, "252-as-shipped", {".dtbauto": b"auto", ".splash": b""})
    result = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "pcrs", str(stub), "--events"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines = result.stdout.splitlines()
    assert lines[0] == "scheme: systemd-stub 252"
    events = [line.split()[2:4] for line in lines if line.startswith("  pcr 11 ")]
    assert events == [
        [".linux", "name:"],
        [".linux", "data:"],
        [".dtb", "name:"],
        [".dtb", "data:"],
    ]
    assert lines[-1].endswith("event data '.dtb' (UTF-16: 2e006400740062000000)")
