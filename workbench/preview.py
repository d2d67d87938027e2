"""What the stub will do under a root, from a local ESP and over the network, side by side.

This follows the stub's own decisions (stub/FORMAT.md) step by step: the boot source, the path
rules (workbench.paths, the twin of stub/src/paths.c), the lookup semantics of each medium (FAT is
case-insensitive, a TFTP server on Linux is not and refuses names that leave its root), and the
SHA-256 check. The predicted failure is the `stub: error:` line the stub would print.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from workbench import contract
from workbench.builder import file_sha256
from workbench.errors import WorkbenchError
from workbench.lookup import find_on_esp, find_served
from workbench.paths import StubPath, parse_stub_path
from workbench.pe.image import PeImage
from workbench.stubinfo import FileRef, Flavour, StubInfo, describe

Mode = Literal["local", "net"]
HashStatus = Literal["ok", "mismatch", "missing", "unchecked"]

# The server a netbooted stub learns from DHCP; the lab's tap address.
DEFAULT_SERVER = "10.0.2.2"

EMBEDDED_FLAVOURS = (Flavour.WORKBENCH_FAT, Flavour.UKI)
URL_NEEDS_NETBOOT = "tftp:// paths need a network boot (no PXE on the boot device)"
HASH_SECTIONS = {"kernel": contract.KERNEL_HASH, "initrd": contract.INITRD_HASH}

# The EFI statuses the stub's error lines end with (stub/FORMAT.md, section 7).
NOT_FOUND = "EFI_NOT_FOUND"
INVALID_PARAMETER = "EFI_INVALID_PARAMETER"
SECURITY_VIOLATION = "EFI_SECURITY_VIOLATION"
TFTP_ERROR = "EFI_TFTP_ERROR"
END_OF_FILE = "EFI_END_OF_FILE"


@dataclass
class FilePreview:
    role: str  # "kernel" | "initrd"
    looked_for: str  # ESP path, tftp://server/name, or "embedded"
    exists: bool
    size: int | None
    hash_status: HashStatus
    note: str | None = None  # why it fails, in the stub's words
    status: str | None = None  # the EFI status the stub reports with it


@dataclass
class ModePreview:
    mode: Mode
    source: str  # "local", "net server=10.0.2.2", "embedded", or "-" when it fails before choosing
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

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["stub"] = str(self.stub)
        data["root"] = str(self.root)
        return data


def preview(stub_path: Path, root: Path, *, server: str = DEFAULT_SERVER) -> Preview:
    """Predict both boot modes of the stub at `stub_path` with files served from `root`."""
    root = Path(root)
    if not root.is_dir():
        raise WorkbenchError(f"root {root}: not a directory")
    with PeImage.open(stub_path) as image:
        info = describe(image)
        embedded = {
            role: image.section_sha256(name)  # cached: describe() hashed every section
            for role, name in (("kernel", contract.KERNEL), ("initrd", contract.INITRD))
            if info.flavour in EMBEDDED_FLAVOURS and image.section(name) is not None
        }
    return Preview(
        stub=Path(stub_path),
        root=root,
        flavour=str(info.flavour),
        local=_predict(info, embedded, root, "local", server),
        net=_predict(info, embedded, root, "net", server),
    )


def _predict(
    info: StubInfo, embedded: dict[str, str], root: Path, mode: Mode, server: str
) -> ModePreview:
    """The stub's steps in its order: section checks, boot source, then each file in turn."""
    refs = [ref for ref in (info.kernel, info.initrd) if ref is not None]
    if info.flavour == Flavour.EFI_APP or info.kernel is None:
        return _fails(mode, "-", "kernel: no .linux section", NOT_FOUND)
    if info.flavour in EMBEDDED_FLAVOURS:
        # A fat stub never looks for a boot source: everything it needs is inside it.
        result = ModePreview(mode=mode, source="embedded")
        for ref in refs:
            _add(result, _embedded(ref, embedded.get(ref.role)))
        return result

    for ref in refs:
        problem = _thin_problem(ref)
        if problem:
            return _fails(mode, "-", *problem)
    if mode == "net" and info.flavour != Flavour.WORKBENCH_THIN:
        return _fails(mode, "-", "source: this stub reads only a local file system", None)
    forced = info.policy.get("source", "auto")
    if forced == "local" and mode == "net":
        reason = "source: no file system on the boot device (source=local)"
        return _fails(mode, "-", reason, NOT_FOUND)
    if forced == "net" and mode == "local":
        reason = "source: no started PXE on the boot device (source=net)"
        return _fails(mode, "-", reason, NOT_FOUND)

    result = ModePreview(mode=mode, source="local" if mode == "local" else f"net server={server}")
    for ref in refs:
        if not _add(result, _thin_file(ref, parse_stub_path(ref.path or ""), root, mode, server)):
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


def _thin_file(ref: FileRef, path: StubPath, root: Path, mode: Mode, server: str) -> FilePreview:
    text = ref.path or ""
    over_net = mode == "net" or path.is_url
    looked_for = f"tftp://{path.tftp_server or server}/{path.tftp_name}" if over_net else text
    if over_net and mode == "local":
        note = f"{ref.role} {looked_for}: {URL_NEEDS_NETBOOT}"
        return FilePreview(ref.role, looked_for, False, None, "missing", note, NOT_FOUND)
    if over_net:
        found, missing_reason = find_served(root, path.tftp_name)
        missing_status = TFTP_ERROR
    else:
        found, missing_reason = find_on_esp(root, path.esp_parts), "file not found"
        missing_status = NOT_FOUND
    if found is None:
        note = f"{ref.role} {looked_for}: {missing_reason}"
        return FilePreview(ref.role, looked_for, False, None, "missing", note, missing_status)
    size = found.stat().st_size
    if size == 0:
        note = f"{ref.role} {looked_for}: empty file"
        return FilePreview(ref.role, looked_for, True, 0, "missing", note, END_OF_FILE)
    actual = file_sha256(found).hex()
    if actual != ref.expected_sha256:
        note = f"{ref.role} {looked_for}: {_mismatch(ref.expected_sha256 or '', actual)}"
        return FilePreview(ref.role, looked_for, True, size, "mismatch", note, SECURITY_VIOLATION)
    return FilePreview(ref.role, looked_for, True, size, "ok")
