"""`workbench inspect / set / sign / verify` end to end, in process and as a real command."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO, require_tool

from workbench import contract
from workbench.cli import main
from workbench.pe.edit import check_layout
from workbench.pe.image import PeImage

WORKBENCH = REPO / ".venv" / "bin" / "workbench"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def inspect_json(path: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    code, out, _ = run(["inspect", "--json", path], capsys)
    assert code == 0
    return json.loads(out)


def snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


@pytest.fixture
def thin(make_tree: Callable[..., Path]) -> Path:
    return make_tree()


def test_inspect_human_and_json(thin: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stub = thin / contract.BOOT_PATH
    code, out, err = run(["inspect", stub], capsys)
    assert code == 0 and err == ""
    assert "flavour:   workbench-thin" in out
    assert "kernel:    \\EFI\\Linux\\vmlinuz  sha256 " in out
    assert 'cmdline:   "console=ttyS0 panic=-1"' in out
    document = inspect_json(stub, capsys)
    assert {"flavour", "sections", "kernel", "initrd", "cmdline", "osrel", "signed"} <= set(
        document
    )
    assert document["cmdline"] == "console=ttyS0 panic=-1"
    kernel_hash = hashlib.sha256((thin / "EFI/Linux/vmlinuz").read_bytes()).hexdigest()
    assert document["kernel"]["sha256"] == kernel_hash
    for section in document["sections"]:
        assert {"name", "virtual_address", "virtual_size", "raw_size", "sha256"} <= set(section)


def test_set_then_inspect_shows_new_values(thin: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stub = thin / contract.BOOT_PATH
    out_file = thin / "edited.efi"
    before = snapshot(stub)
    long_cmdline = "console=ttyS0 panic=-1 " + "x" * 6000  # outgrows its slot: moves before .linux
    argv = ["set", stub, "-o", out_file, "--cmdline", long_cmdline,
            "--policy", "on-error=halt", "--policy", "error-delay="]  # fmt: skip
    code, out, err = run(argv, capsys)
    assert (code, err) == (0, "") and f"wrote {out_file}" in out
    assert snapshot(stub) == before
    document = inspect_json(out_file, capsys)
    assert document["cmdline"] == long_cmdline
    assert document["policy"] == {"on-error": "halt"}
    assert [s["name"] for s in document["sections"]][-2:] == [".cmdline", ".linux"]
    with PeImage.open(out_file) as image:
        assert check_layout(image) == []
        assert image.size_of_headers >= image.section_table_end


def test_set_paths_and_rehash_resolve_case_insensitively(
    thin: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stub = thin / contract.BOOT_PATH
    (thin / "EFI/Linux/vmlinuz").rename(thin / "EFI/Linux/VMLINUZ.EFI")
    code, _, err = run(["set", stub, "--kernel-path", "\\efi\\linux\\vmlinuz.efi",
                        "--rehash", thin], capsys)  # fmt: skip
    assert (code, err) == (0, "")
    document = inspect_json(stub, capsys)
    assert document["kernel"]["path"] == "\\efi\\linux\\vmlinuz.efi"
    digest = hashlib.sha256((thin / "EFI/Linux/VMLINUZ.EFI").read_bytes()).hexdigest()
    assert document["kernel"]["sha256"] == digest
    code, _, _ = run(["set", stub, "--initrd-path", ""], capsys)
    assert code == 0
    document = inspect_json(stub, capsys)
    assert document["initrd"] is None
    assert ".initrdh" not in [s["name"] for s in document["sections"]]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--kernel-hash", "abc"], "expected 64 hex digits"),
        (["--initrd-hash", "g" * 64], "expected 64 hex digits"),
        (["--policy", "colour=red"], "unknown policy key"),
        (["--policy", "error-delay=9999"], "bad policy value"),
        (["--policy", "novalue"], "expected KEY=VALUE"),
        (["--kernel-path", "\\EFI\\a\x01b"], "control characters"),
        (["--rehash", "/nonexistent-root"], "not a directory"),
        (["--osrel", "/nonexistent-osrel"], "--osrel"),
        ([], "nothing to change"),
        (["--kernel-hash", "0" * 64, "--rehash", "."], "not both"),
    ],
)
def test_set_rejects_bad_input_and_leaves_the_file_alone(
    thin: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    stub = thin / contract.BOOT_PATH
    before = snapshot(stub)
    code, out, err = run(["set", stub, *argv], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("workbench: error: ") and message in err
    assert snapshot(stub) == before


def test_set_on_a_fat_stub_refuses_paths(
    make_tree: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    stub = make_tree(fat=True) / contract.BOOT_PATH
    code, _, err = run(["set", stub, "--kernel-path", "\\EFI\\Linux\\k"], capsys)
    assert code == 2 and "embedded" in err
    code, _, err = run(["set", stub, "--cmdline", "quiet"], capsys)
    assert (code, err) == (0, "")
    assert inspect_json(stub, capsys)["flavour"] == "workbench-fat"


def test_signed_stub_needs_a_decision(
    thin: Path, openssl_db_keys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sbverify = require_tool("sbverify")
    require_tool("sbsign")
    stub = thin / contract.BOOT_PATH
    code, out, _ = run(["verify", stub, "--keys", openssl_db_keys], capsys)
    assert code == 1 and "not signed" in out
    assert run(["sign", stub, "--keys", openssl_db_keys], capsys)[0] == 0
    assert run(["verify", stub, "--keys", openssl_db_keys], capsys)[0] == 0
    assert inspect_json(stub, capsys)["signed"] is True

    before = snapshot(stub)
    code, _, err = run(["set", stub, "--cmdline", "changed"], capsys)
    assert code == 2 and "is signed" in err and err.count("\n") == 1
    assert snapshot(stub) == before

    code, _, err = run(["set", stub, "--cmdline", "re-signed", "--sign", openssl_db_keys], capsys)
    assert (code, err) == (0, "")
    accepted = subprocess.run([sbverify, "--cert", str(openssl_db_keys / "db.pem"), str(stub)],
                              capture_output=True, text=True)  # fmt: skip
    assert accepted.returncode == 0, accepted.stderr
    document = inspect_json(stub, capsys)
    assert document["cmdline"] == "re-signed" and document["signature"]["count"] == 1

    unsigned = thin / "unsigned.efi"
    code, _, _ = run(["set", stub, "-o", unsigned, "--drop-signature", "--cmdline", "x"], capsys)
    assert code == 0
    assert inspect_json(unsigned, capsys)["signed"] is False
    assert run(["verify", unsigned, "--keys", openssl_db_keys], capsys)[0] == 1


def test_sign_with_a_bad_key_directory(thin: Path, tmp_path: Path, capsys) -> None:
    code, _, err = run(["sign", thin / contract.BOOT_PATH, "--keys", tmp_path], capsys)
    assert code == 2 and "has no db.key" in err


def test_the_installed_command_never_shows_a_traceback(thin: Path, tmp_path: Path) -> None:
    """Through the real entry point: errors are one line on stderr and exit code 2."""
    if not WORKBENCH.exists():
        pytest.fail(f"{WORKBENCH} missing: run 'make venv'")
    garbage = tmp_path / "garbage.efi"
    garbage.write_bytes(b"MZ" + bytes(100))
    truncated = tmp_path / "truncated.efi"
    truncated.write_bytes((thin / contract.BOOT_PATH).read_bytes()[:700])
    cases = [
        ["inspect", str(garbage)],
        ["inspect", str(truncated)],
        ["inspect", str(tmp_path / "absent.efi")],
        ["set", str(thin / contract.BOOT_PATH), "--kernel-hash", "xyz"],
        ["set", str(tmp_path), "--cmdline", "x"],
    ]
    for argv in cases:
        result = subprocess.run([str(WORKBENCH), *argv], capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, (argv, result.stderr)
        assert result.stderr.count("\n") == 1, (argv, result.stderr)
        assert "Traceback" not in result.stderr
    result = subprocess.run([str(WORKBENCH), "inspect", str(thin / contract.BOOT_PATH)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0 and "workbench-thin" in result.stdout
    shutil.rmtree(tmp_path / "unused", ignore_errors=True)
