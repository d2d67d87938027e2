"""Preview predictions for trees built from the sample kernel (no boots here; see the matrix)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench import contract
from workbench.cli import main
from workbench.errors import WorkbenchError
from workbench.pe.edit import rewrite_sections
from workbench.preview import preview


def stub_of(root: Path) -> Path:
    return root / contract.BOOT_PATH


def flip_byte(path: Path, offset: int = 4096) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_good_thin_tree_boots_both_ways(make_tree):
    root = make_tree()
    result = preview(stub_of(root), root)
    assert result.flavour == "workbench-thin"
    for mode in (result.local, result.net):
        assert mode.boots, mode.reason
        assert [f.role for f in mode.files] == ["kernel", "initrd"]
        assert all(f.exists and f.hash_status == "ok" for f in mode.files)
    assert result.local.files[0].looked_for == "\\EFI\\Linux\\vmlinuz"
    assert result.net.files[0].looked_for == "tftp://10.0.2.2/EFI/Linux/vmlinuz"
    assert result.net.files[1].size == (root / "EFI/Linux/initrd.img").stat().st_size


def test_tampered_initrd_fails_both_ways_naming_it(make_tree):
    root = make_tree()
    flip_byte(root / "EFI/Linux/initrd.img")
    result = preview(stub_of(root), root)
    assert not result.local.boots and not result.net.boots
    assert result.local.reason.startswith("error: initrd \\EFI\\Linux\\initrd.img: sha256 mismatch")
    assert result.net.files[1].hash_status == "mismatch"
    assert result.net.files[0].hash_status == "ok"


def test_missing_kernel_is_not_found(make_tree):
    root = make_tree()
    (root / "EFI/Linux/vmlinuz").unlink()
    result = preview(stub_of(root), root)
    assert result.local.reason == "error: kernel \\EFI\\Linux\\vmlinuz: file not found"
    assert result.net.reason == (
        "error: kernel tftp://10.0.2.2/EFI/Linux/vmlinuz: TFTP error: file not found"
    )
    assert result.net.files[0].exists is False
    # The whole line ends with the EFI status the stub reports for each medium.
    assert result.local.error_line == (
        "error: kernel \\EFI\\Linux\\vmlinuz: file not found status=EFI_NOT_FOUND"
    )
    assert result.net.status == "EFI_TFTP_ERROR"


def test_wrong_case_path_boots_on_fat_but_not_over_tftp(make_tree):
    root = make_tree()
    rewrite_sections(stub_of(root), {contract.KERNEL: b"\\efi\\linux\\VMLINUZ"})
    result = preview(stub_of(root), root)
    assert result.local.boots
    assert not result.net.boots
    assert result.net.files[0].looked_for == "tftp://10.0.2.2/efi/linux/VMLINUZ"


def test_fat_stub_needs_no_files(make_tree):
    root = make_tree(fat=True)
    result = preview(stub_of(root), root)
    assert result.flavour == "workbench-fat"
    assert result.local.boots and result.net.boots
    assert {f.looked_for for f in result.net.files} == {"embedded"}


def test_forced_source_fails_the_other_mode(make_tree):
    root = make_tree(policy={"source": "net"})
    result = preview(stub_of(root), root)
    assert result.net.boots
    assert not result.local.boots
    assert result.local.reason.startswith("error: source:")


def test_symlink_leaving_root_is_not_served(make_tree, tmp_path):
    root = make_tree()
    kernel = root / "EFI/Linux/vmlinuz"
    outside = tmp_path / "outside-vmlinuz"
    kernel.rename(outside)
    kernel.symlink_to(outside)
    result = preview(stub_of(root), root)
    assert result.local.boots  # the FAT image holds the file's bytes
    assert result.net.reason.endswith("vmlinuz: TFTP error: access denied")


def test_cli_json_and_default_root(make_tree, capsys):
    root = make_tree()
    assert main(["preview", str(stub_of(root)), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["root"] == str(root.resolve())
    assert data["local"]["outcome"] == "boots"
    assert data["net"]["files"][1]["looked_for"] == "tftp://10.0.2.2/EFI/Linux/initrd.img"


def test_cli_human_output_shows_every_transport(make_tree, capsys):
    root = make_tree()
    (root / "EFI/Linux/initrd.img").unlink()
    assert main(["preview", str(stub_of(root))]) == 0
    out = capsys.readouterr().out
    for title in ("LOCAL ESP", "PXE + TFTP", "HTTP BOOT", "PXE + TFTP, IPV6", "HTTP BOOT, IPV6"):
        assert title in out
    assert "fails: error: initrd \\EFI\\Linux\\initrd.img: file not found" in out


def test_missing_root_is_a_clear_error(make_tree, tmp_path):
    root = make_tree()
    with pytest.raises(WorkbenchError, match="not a directory"):
        preview(stub_of(root), tmp_path / "nowhere")


def test_tftp_url_names_its_server_and_needs_a_network_boot(make_tree):
    root = make_tree()
    rewrite_sections(stub_of(root), {contract.KERNEL: b"tftp://10.0.2.9/EFI/Linux/vmlinuz"})
    result = preview(stub_of(root), root)
    assert result.net.boots
    assert result.net.files[0].looked_for == "tftp://10.0.2.9/EFI/Linux/vmlinuz"
    assert result.net.files[1].looked_for == "tftp://10.0.2.2/EFI/Linux/initrd.img"
    assert result.local.reason == (
        "error: kernel tftp://10.0.2.9/EFI/Linux/vmlinuz: "
        "tftp:// paths need a network boot (no PXE on the boot device)"
    )


def test_every_transport_names_the_exact_url(make_tree):
    root = make_tree()
    result = preview(stub_of(root), root)
    assert all(mode.boots for mode in result.modes())
    assert result.http.source == ("http server=10.0.2.2 url=http://10.0.2.2/EFI/BOOT/BOOTX64.EFI")
    assert result.http.files[0].looked_for == "http://10.0.2.2/EFI/Linux/vmlinuz"
    assert result.net6.source == "net server=fd00::2"
    assert result.net6.files[1].looked_for == "tftp://[fd00::2]/EFI/Linux/initrd.img"
    assert result.http6.files[0].looked_for == "http://[fd00::2]/EFI/Linux/vmlinuz"


def test_missing_file_over_http_is_a_404(make_tree):
    root = make_tree()
    (root / "EFI/Linux/vmlinuz").unlink()
    result = preview(stub_of(root), root)
    assert result.http.error_line == (
        "error: kernel http://10.0.2.2/EFI/Linux/vmlinuz: HTTP 404 Not Found status=EFI_NOT_FOUND"
    )


def test_relative_path_resolves_beside_the_stub_over_http(make_tree):
    root = make_tree()
    rewrite_sections(stub_of(root), {contract.KERNEL: b"vmlinuz"})
    result = preview(stub_of(root), root)
    assert result.http.files[0].looked_for == "http://10.0.2.2/EFI/BOOT/vmlinuz"
    assert result.net.files[0].looked_for == "tftp://10.0.2.2/vmlinuz"


def test_urls_need_their_transport(make_tree):
    root = make_tree()
    rewrite_sections(stub_of(root), {contract.KERNEL: b"tftp://10.0.2.2/EFI/Linux/vmlinuz"})
    result = preview(stub_of(root), root)
    assert result.http.error_line.endswith(
        "tftp:// paths need a network boot (no PXE on the boot device) status=EFI_NOT_FOUND"
    )
    assert result.net6.error_line == (
        "error: kernel tftp://10.0.2.2/EFI/Linux/vmlinuz: an IPv4 TFTP server needs a PXE boot "
        "over IPv4 status=EFI_UNSUPPORTED"
    )
    rewrite_sections(stub_of(root), {contract.KERNEL: b"http://10.0.2.2/EFI/Linux/vmlinuz"})
    result = preview(stub_of(root), root)
    assert result.net.boots  # after PXE, http:// paths come by HTTP from the same NIC
    assert result.local.error_line.endswith(
        "http:// paths need a network boot (HTTP Boot or PXE) on a NIC with EFI_HTTP_PROTOCOL "
        "status=EFI_NOT_FOUND"
    )


def test_forced_http_source_fails_other_boots(make_tree):
    root = make_tree(policy={"source": "http"})
    result = preview(stub_of(root), root)
    assert result.http.boots and result.http6.boots
    reason = "source: the stub was not loaded by HTTP Boot (source=http) status=EFI_NOT_FOUND"
    assert result.local.error_line == f"error: {reason}"
    assert result.net.error_line == f"error: {reason}"
