"""The QEMU command line: firmware, accelerator choice, disk or network, no host networking."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import require_tool

from workbench.lab import qemu
from workbench.lab.firmware import Firmware, find_firmware
from workbench.lab.qemu import MachineSpec, build_command


@pytest.fixture(autouse=True)
def _qemu() -> None:
    require_tool("qemu-system-x86_64")


def spec(tmp_path: Path, **kwargs: object) -> MachineSpec:
    firmware = Firmware(tmp_path / "CODE.fd", tmp_path / "VARS.fd", False, tmp_path / "d.json")
    return MachineSpec(
        firmware=firmware, vars_path=tmp_path / "vars.fd", qmp_path=tmp_path / "qmp.sock", **kwargs
    )  # type: ignore[arg-type]


def option_values(command: list[str], option: str) -> list[str]:
    return [command[i + 1] for i, word in enumerate(command) if word == option]


def test_local_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_ACCEL", "tcg")
    command = build_command(spec(tmp_path, disk_image=tmp_path / "esp.img"))
    assert option_values(command, "-accel") == ["tcg"]
    assert option_values(command, "-machine") == ["q35"]
    assert option_values(command, "-nic") == ["none"]
    assert "-nodefaults" in command and "-no-user-config" in command
    drives = option_values(command, "-drive")
    assert f"if=pflash,format=raw,unit=0,readonly=on,file={tmp_path / 'CODE.fd'}" in drives
    assert f"if=pflash,format=raw,unit=1,file={tmp_path / 'vars.fd'}" in drives
    assert any(d.endswith(f"file={tmp_path / 'esp.img'}") for d in drives)
    assert option_values(command, "-qmp") == [f"unix:{tmp_path / 'qmp.sock'},server=on,wait=off"]


def test_net_machine_uses_only_the_tap_device(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_ACCEL", "tcg")
    command = build_command(spec(tmp_path, tap_device="tap0"))
    assert option_values(command, "-netdev") == ["tap,id=n0,ifname=tap0,script=no,downscript=no"]
    assert option_values(command, "-device") == ["virtio-net-pci,netdev=n0,bootindex=1,romfile="]
    assert "-nic" not in command
    assert not any("user" in value for value in option_values(command, "-netdev"))


def test_secure_boot_firmware_gets_smm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_ACCEL", "tcg")
    machine = spec(tmp_path, secure_boot=True)
    machine.firmware = Firmware(tmp_path / "C.fd", tmp_path / "V.fd", True, tmp_path / "d.json")
    command = build_command(machine)
    assert option_values(command, "-machine") == ["q35,smm=on"]
    assert "driver=cfi.pflash01,property=secure,value=on" in option_values(command, "-global")


def test_accelerator_follows_the_kvm_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKBENCH_ACCEL", raising=False)
    code = find_firmware().code
    verdict = qemu.kvm_works(code)
    assert qemu.accelerator(code) == ("kvm" if verdict else "tcg")
    monkeypatch.setenv("WORKBENCH_ACCEL", "tcg")
    assert qemu.accelerator(code) == "tcg"
