"""`workbench explain`: console logs from any machine, as a timeline with a verdict and a hint."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from workbench import contract
from workbench.cli import main
from workbench.errors import BadInput
from workbench.explain import (
    ENDS_EARLY,
    STATUS_WORDS,
    explain_log,
    explain_text,
    render,
    status_in_words,
)
from workbench.lab.console import parse_stub_line

REPO = Path(__file__).resolve().parent.parent
HASH_A = "a" * 64
HASH_B = "b" * 64

LOCAL_OK = """\
BdsDxe: loading Boot0001 "UEFI QEMU HARDDISK QM00001 " from PciRoot(0x0)/Pci(0x1,0x1)
BdsDxe: starting Boot0001 "UEFI QEMU HARDDISK QM00001 " from PciRoot(0x0)/Pci(0x1,0x1)
stub: version=0.1.0
stub: secureboot=disabled
stub: tpm=absent
stub: source=local
stub: cmdline="console=ttyS0 panic=-1"
stub: loading kernel path=\\EFI\\Linux\\vmlinuz from=esp
stub: transfer kernel via=esp bytes=14186432 ms=590
stub: loaded kernel path=\\EFI\\Linux\\vmlinuz bytes=14186432 sha256=ok
stub: loading initrd path=\\EFI\\Linux\\initrd.img from=esp
stub: transfer initrd via=esp bytes=1028036 ms=40
stub: loaded initrd path=\\EFI\\Linux\\initrd.img bytes=1028036 sha256=ok
stub: starting kernel
EFI stub: Loaded initrd from LINUX_EFI_INITRD_MEDIA_GUID device path
[    0.000000] Linux version 6.1.0-sample (builder@host) #1 SMP
"""

NET_OK = """\
>>Start PXE over IPv4.
  Station IP address is 10.0.2.15

  Server IP address is 10.0.2.2
  NBP filename is EFI/BOOT/BOOTX64.EFI
  NBP filesize is 90112 Bytes
 Downloading NBP file...

  NBP file downloaded successfully.
stub: version=0.1.0
stub: secureboot=disabled
stub: source=net server=10.0.2.2
stub: loading kernel path=\\EFI\\Linux\\vmlinuz from=tftp://10.0.2.2/EFI/Linux/vmlinuz
stub: transfer kernel via=mtftp4 bytes=8000000 blksize=16384 window=8 ms=2000 timeouts=0
stub: loaded kernel path=\\EFI\\Linux\\vmlinuz bytes=8000000 sha256=ok
stub: loading initrd path=\\EFI\\Linux\\initrd.img from=tftp://10.0.2.2/EFI/Linux/initrd.img
stub: transfer initrd via=mtftp4 bytes=1000000 blksize=16384 window=8 ms=250 timeouts=0
stub: loaded initrd path=\\EFI\\Linux\\initrd.img bytes=1000000 sha256=ok
stub: starting kernel
"""

HTTP_OK = """\
>>Start PXE over IPv6.
  PXE-E16: No valid offer received.
BdsDxe: failed to load Boot0003 "UEFI PXEv6 (MAC:525400123456)" from PciRoot(0x0): Not Found
>>Start HTTP Boot over IPv6.....
  URI: http://[fd00::2]/EFI/BOOT/BOOTX64.EFI
  File Size: 90112 Bytes
