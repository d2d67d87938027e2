"""build_tree(): our stub plus payload sections, and the kernel/initrd laid out as an ESP tree.

Thin: ROOT/EFI/BOOT/BOOTX64.EFI names `\\EFI\\Linux\\<kernel>` and `\\EFI\\Linux\\<initrd>` and
carries their SHA-256; the files are copied next to it. Fat: the stub carries the bytes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from workbench import __version__, contract
from workbench.arch import ARCHES, X86_64, Arch, by_machine, machine_label
from workbench.atomic_write import atomic_write
from workbench.errors import BadInput, MissingTool, WorkbenchError
from workbench.kernel_arch import file_machine
from workbench.pe.edit import rewrite_sections
from workbench.pe.image import PeImage
from workbench.pe.signing import sign
from workbench.stubinfo import format_policy, validate_policy

REPO = Path(__file__).resolve().parent.parent
STUB_ENV = "WORKBENCH_STUB"

DEFAULT_OSREL = (
    'NAME="Stub Workbench sample"\n'
    "ID=stub-workbench-sample\n"
    f'VERSION_ID="{__version__}"\n'
    f'PRETTY_NAME="Stub Workbench sample {__version__}"\n'
)


@dataclass(frozen=True)
class BuildResult:
    root: Path
    stub_path: Path
    kernel_path: Path | None  # None for a fat stub
    initrd_path: Path | None


PACKAGE_DATA = Path(__file__).resolve().parent / "data"
CHECKOUT_BUILD = REPO / "stub" / "build"
PACKAGED_STUB = PACKAGE_DATA / X86_64.stub_file
CHECKOUT_STUB = CHECKOUT_BUILD / X86_64.stub_file


def default_stub(arch: Arch = X86_64) -> Path:
    """The stub for `arch`: $WORKBENCH_STUB (x86_64 only), else the one installed with the
    package, else the one built in this checkout (an editable install)."""
    configured = os.environ.get(STUB_ENV)
    if configured and arch == X86_64:
        stub = Path(configured)
        if not stub.is_file():
            raise BadInput(f"no stub at {stub} (${STUB_ENV})")
        return stub
    checkout = CHECKOUT_BUILD / arch.stub_file
    for stub in (PACKAGE_DATA / arch.stub_file, checkout):
        if stub.is_file():
            return stub
    raise MissingTool(f"no {arch.label} stub in the package nor at {checkout} (run 'make stub')")


def pe_arch(path: Path) -> Arch | None:
    """The architecture a PE file is built for; None when it is not a PE file of one we know
    (a kernel that is no PE at all is the stub's to refuse, with its own words)."""
    machine = file_machine(path)
    return by_machine(machine) if machine is not None else None


def choose_arch(kernel: Path, stub: Path | None, forced: Arch | None) -> Arch:
    """The architecture of a tree: the kernel's, else `forced`, else the stub's, else x86_64.
    A stub and a kernel of different architectures cannot boot: BadInput (exit 2)."""
    kernel_arch = pe_arch(kernel)
    if forced is not None and kernel_arch is not None and kernel_arch != forced:
        raise BadInput(f"{kernel} is an {kernel_arch.label} kernel, not {forced.label} (--arch)")
    arch = kernel_arch or forced
    if stub is not None:
        with PeImage.open(stub) as image:
            stub_arch = by_machine(image.machine)
            if stub_arch is None:
                raise BadInput(f"{stub} is a stub for {machine_label(image.machine)}: "
                               f"known are {', '.join(a.label for a in ARCHES)}")  # fmt: skip
        if arch is not None and stub_arch != arch:
            raise BadInput(f"{stub} is an {stub_arch.label} stub and {kernel} an "
                           f"{arch.label} kernel: the stub would refuse it")  # fmt: skip
        arch = stub_arch
    return arch or X86_64


def stub_path_for(name: str) -> str:
    """The `.linux` / `.initrd` text for a file in EFI/Linux."""
    return "\\" + contract.LINUX_DIR.replace("/", "\\") + "\\" + name


def file_sha256(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").digest()
    except OSError as error:
        raise WorkbenchError(f"cannot read {path}: {error.strerror or error}") from None


def _check_input(path: Path, role: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise WorkbenchError(f"{role} {path}: no such file")
    return path


def _check_name(name: str, role: str) -> str:
    bad = (
        not name
        or name in (".", "..")
        or len(name) > 255
        or any(ch in '\\/:*?"<>|' or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name)
    )
    if bad:
        raise WorkbenchError(f"bad {role} file name {name!r}: one plain file name, no separators")
    return name


def _copy_atomic(source: Path, target: Path) -> None:
    with atomic_write(target, like=source) as temporary:
        shutil.copyfile(source, temporary)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise WorkbenchError(f"cannot read {path}: {error.strerror or error}") from None


def build_tree(
    *,
    stub: Path | None,
    kernel: Path,
    initrd: Path | None,
    cmdline: str,
    out_dir: Path,
    fat: bool = False,
    policy: Mapping[str, str] | None = None,
    osrel: str | None = None,
    kernel_name: str | None = None,
    initrd_name: str | None = None,
    sign_keys: Path | None = None,
    arch: Arch | None = None,
) -> BuildResult:
    """Write ROOT/EFI/BOOT/BOOT<ARCH>.EFI (and, thin, ROOT/EFI/Linux/*) from the base stub of
    the kernel's architecture (`arch` when the kernel does not say; `stub` to choose one)."""
    stub = _check_input(stub, "stub") if stub is not None else None
    kernel = _check_input(kernel, "kernel")
    tree_arch = choose_arch(kernel, stub, arch)
    stub = stub if stub is not None else default_stub(tree_arch)
    initrd = _check_input(initrd, "initrd") if initrd is not None else None
    if "\0" in cmdline:
        raise WorkbenchError("the command line must not contain NUL")
    policy_text = format_policy(validate_policy(policy)) if policy else None
    root = Path(out_dir)
    stub_out = root / tree_arch.boot_path
    linux_dir = root / contract.LINUX_DIR
    kernel_file = _check_name(kernel_name or kernel.name, "kernel")
    initrd_file = _check_name(initrd_name or initrd.name, "initrd") if initrd else None

    changes: dict[str, bytes | None] = {
        contract.OSREL: (osrel if osrel is not None else DEFAULT_OSREL).encode(),
        contract.CMDLINE: cmdline.encode(),
        contract.POLICY: policy_text.encode() if policy_text else None,
        contract.INITRD: None,
        contract.INITRD_HASH: None,
    }
    kernel_path = initrd_path = None
    try:
        stub_out.parent.mkdir(parents=True, exist_ok=True)
        if not fat:
            linux_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WorkbenchError(f"cannot create {root}: {error.strerror or error}") from None
    if fat:
        kernel_bytes = _read(kernel)
        changes[contract.KERNEL] = kernel_bytes
        changes[contract.KERNEL_HASH] = hashlib.sha256(kernel_bytes).digest()
        if initrd is not None:
            initrd_bytes = _read(initrd)
            changes[contract.INITRD] = initrd_bytes
            changes[contract.INITRD_HASH] = hashlib.sha256(initrd_bytes).digest()
    else:
        kernel_path = linux_dir / kernel_file
        _copy_atomic(kernel, kernel_path)
        changes[contract.KERNEL] = stub_path_for(kernel_file).encode()
        changes[contract.KERNEL_HASH] = file_sha256(kernel_path)
        if initrd is not None and initrd_file is not None:
            initrd_path = linux_dir / initrd_file
            _copy_atomic(initrd, initrd_path)
            changes[contract.INITRD] = stub_path_for(initrd_file).encode()
            changes[contract.INITRD_HASH] = file_sha256(initrd_path)
    # Payload order in the image: .osrel .cmdline .policy .initrd .initrdh .linuxh, `.linux` last.
    ordered = {name: changes[name] for name in _ORDER if name in changes}
    rewrite_sections(stub, ordered, stub_out, signed="drop")
    if sign_keys is not None:
        sign(stub_out, sign_keys)
    return BuildResult(root, stub_out, kernel_path, initrd_path)


_ORDER = (
    contract.OSREL,
    contract.CMDLINE,
    contract.POLICY,
    contract.INITRD,
    contract.INITRD_HASH,
    contract.KERNEL_HASH,
    contract.KERNEL,
)
