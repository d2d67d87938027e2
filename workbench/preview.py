"""What the stub will do under a root, on every transport, side by side: a local ESP, PXE and
TFTP, UEFI HTTP Boot, and both network boots over IPv6.

This follows the stub's own decisions (stub/FORMAT.md) step by step: the boot source, the path
rules (workbench.paths, the twin of stub/src/paths.c and url.c), the lookup semantics of each
medium (FAT is case-insensitive; the lab's TFTP and HTTP servers are not and refuse names that
leave their root), and the SHA-256 check. The predicted failure is the `stub: error:` line the
stub would print, and each file shows the exact path or URL the stub asks for.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from workbench import contract
from workbench.arch import X86_64, by_machine, machine_label
from workbench.builder import file_sha256
from workbench.errors import WorkbenchError
from workbench.kernel_arch import file_machine, label, section_machine, stub_refusal
from workbench.lookup import NOT_SERVED, REFUSED, find_on_esp, find_served
from workbench.paths import StubPath, http_url, parse_stub_path
from workbench.pe.image import PeImage
from workbench.sbat import LevelEntry, Verdict, check_image
from workbench.stubinfo import FileRef, Flavour, StubInfo, describe

Mode = Literal["local", "net", "http", "net6", "http6"]
MODES: tuple[Mode, ...] = ("local", "net", "http", "net6", "http6")
MODE_TITLES: dict[Mode, str] = {
    "local": "Local ESP",
    "net": "PXE + TFTP",
    "http": "HTTP Boot",
    "net6": "PXE + TFTP, IPv6",
    "http6": "HTTP Boot, IPv6",
}
HashStatus = Literal["ok", "mismatch", "missing", "unchecked"]

# The server a netbooted stub learns from DHCP: the lab's tap addresses.
DEFAULT_SERVER = "10.0.2.2"
DEFAULT_SERVER6 = "fd00::2"

EMBEDDED_FLAVOURS = (Flavour.WORKBENCH_FAT, Flavour.UKI)
URL_NEEDS_NETBOOT = "tftp:// paths need a network boot (no PXE on the boot device)"
HTTP_NEEDS_NETBOOT = (
    "http:// paths need a network boot (HTTP Boot or PXE) on a NIC with EFI_HTTP_PROTOCOL"
)
NOT_HTTP_BOOTED = "source: the stub was not loaded by HTTP Boot (source=http)"
NO_PXE = "source: no started PXE on the boot device (source=net)"
HTTP_ANSWERS = {NOT_SERVED: ("HTTP 404 Not Found", "EFI_NOT_FOUND"),
                REFUSED: ("HTTP 403 Forbidden", "EFI_HTTP_ERROR")}  # fmt: skip
HASH_SECTIONS = {"kernel": contract.KERNEL_HASH, "initrd": contract.INITRD_HASH}

# The EFI statuses the stub's error lines end with (stub/FORMAT.md, section 7).
NOT_FOUND = "EFI_NOT_FOUND"
INVALID_PARAMETER = "EFI_INVALID_PARAMETER"
SECURITY_VIOLATION = "EFI_SECURITY_VIOLATION"
TFTP_ERROR = "EFI_TFTP_ERROR"
END_OF_FILE = "EFI_END_OF_FILE"
UNSUPPORTED = "EFI_UNSUPPORTED"
LOAD_ERROR = "EFI_LOAD_ERROR"


def boot_url(mode: Mode, server: str, boot_path: str = contract.BOOT_PATH) -> str | None:
    """The URL an HTTP-booted stub was loaded from in the lab (None for other modes): the
    removable-media path of the stub's architecture, EFI/BOOT/BOOTX64.EFI or BOOTAA64.EFI."""
    if mode not in ("http", "http6"):
        return None
    host = f"[{server}]" if ":" in server else server
    return f"http://{host}/{boot_path}"


@dataclass
class FilePreview:
    role: str  # "kernel" | "initrd"
    looked_for: str  # ESP path, tftp:// or http:// URL, or "embedded"
    exists: bool
    size: int | None
    hash_status: HashStatus
    note: str | None = None  # why it fails, in the stub's words
    status: str | None = None  # the EFI status the stub reports with it
    arch: str | None = None  # a kernel's architecture ("x86_64", "arm64"), when it is a PE


@dataclass
class ModePreview:
    mode: Mode
    # "local", "net server=10.0.2.2", "http server=10.0.2.2 url=...", "embedded", or "-" when
    # it fails before choosing
    source: str
    files: list[FilePreview] = field(default_factory=list)
    outcome: Literal["boots", "fails"] = "boots"
    reason: str | None = None  # the predicted `stub: error:` line, without prefix and status
    status: str | None = None  # the EFI status the line ends with (`status=...`)

    @property
    def boots(self) -> bool:
        return self.outcome == "boots"

    @property
    def error_line(self) -> str | None:
        """The whole line the stub prints, without "stub: " (as BootRun reports errors)."""
        if self.reason is None:
            return None
        return f"{self.reason} status={self.status}" if self.status else self.reason