stub: version=0.1.0
stub: source=http server=fd00::2 url=http://[fd00::2]/EFI/BOOT/BOOTX64.EFI
stub: loading kernel path=\\EFI\\Linux\\vmlinuz from=http://[fd00::2]/EFI/Linux/vmlinuz
stub: transfer kernel via=http bytes=3000000 ms=100 reads=12
stub: loaded kernel path=\\EFI\\Linux\\vmlinuz bytes=3000000 sha256=ok
stub: starting kernel
"""


def _explain(text: str | bytes, tmp_path: Path, name: str = "boot.log"):
    log = tmp_path / name
    log.write_bytes(text.encode() if isinstance(text, str) else text)
    return explain_log(log)


def _run(tmp_path: Path, text: str | bytes, *args: str) -> int:
    log = tmp_path / "cli.log"
    log.write_bytes(text.encode() if isinstance(text, str) else text)
    return main(["explain", str(log), *args])


def test_local_boot_reaches_the_kernel_with_sizes_and_rates(tmp_path: Path) -> None:
    result = _explain(LOCAL_OK, tmp_path)
    assert result.verdict == "kernel-started" and result.exit_code == 0
    (attempt,) = result.attempts
    assert (attempt.source, attempt.version, attempt.secureboot) == ("local", "0.1.0", "disabled")
    kernel, initrd = attempt.files
    assert (kernel.what, kernel.path, kernel.via) == ("kernel", "\\EFI\\Linux\\vmlinuz", "esp")
    assert (kernel.bytes, kernel.ms, kernel.sha256) == (14186432, 590, "ok")
    assert kernel.rate_bytes_per_s == pytest.approx(14186432 / 0.590, rel=1e-3)
    assert initrd.bytes == 1028036 and initrd.ms == 40
    kinds = [event.kind for event in attempt.events]
    assert kinds[:2] == ["firmware", "firmware"] and kinds[-1] == "kernel"
    text = render(result)
    assert "14.2 MB in 590 ms (24.0 MB/s)" in text and "the kernel started" in text


def test_net_boot_names_server_and_urls(tmp_path: Path) -> None:
    (attempt,) = _explain(NET_OK, tmp_path).attempts
    assert (attempt.source, attempt.server) == ("net", "10.0.2.2")
    assert [f.source for f in attempt.files] == [
        "tftp://10.0.2.2/EFI/Linux/vmlinuz",
        "tftp://10.0.2.2/EFI/Linux/initrd.img",
    ]
    assert attempt.files[0].via == "mtftp4" and attempt.files[0].rate_bytes_per_s == 4e6
    assert attempt.verdict == "kernel-started"


def test_http_boot_after_a_failed_pxe_option_is_one_successful_attempt(tmp_path: Path) -> None:
    result = _explain(HTTP_OK, tmp_path)
    (attempt,) = result.attempts
    assert attempt.failure is None and result.exit_code == 0
    assert attempt.source == "http" and attempt.url == "http://[fd00::2]/EFI/BOOT/BOOTX64.EFI"
    assert attempt.files[0].rate_bytes_per_s == 3e7


def _format_examples() -> list[str]:
    """The error lines stub/FORMAT.md section 7 gives as examples."""
    text = (REPO / "stub/FORMAT.md").read_text()
    section = text[text.index("## 7.") : text.index("## 8.")]
    return re.findall(r"^  - `(stub: error: .*?)`$", section, re.MULTILINE)


def _vector_errors() -> list[str]:
    lines = json.loads((REPO / "tests/vectors/console.json").read_text())["lines"]
    return [item["line"] for item in lines if item["parsed"]["step"] == "error"]


def test_the_format_examples_are_found() -> None:
    assert len(_format_examples()) >= 10


@pytest.mark.parametrize("line", _format_examples() + _vector_errors())
def test_each_error_line_is_the_failure_with_words_and_a_hint(line: str, tmp_path: Path) -> None:
    log = f"stub: version=0.1.0\r\nstub: source=local\r\n{line}\r\nstub: resetting in=5s\r\n"
    result = _explain(log, tmp_path)
    (attempt,) = result.attempts
    failure = attempt.failure
    step = parse_stub_line(line)
    assert failure is not None and step is not None and result.exit_code == 1
    assert failure.origin == "stub" and failure.line == 3
    assert (failure.what, failure.path, failure.reason) == (step.subject, step.path, step.reason)
    assert failure.status == step.fields.get("status")
    if failure.status in STATUS_WORDS or (failure.status or "").startswith("0x8"):
        assert failure.status_words
    assert attempt.policy == "resetting in=5s"
    if line in _format_examples():
        assert failure.hint, line


@pytest.mark.parametrize(
    ("reason", "status", "hint_words"),
    [
        (f"sha256 mismatch (expected {HASH_A}, got {HASH_B})", "EFI_SECURITY_VIOLATION",
         "workbench set --rehash ROOT"),
        ("file not found", "EFI_NOT_FOUND", "server's root"),
        ("TFTP error: file not found", "EFI_TFTP_ERROR", "server's root"),
        ("TFTP error: access denied", "EFI_TFTP_ERROR", "world-readable"),
        ("HTTP 404 Not Found", "EFI_NOT_FOUND", "no file at that URL"),
        ("fetch-timeout of 5 s passed after 100 of 2000 bytes", "EFI_TIMEOUT", "fetch-timeout=N"),
        ("timeout (no answer from the TFTP server)", "EFI_TIMEOUT", "did not answer"),
        ("'..' component in path", "EFI_INVALID_PARAMETER", "workbench set"),
    ],
)  # fmt: skip
def test_hints_are_specific(reason: str, status: str, hint_words: str, tmp_path: Path) -> None:
    line = f"stub: error: kernel tftp://10.0.2.2/EFI/Linux/vmlinuz: {reason} status={status}"
    failure = _explain(f"stub: version=0.1.0\n{line}\n", tmp_path).attempts[0].failure
    assert failure is not None and failure.hint is not None
    assert hint_words in failure.hint


def test_mismatch_line_gives_both_hashes(tmp_path: Path) -> None:
    line = (f"stub: error: initrd \\EFI\\Linux\\initrd.img: sha256 mismatch (expected {HASH_A}, "
            f"got {HASH_B}) status=EFI_SECURITY_VIOLATION")  # fmt: skip
    failure = _explain(f"stub: version=0.1.0\n{line}\n", tmp_path).attempts[0].failure
    assert failure is not None
    assert (failure.expected_sha256, failure.got_sha256) == (HASH_A, HASH_B)


def test_status_in_words() -> None:
    assert status_in_words("EFI_NOT_FOUND") == "the file or device was not found"
    assert "EFI_NOT_FOUND" in (status_in_words("0x800000000000000e") or "")
    assert "EFI_TFTP_ERROR" in (status_in_words("0x8000000000000017") or "")
    for name in ("EFI_SECURITY_VIOLATION", "EFI_TIMEOUT", "EFI_HTTP_ERROR", "EFI_LOAD_ERROR",
                 "EFI_INVALID_PARAMETER", "EFI_END_OF_FILE", "EFI_ACCESS_DENIED",
                 "EFI_ALREADY_STARTED", "EFI_OUT_OF_RESOURCES"):  # fmt: skip
        assert status_in_words(name)
    assert status_in_words("EFI_MADE_UP") is None


def test_pxe_firmware_failure(tmp_path: Path) -> None:
    log = (">>Start PXE over IPv4.\r\n  PXE-E16: No valid offer received.\r\n"
           'BdsDxe: failed to load Boot0002 "UEFI PXEv4 (MAC:525400123456)" from '
           "PciRoot(0x0)/Pci(0x3,0x0)/MAC(525400123456,0x1): Not Found\r\n"
           "BdsDxe: No bootable option or device was found.\r\n")  # fmt: skip
    result = _explain(log, tmp_path)
    failure = result.attempts[-1].failure
    assert result.exit_code == 1 and failure is not None and failure.origin == "firmware"
    assert "PXE-E16: No valid offer received." in (failure.reason or "")
    assert result.attempts[-1].source == "net"
    assert "DHCP" in (failure.hint or "")


def test_pxe_tftp_refusal_of_the_boot_file(tmp_path: Path) -> None:
    log = (">>Start PXE over IPv4.\n  Server IP address is 10.0.2.2\n"
           "  NBP filename is EFI/BOOT/BOOTX64.EFI\n  NBP filesize is 0 Bytes\n"
           "  PXE-E23: Client received TFTP error from server.\n"
           'BdsDxe: failed to load Boot0002 "UEFI PXEv4 (MAC:525400123456)" from PciRoot(0x0)'
           ": Not Found\n")  # fmt: skip
    attempt = _explain(log, tmp_path).attempts[-1]
    assert attempt.server == "10.0.2.2" and attempt.failure is not None
    assert "world-readable" in (attempt.failure.hint or "")


def test_http_boot_firmware_failure(tmp_path: Path) -> None:
    log = (">>Start HTTP Boot over IPv4.....\n"
           "  Error: Could not retrieve NBP file size from HTTP server.\n\n"
           "  Error: Server response timeout.\n"
           'BdsDxe: failed to load Boot0004 "UEFI HTTPv4 (MAC:525400123456)" from '
           "PciRoot(0x0)/Pci(0x3,0x0): Not Found\n")  # fmt: skip
    result = _explain(log, tmp_path)
    failure = result.attempts[-1].failure
    assert failure is not None and failure.origin == "firmware" and result.exit_code == 1
    assert "Could not retrieve NBP file size" in (failure.reason or "")
    assert "Server response timeout." in (failure.reason or "")
    assert "HTTP server" in (failure.hint or "")


def test_secure_boot_refusal(tmp_path: Path) -> None:
    log = ('BdsDxe: loading Boot0001 "UEFI QEMU HARDDISK QM00001 " from PciRoot(0x0)\n'
           'BdsDxe: failed to load Boot0001 "UEFI QEMU HARDDISK QM00001 " from PciRoot(0x0): '
           "Access Denied\n")  # fmt: skip
    result = _explain(log, tmp_path)
    failure = result.attempts[0].failure
    assert failure is not None and failure.origin == "secure-boot" and result.exit_code == 1
    assert failure.status == "EFI_ACCESS_DENIED" and "sign the stub" in (failure.hint or "")


def test_shim_refusal(tmp_path: Path) -> None:
    log = ("verify.c:590:verify_buffer_authenticode() No signatures found\n"
           "Verification failed: Security Policy Violation\n")  # fmt: skip
    result = _explain(log, tmp_path)
    failure = result.attempts[0].failure
    assert failure is not None and failure.origin == "shim" and result.exit_code == 1
    assert "the stub is unsigned" in (failure.reason or "") and "MOK" in (failure.hint or "")


def test_noise_cr_lf_mixes_ansi_and_bad_bytes(tmp_path: Path) -> None:
    noisy = LOCAL_OK.replace("\n", "\r\n", 3).replace(
        "stub: source", "\x1b[0m\x1b[1;1Hstub: source"
    )
    data = b"\xff\xfe\x00garbage \x1b[2J\r" + noisy.encode().replace(b"\n", b"\r", 4) + b"\xc3("
    result = _explain(data, tmp_path)
    (attempt,) = result.attempts
    assert attempt.source == "local" and result.exit_code == 0
    assert [f.bytes for f in attempt.files] == [14186432, 1028036]


def test_log_ending_mid_transfer_ends_before_the_kernel(tmp_path: Path) -> None:
    cut = LOCAL_OK[: LOCAL_OK.index("stub: transfer initrd") + len("stub: transfer initrd via=e")]
    result = _explain(cut, tmp_path)
    assert result.exit_code == 1 and result.verdict == "incomplete"
    failure = result.attempts[0].failure
    assert failure is not None and failure.reason == ENDS_EARLY
    assert "ends before the kernel starts" in render(result)


def test_error_line_cut_mid_way_is_still_the_failure(tmp_path: Path) -> None:
    result = _explain(
        "stub: version=0.1.0\nstub: error: kernel \\EFI\\Linux\\vmlinuz: file no", tmp_path
    )
    failure = result.attempts[0].failure
    assert failure is not None and failure.origin == "stub" and failure.cut
    assert failure.path == "\\EFI\\Linux\\vmlinuz" and result.exit_code == 1


def test_a_line_cut_by_a_reset_runs_into_the_next_boot(tmp_path: Path) -> None:
    log = ("stub: version=0.1.0\nstub: source=local\n"
           "stub: transfer kernel via=esp bytes=12stub: version=0.1.0\n"
           "stub: source=net server=10.0.2.2\n"
           "stub: starting kernel\n")  # fmt: skip
    result = _explain(log, tmp_path)
    assert [a.source for a in result.attempts] == ["local", "net"]
    assert result.attempts[0].verdict == "incomplete" and result.exit_code == 0


def test_several_attempts(tmp_path: Path) -> None:
    failing = ("stub: version=0.1.0\nstub: source=local\n"
               "stub: error: kernel \\EFI\\Linux\\vmlinuz: file not found status=EFI_NOT_FOUND\n"
               "stub: resetting in=5s\n")  # fmt: skip
    result = _explain(failing + failing + LOCAL_OK, tmp_path)
    assert [a.verdict for a in result.attempts] == ["failed", "failed", "kernel-started"]
    assert result.exit_code == 0
    result = _explain(LOCAL_OK + failing, tmp_path)
    assert [a.verdict for a in result.attempts] == ["kernel-started", "failed"]
    assert result.exit_code == 1
    assert "attempt 2:" in render(result)


@pytest.mark.parametrize(
    "content",
    [b"", b"hello\nworld\n", b"MZ\x90\x00" + bytes(4096), b"EFI stub not here: stub: `x`\n",
     b"stub: error:` line with the EFI status and resets\n"],
)  # fmt: skip
def test_not_a_boot_log(content: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(tmp_path, content) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("workbench: error: ") and "\n" not in err


def test_the_stub_binary_and_missing_files_are_not_logs(
    stub_efi: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explain", str(stub_efi)]) == 2
    assert "binary" in capsys.readouterr().err
    assert main(["explain", str(tmp_path / "absent.log")]) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(BadInput):
        explain_text("nothing to see\n")


def test_cli_exit_codes_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(tmp_path, LOCAL_OK) == 0
    assert "the kernel started" in capsys.readouterr().out
    failing = "stub: version=0.1.0\nstub: error: source: no file system status=EFI_NOT_FOUND\n"
    assert _run(tmp_path, failing, "--json") == 1
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "failed" and data["exit_code"] == 1
    (attempt,) = data["attempts"]
    assert attempt["failure"]["what"] == "source"
    assert attempt["failure"]["status_words"] == "the file or device was not found"
    assert set(attempt) >= {"number", "source", "server", "events", "files", "verdict"}


def test_help_ends_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["explain", "--help"])
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("example: workbench explain")


def _mismatch_log(what: str, path: str, expected: str, got: str) -> str:
    return ("stub: version=0.1.0\nstub: source=local\n"
            f"stub: error: {what} {path}: sha256 mismatch (expected {expected}, got {got}) "
            "status=EFI_SECURITY_VIOLATION\nstub: resetting in=5s\n")  # fmt: skip


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_root_tampered_file_says_the_tree_changed(make_tree, tmp_path: Path) -> None:
    root = make_tree()
    initrd = root / "EFI/Linux/initrd.img"
    built = _sha(initrd)
    data = bytearray(initrd.read_bytes())
    data[10] ^= 1
    initrd.write_bytes(bytes(data))
    log = tmp_path / "serial.log"
    log.write_text(_mismatch_log("initrd", "\\EFI\\Linux\\initrd.img", built, _sha(initrd)))
    result = explain_log(log, root=root)
    (check,) = [c for c in result.checks if c.what == "initrd"]
    assert check.present and check.size == len(data)
    assert check.sha256 == _sha(initrd) and check.expected_sha256 == built
    assert "the tree changed" in check.verdict


def test_root_matching_file_says_the_server_sent_other_bytes(
    make_tree, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_tree()
    kernel = root / "EFI/Linux/vmlinuz"
    log = tmp_path / "serial.log"
    url = "tftp://10.0.2.2/EFI/Linux/vmlinuz"
    log.write_text(_mismatch_log("kernel", url, _sha(kernel), HASH_B))
    assert main(["explain", str(log), "--root", str(root), "--json"]) == 1
    (check,) = json.loads(capsys.readouterr().out)["checks"]
    assert check["location"] == str(kernel.resolve()) and check["sha256"] == _sha(kernel)
    assert "the server sent something else" in check["verdict"]


def test_root_expected_hash_comes_from_the_stub(make_tree, tmp_path: Path) -> None:
    root = make_tree()
    (root / "EFI/Linux/initrd.img").write_bytes(b"another initrd")
    log = tmp_path / "serial.log"
    log.write_text(LOCAL_OK)
    result = explain_log(log, root=root, stub=root / contract.BOOT_PATH)
    checks = {check.what: check for check in result.checks}
    assert checks["kernel"].verdict == "matches the stub's hash"
    assert "the tree changed" in checks["initrd"].verdict
    assert checks["initrd"].sha256 == hashlib.sha256(b"another initrd").hexdigest()


def test_root_missing_file_and_missing_stub(make_tree, tmp_path: Path) -> None:
    root = make_tree()
    (root / "EFI/Linux/vmlinuz").unlink()
    log = tmp_path / "serial.log"
    log.write_text("stub: version=0.1.0\nstub: error: kernel \\EFI\\Linux\\vmlinuz: file not found "
                   "status=EFI_NOT_FOUND\n")  # fmt: skip
    (check,) = explain_log(log, root=root).checks
    assert not check.present and check.location is None
    with pytest.raises(BadInput):
        explain_log(log, root=root, stub=tmp_path / "absent.efi")


def test_root_log_from_another_build_of_the_stub(make_tree, tmp_path: Path) -> None:
    root = make_tree()
    log = tmp_path / "serial.log"
    log.write_text(_mismatch_log("initrd", "\\EFI\\Linux\\initrd.img", HASH_A, HASH_B))
    (check,) = explain_log(log, root=root).checks
    assert check.expected_sha256 == HASH_A
    assert "the log comes from another build" in check.verdict


def test_a_line_quoting_a_stub_line_is_not_one(tmp_path: Path) -> None:
    """`workbench boot`'s own outcome line quotes the stub's last line: that is no new step."""
    cut = LOCAL_OK[: LOCAL_OK.index("stub: transfer initrd")]
    outcome = (
        "outcome: FAILED: timeout after 9.0s: 'X' not reached in 9s; the stub's last line: "
        "'stub: version=0.2.0'; \"stub: error: kernel \\\\x: gone status=EFI_NOT_FOUND\""
    )
    result = _explain(cut + outcome + "\n", tmp_path)
    (attempt,) = result.attempts
    assert attempt.version == "0.1.0" and attempt.failure is not None
    assert attempt.failure.reason == ENDS_EARLY
