"""What the network lab asks of dnsmasq and OVMF for each kind of boot (no network needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.lab.firmware import Firmware
from workbench.lab.netns_child import (
    HTTP_CLIENT_CLASS6,
    boot_url,
    dhcp_options,
    firmware_switches,
)
from workbench.lab.request import NetLabConfig


def config(protocol: str, ipv6: bool) -> NetLabConfig:
    firmware = Firmware(code=Path("code.fd"), vars_template=Path("vars.fd"), requires_smm=False,
                        description=Path("firmware.json"))  # fmt: skip
    return NetLabConfig(root=Path("/root"), workdir=Path("/work"), firmware=firmware,
                        vars_path=Path("/work/vars.fd"), memory_mb=768, secure_boot=False,
                        faults=None, tftp_server="workbench", tftp_max_window=64,
                        protocol=protocol, ipv6=ipv6)  # type: ignore[arg-type]  # fmt: skip


@pytest.mark.parametrize(
    ("protocol", "ipv6", "url"),
    [
        ("tftp", False, "tftp://10.0.2.2/EFI/BOOT/BOOTX64.EFI"),
        ("http", False, "http://10.0.2.2/EFI/BOOT/BOOTX64.EFI"),
        ("tftp", True, "tftp://[fd00::2]/EFI/BOOT/BOOTX64.EFI"),
        ("http", True, "http://[fd00::2]/EFI/BOOT/BOOTX64.EFI"),
    ],
)
def test_boot_url(protocol: str, ipv6: bool, url: str) -> None:
    assert boot_url(config(protocol, ipv6)) == url


def test_pxe_over_ipv4_names_the_boot_file_and_server() -> None:
    options = dhcp_options(config("tftp", False))
    assert "--dhcp-boot=EFI/BOOT/BOOTX64.EFI,,10.0.2.2" in options
    assert firmware_switches(config("tftp", False)) == []


def test_http_boot_answers_only_the_http_client_class() -> None:
    options = dhcp_options(config("http", False))
    assert "--dhcp-vendorclass=set:efihttp,HTTPClient" in options
    assert "--dhcp-option-force=tag:efihttp,60,HTTPClient" in options
    assert "--dhcp-boot=tag:efihttp,http://10.0.2.2/EFI/BOOT/BOOTX64.EFI" in options
    # PXE off, so the firmware's HTTP Boot is the first network option.
    switches = " ".join(firmware_switches(config("http", False)))
    assert "IPv4PXESupport,string=n" in switches and "IPv6PXESupport,string=n" in switches
    assert "IPv4Support" not in switches


def test_ipv6_uses_dhcpv6_option_59_and_no_ipv4_at_all() -> None:
    options = dhcp_options(config("tftp", True))
    assert "--enable-ra" in options
    assert "--dhcp-option=option6:bootfile-url,tftp://[fd00::2]/EFI/BOOT/BOOTX64.EFI" in options
    assert not any("10.0.2" in option for option in options)
    assert "IPv4Support,string=n" in " ".join(firmware_switches(config("tftp", True)))
    http = dhcp_options(config("http", True))
    assert f"--dhcp-option-force=option6:16,{HTTP_CLIENT_CLASS6}" in http


def dnsmasq_cstrings(value: str) -> bytes:
    """How dnsmasq 2.90 writes a DHCPv6 option of its OT_CSTRING kind (16 among them): each
    comma-separated string after its 2-byte length (option.c, parse_dhcp_opt)."""
    return b"".join(len(part).to_bytes(2, "big") + part.encode() for part in value.split(","))


def test_http_client_class_is_what_edk2_compares() -> None:
    data = dnsmasq_cstrings(HTTP_CLIENT_CLASS6)
    # HttpBootParseDhcp6Packet: OpLen >= 16 and "HTTPClient" at offset 6.
    assert len(data) >= 16 and data[6:16] == b"HTTPClient"
    # Well formed (RFC 8415 21.16): a 4-byte enterprise number, then one length-prefixed class.
    assert int.from_bytes(data[4:6], "big") == len(data) - 6


def test_http_boot_over_ipv6_keeps_pxe_over_ipv6_in_front() -> None:
    """OVMF 2022.11's HTTP Boot over IPv6 needs an IPv6 stack that PXE has readied."""
    switches = " ".join(firmware_switches(config("http", True)))
    assert "IPv4PXESupport,string=n" in switches and "IPv4Support,string=n" in switches
    assert "IPv6PXESupport" not in switches