@dataclass
class Preview:
    stub: Path
    root: Path
    flavour: str
    local: ModePreview
    net: ModePreview
    http: ModePreview
    net6: ModePreview
    http6: ModePreview
    # Given an SBAT level: would shim start this stub as its second stage?
    sbat_level: Verdict | None = None
    arch: str = X86_64.label  # the stub's: "x86_64", "arm64" (a kernel's is on its FilePreview)
    kernel_arch: str | None = None  # the kernel's (embedded, or the file in ROOT), when known
    # The stub and its kernel are of different architectures: no mode boots.
    arch_problem: str | None = None

    def modes(self) -> list[ModePreview]:
        return [getattr(self, mode) for mode in MODES]

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["stub"] = str(self.stub)
        data["root"] = str(self.root)
        return data


def preview(
    stub_path: Path,
    root: Path,
    *,
    server: str = DEFAULT_SERVER,
    server6: str = DEFAULT_SERVER6,
    sbat_level: list[LevelEntry] | None = None,
) -> Preview:
    """Predict every boot mode of the stub at `stub_path` with files served from `root`; with
    `sbat_level`, also whether shim would refuse the stub under that level."""
    root = Path(root)
    if not root.is_dir():
        raise WorkbenchError(f"root {root}: not a directory")
    with PeImage.open(stub_path) as image:
        info = describe(image, root=root)
        embedded = {
            role: image.section_sha256(name)  # cached: describe() hashed every section
            for role, name in (("kernel", contract.KERNEL), ("initrd", contract.INITRD))
            if info.flavour in EMBEDDED_FLAVOURS and image.section(name) is not None
        }
        linux = image.section(contract.KERNEL)
        embedded_machine = (
            section_machine(image, linux)
            if linux is not None and info.flavour in EMBEDDED_FLAVOURS
            else None
        )
        machine = _Machines(image.machine, embedded_machine)
        verdict = check_image(image, sbat_level) if sbat_level is not None else None
    return Preview(
        stub=Path(stub_path),
        root=root,
        flavour=str(info.flavour),
        **{
            mode: _predict(
                info, embedded, machine, root, mode, server6 if mode.endswith("6") else server
            )
            for mode in MODES
        },
        sbat_level=verdict,
        arch=machine_label(machine.stub),
        kernel_arch=info.kernel.arch if info.kernel is not None else None,
        arch_problem=info.arch_problem,
    )


@dataclass(frozen=True)
class _Machines:
    """PE machine types: the stub's, and its embedded kernel's (None: none, or no PE)."""

    stub: int
    embedded_kernel: int | None

    @property
    def boot_path(self) -> str:
        return (by_machine(self.stub) or X86_64).boot_path


def _predict(
    info: StubInfo,
    embedded: dict[str, str],
    machines: _Machines,
    root: Path,
    mode: Mode,
    server: str,
) -> ModePreview:
    """The stub's steps in its order: section checks, boot source, then each file in turn."""
    refs = [ref for ref in (info.kernel, info.initrd) if ref is not None]
    if info.flavour == Flavour.EFI_APP or info.kernel is None:
        return _fails(mode, "-", "kernel: no .linux section", NOT_FOUND)
    if info.flavour in EMBEDDED_FLAVOURS:
        # A fat stub never looks for a boot source: everything it needs is inside it.
        result = ModePreview(mode=mode, source="embedded")
        for ref in refs:
            file = _embedded(ref, embedded.get(ref.role))
            if ref.role == "kernel":
                _check_arch(file, machines.stub, machines.embedded_kernel)
            if not _add(result, file):
                break
        return result

    for ref in refs:
        problem = _thin_problem(ref)
        if problem:
            return _fails(mode, "-", *problem)
    if mode != "local" and info.flavour != Flavour.WORKBENCH_THIN:
        return _fails(mode, "-", "source: this stub reads only a local file system", None)
    forced = info.policy.get("source", "auto")
    if forced == "local" and mode != "local":
        reason = "source: no file system on the boot device (source=local)"
        return _fails(mode, "-", reason, NOT_FOUND)
    if forced == "net" and not mode.startswith("net"):
        return _fails(mode, "-", NO_PXE, NOT_FOUND)
    if forced == "http" and not mode.startswith("http"):
        return _fails(mode, "-", NOT_HTTP_BOOTED, NOT_FOUND)

    base = boot_url(mode, server, machines.boot_path)
    host = f"[{server}]" if ":" in server else server
    source = {"local": "local", "net": f"net server={server}", "net6": f"net server={server}"}
    result = ModePreview(mode=mode, source=source.get(mode, f"http server={host} url={base}"))
    for ref in refs:
        path = parse_stub_path(ref.path or "")
        if not _add(result, _thin_file(ref, path, root, mode, server, machines)):
            break
    return result


def _add(result: ModePreview, file: FilePreview) -> bool:
    """Record a file; the first failing one ends the stub's run (and the prediction)."""
    result.files.append(file)
    if file.note:
        result.outcome = "fails"
        result.reason = f"error: {file.note}"
        result.status = file.status
        return False
    return True


