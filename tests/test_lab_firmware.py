"""OVMF lookup through QEMU firmware descriptors, with descriptor directories made up here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import require

from workbench.errors import WorkbenchError
from workbench.lab.firmware import find_firmware


def descriptor(
    directory: Path, name: str, code: Path, features: list[str], *,
    machines: tuple[str, ...] = ("pc-q35-*",), interface: str = "uefi", nvram: bool = True,
) -> Path:  # fmt: skip
    code.write_bytes(b"code")
    vars_template = code.with_suffix(".vars")
    vars_template.write_bytes(b"vars")
    mapping: dict = {"device": "flash", "executable": {"filename": str(code), "format": "raw"}}
    if nvram:
        mapping["nvram-template"] = {"filename": str(vars_template), "format": "raw"}
    body = {
        "interface-types": [interface],
        "mapping": mapping,
        "targets": [{"architecture": "x86_64", "machines": list(machines)}],
        "features": features,
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps(body))
    return path


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "etc", tmp_path / "share"


def test_plain_and_secure_boot_choices(dirs: tuple[Path, Path], tmp_path: Path) -> None:
    etc, share = dirs
    descriptor(share, "40-enrolled.json", tmp_path / "ms.fd",
               ["secure-boot", "enrolled-keys", "requires-smm"])  # fmt: skip
    sb_features = ["secure-boot", "requires-smm"]
    secure = descriptor(share, "50-secure.json", tmp_path / "sb.fd", sb_features)
    plain = descriptor(share, "60-plain.json", tmp_path / "plain.fd", ["acpi-s3"])
    chosen = find_firmware(descriptor_dirs=(etc, share))
    assert (chosen.code, chosen.description, chosen.requires_smm) == (
        tmp_path / "plain.fd", plain, False,
    )  # fmt: skip
    chosen_sb = find_firmware(secure_boot=True, descriptor_dirs=(etc, share))
    # Never the one with keys already enrolled: we enroll our own.
    assert (chosen_sb.code, chosen_sb.description) == (tmp_path / "sb.fd", secure)
    assert chosen_sb.requires_smm
    assert chosen_sb.vars_template == tmp_path / "sb.vars"


def test_more_specific_directory_wins_and_empty_file_masks(
    dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    etc, share = dirs
    descriptor(share, "60-plain.json", tmp_path / "distro.fd", [])
    descriptor(share, "70-other.json", tmp_path / "other.fd", [])
    descriptor(etc, "60-plain.json", tmp_path / "admin.fd", [])
    assert find_firmware(descriptor_dirs=(etc, share)).code == tmp_path / "admin.fd"
    (etc / "60-plain.json").write_text("")
    assert find_firmware(descriptor_dirs=(etc, share)).code == tmp_path / "other.fd"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"machines": ("pc-i440fx-*",)},
        {"interface": "bios"},
        {"nvram": False},
    ],
)
def test_unfit_descriptors_are_skipped(
    dirs: tuple[Path, Path], tmp_path: Path, kwargs: dict
) -> None:
    etc, share = dirs
    descriptor(share, "10-unfit.json", tmp_path / "unfit.fd", [], **kwargs)
    descriptor(share, "90-fit.json", tmp_path / "fit.fd", [])
    assert find_firmware(descriptor_dirs=(etc, share)).code == tmp_path / "fit.fd"


def test_no_fitting_firmware_is_one_clear_error(dirs: tuple[Path, Path], tmp_path: Path) -> None:
    etc, share = dirs
    descriptor(share, "40-enrolled.json", tmp_path / "ms.fd", ["secure-boot", "enrolled-keys"])
    (share / "99-broken.json").write_text("{not json")
    with pytest.raises(WorkbenchError, match="no Secure Boot UEFI firmware") as caught:
        find_firmware(secure_boot=True, descriptor_dirs=(etc, share))
    assert "\n" not in str(caught.value)
    with pytest.raises(WorkbenchError, match="no UEFI firmware"):
        find_firmware(descriptor_dirs=(etc, share))


def test_the_installed_descriptors_give_ovmf() -> None:
    require(Path("/usr/share/qemu/firmware").is_dir(), "QEMU firmware descriptors (ovmf)")
    firmware = find_firmware()
    assert firmware.code.is_file() and firmware.vars_template.is_file()
    assert not firmware.requires_smm