def _fails(mode: Mode, source: str, reason: str, status: str | None) -> ModePreview:
    return ModePreview(
        mode=mode, source=source, outcome="fails", reason=f"error: {reason}", status=status
    )


def _thin_problem(ref: FileRef) -> tuple[str, str] | None:
    """A path the stub cannot parse, or a missing / malformed hash: refused before any fetch."""
    text = ref.path or ""
    try:
        parse_stub_path(text)
    except WorkbenchError as error:
        return f"{ref.role} {text}: {error}", INVALID_PARAMETER
    if ref.expected_sha256 is None or ref.hash_problem:
        name = HASH_SECTIONS[ref.role]
        if ref.hash_problem and ref.hash_problem != "missing":
            return f"{ref.role} {text}: bad {name} section (not 32 bytes)", SECURITY_VIOLATION
        reason = f"{ref.role} {text}: missing {name} section (nothing unverified runs)"
        return reason, SECURITY_VIOLATION
    return None


def _check_arch(file: FilePreview, stub_machine: int, kernel_machine: int | None) -> None:
    """A verified kernel of the other architecture: the stub refuses it before the initrd."""
    file.arch = label(kernel_machine)
    refusal = stub_refusal(stub_machine, kernel_machine)
    if refusal and file.note is None:
        where = "(embedded)" if file.looked_for == "embedded" else file.looked_for
        file.note = f"{file.role} {where}: {refusal}"
        file.status = LOAD_ERROR


def _embedded(ref: FileRef, actual: str | None) -> FilePreview:
    size = ref.embedded_size
    if ref.expected_sha256 is None:
        return FilePreview(ref.role, "embedded", True, size, "unchecked")
    if actual != ref.expected_sha256:
        note = f"{ref.role} (embedded): {_mismatch(ref.expected_sha256, actual or '')}"
        return FilePreview(ref.role, "embedded", True, size, "mismatch", note, SECURITY_VIOLATION)
    return FilePreview(ref.role, "embedded", True, size, "ok")


def _mismatch(expected: str, actual: str) -> str:
    return f"sha256 mismatch (expected {expected}, got {actual})"


def _transport(path: StubPath, mode: Mode) -> str:
    """esp, tftp or http: a URL says so itself; a plain path follows the boot."""
    if path.scheme == "http":
        return "http"
    if path.scheme == "tftp":
        return "tftp"
    return {"local": "esp", "net": "tftp", "net6": "tftp"}.get(mode, "http")


def _thin_file(
    ref: FileRef, path: StubPath, root: Path, mode: Mode, server: str, machines: _Machines
) -> FilePreview:
    text = ref.path or ""
    how = _transport(path, mode)

    def missing(looked_for: str, reason: str, status: str) -> FilePreview:
        note = f"{ref.role} {looked_for}: {reason}"
        return FilePreview(ref.role, looked_for, False, None, "missing", note, status)

    if how == "http":
        looked_for = http_url(boot_url(mode, server, machines.boot_path), path)
        if mode == "local":
            return missing(looked_for, HTTP_NEEDS_NETBOOT, NOT_FOUND)
        name = urllib.parse.unquote(urllib.parse.urlsplit(looked_for).path).lstrip("/")
        found, missing_reason = find_served(root, name)
        if found is None:
            answer, status = HTTP_ANSWERS[missing_reason or NOT_SERVED]
            return missing(looked_for, answer, status)
    elif how == "tftp":
        looked_for = path.tftp_url(server)
        if not mode.startswith("net"):
            return missing(looked_for, URL_NEEDS_NETBOOT, NOT_FOUND)
        wants_v6 = ":" in (path.tftp_server or server)
        if wants_v6 != mode.endswith("6"):
            family = "IPv6" if wants_v6 else "IPv4"
            reason = f"an {family} TFTP server needs a PXE boot over {family}"
            return missing(looked_for, reason, UNSUPPORTED)
        found, missing_reason = find_served(root, path.tftp_name)
        if found is None:
            return missing(looked_for, missing_reason or NOT_SERVED, TFTP_ERROR)
    else:
        looked_for = text
        found = find_on_esp(root, path.esp_parts)
        if found is None:
            return missing(looked_for, "file not found", NOT_FOUND)
    size = found.stat().st_size
    if size == 0:
        note = f"{ref.role} {looked_for}: empty file"
        return FilePreview(ref.role, looked_for, True, 0, "missing", note, END_OF_FILE)
    actual = file_sha256(found).hex()
    if actual != ref.expected_sha256:
        note = f"{ref.role} {looked_for}: {_mismatch(ref.expected_sha256 or '', actual)}"
        return FilePreview(ref.role, looked_for, True, size, "mismatch", note, SECURITY_VIOLATION)
    file = FilePreview(ref.role, looked_for, True, size, "ok")
    if ref.role == "kernel":
        _check_arch(file, machines.stub, file_machine(found))
    return file
