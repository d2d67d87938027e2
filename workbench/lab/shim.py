"""Secure Boot as distributions ship it: shim (signed by Microsoft's UEFI CA) as the boot file,
our stub as its second stage, signed with a test key that the variable store holds as a MOK.

The tree is staged in a private copy: EFI/BOOT/BOOTX64.EFI becomes shim, the stub becomes
EFI/BOOT/grubx64.efi (the second stage shim looks for next to itself, from a disk, by TFTP or
by HTTP Boot), and everything else stays as it is. arm64 alike: BOOTAA64.EFI, grubaa64.efi,
shimaa64.efi.signed (from shim-signed:arm64, unpacked, never installed on an amd64 host: give
its directory in $WORKBENCH_SHIM_DIR) and AAVMF's store with Microsoft's keys.
MokManager (mmx64.efi) is left out: shim starts it only after refusing its second stage, and
it then waits at the console for a key, while without it the refusal ends the boot at once
(shim says "start_image() returned ...").
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

from workbench import keys, sbat
from workbench.arch import X86_64, Arch
from workbench.errors import MissingTool, WorkbenchError
from workbench.lab.firmware import default_descriptor_dirs
from workbench.lab.request import BootRequest, request_arch

SHIM_DIR = Path("/usr/lib/shim")
# Another directory with shim files, looked in first: e.g. shim-signed:arm64 unpacked.
SHIM_DIR_ENV = "WORKBENCH_SHIM_DIR"
# In a checkout, `make -C samples` unpacks shim-signed:arm64 here (an amd64 host cannot
# install it); looked in after $WORKBENCH_SHIM_DIR and /usr/lib/shim.
CHECKOUT_SHIM_DIR = Path(__file__).resolve().parents[2] / "samples/build/aa64/shim/usr/lib/shim"


def shim_file(arch: Arch = X86_64) -> str:
    return f"shim{arch.efi_suffix.lower()}.efi.signed"


def second_stage(arch: Arch = X86_64) -> str:
    """shim's DEFAULT_LOADER, looked for in shim's own directory."""
    return f"EFI/BOOT/grub{arch.efi_suffix.lower()}.efi"


SHIM_FILE = shim_file()
SECOND_STAGE = second_stage()
SBATLEVEL_SECTION = ".sbatlevel"

# What shim prints (verbose, see keys.prepare_mok_vars) when it refuses its second stage: the
# verdict line, preceded by the line that says why (rhboot/shim pe.c, verify.c, sbat.c).
VERDICT = re.compile(r"^Verification failed(?::\s*(.*))?$")
# "start_image() returned Not Found, falling back to default loader" is not the end yet.
GAVE_UP = re.compile(r"^start_image\(\) returned ([^,]*)$")
WHY = (
    (re.compile(r"verify_buffer_authenticode\(\) No signatures found"), "the stub is unsigned"),
    (re.compile(r"verify_buffer_authenticode\(\) Binary is not authorized"),
     "the stub's signer is not in db, MokList or shim's vendor certificate"),
    (re.compile(r"component (\S+), generation (\d+), was revoked by SbatLevel variable"),
     "SBAT: {0} generation {1} is revoked by SbatLevel"),
)  # fmt: skip


@dataclass
class ShimSetup:
    """A staged tree and the variable store template a shim boot starts from."""

    root: Path
    vars_template: Path
    shim: Path
    notes: list[str] = field(default_factory=list)


def find_shim(directory: Path | None = None, arch: Arch = X86_64) -> Path:
    if directory is not None:
        directories = [Path(directory)]
    else:
        directories = [
            Path(d) for d in (os.environ.get(SHIM_DIR_ENV), SHIM_DIR, CHECKOUT_SHIM_DIR) if d
        ]
    for candidate in directories:
        path = candidate / shim_file(arch)
        if path.is_file():
            return path
    where = " or ".join(str(d / shim_file(arch)) for d in directories)
    if arch is X86_64:
        raise MissingTool(f"{where} not found (install shim-signed)")
    raise MissingTool(
        f"{where} not found (`apt-get download shim-signed:{arch.label}`, unpack it with "
        f"dpkg-deb -x, never install it here, and set {SHIM_DIR_ENV} to its usr/lib/shim)"
    )


def microsoft_vars_template(
    descriptor_dirs: tuple[Path, ...] | None = None, arch: Arch = X86_64
) -> Path:
    """The VARS template of the Secure Boot firmware whose store has keys enrolled already
    (Debian: OVMF_VARS_4M.ms.fd / AAVMF_VARS.ms.fd, Microsoft's KEK and db, which trust shim)."""
    dirs = descriptor_dirs if descriptor_dirs is not None else default_descriptor_dirs()
    seen: set[str] = set()
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.json")):
            if path.name in seen:
                continue  # masked by a more specific directory
            seen.add(path.name)
            try:
                descriptor = json.loads(path.read_text())
                features = set(descriptor.get("features", []))
                template = Path(descriptor["mapping"]["nvram-template"]["filename"])
                fits = any(t.get("architecture") == arch.name for t in descriptor["targets"])
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue
            if fits and {"secure-boot", "enrolled-keys"} <= features and template.is_file():
                return template
    raise MissingTool(
        f"no {arch.name} Secure Boot firmware with Microsoft's keys enrolled "
        f"(install {arch.firmware_package})"
    )


def _long_name(data: bytes, name: str) -> str:
    """A section name as stored: names over 8 bytes are "/N", an offset into the COFF string
    table (after the symbol table), as in shim's `.sbatlevel`."""
    (pe_offset,) = struct.unpack_from("<I", data, 0x3C)
    symbols, count = struct.unpack_from("<II", data, pe_offset + 4 + 8)
    table = symbols + count * 18
    if not symbols or table + 4 > len(data):
        return name
    end = table + struct.unpack_from("<I", data, table)[0]
    position = data.find(name.encode() + b"\0", table + 4, end)
    return f"/{position - table}" if position >= 0 else name


def shim_levels(shim: Path) -> tuple[str, str]:
    """The SBAT levels shim carries (automatic, latest) from its `.sbatlevel` section: a format
    version (0), then two offsets from the end of the version field to NUL-terminated texts."""
    from workbench.pe.image import PeImage

    try:
        stored = _long_name(Path(shim).read_bytes(), SBATLEVEL_SECTION)
        with PeImage.open(shim) as image:
            section = image.section(stored)
            if section is None:
                raise ValueError(f"no {SBATLEVEL_SECTION} section (shim 15.7 or later has one)")
            data = image.section_data(section)
        version, automatic, latest = struct.unpack_from("<III", data)
        if version != 0:
            raise ValueError(f"{SBATLEVEL_SECTION} format version {version}")
        texts = []
        for offset in (automatic, latest):
            end = data.index(b"\0", 4 + offset)
            texts.append(data[4 + offset : end].decode("ascii"))
    except (OSError, struct.error, ValueError, UnicodeDecodeError) as error:
        raise WorkbenchError(f"{shim}: cannot read its SBAT levels: {error}") from None
    return texts[0], texts[1]


def level_for_shim(level: str, shim: Path) -> tuple[str, str | None]:
    """LEVEL as an SbatLevel shim keeps, and a note when it was completed.

    Shim overwrites a stored SbatLevel that does not start with "sbat,1,DATE" or whose DATE is
    older than the level it carries; rows without that header get shim's own newest date."""
    entries = sbat.parse_level(level)
    _, latest = shim_levels(shim)
    latest_row = sbat.parse_level(latest)[0]
    newest = latest_row.datestamp or ""
    if not sbat.has_signature_row(entries):
        header = f"{latest_row.component},{latest_row.generation},{newest}\n"
        return header + level, f"SbatLevel: header {header.strip()} added (shim keeps it)"
    date = entries[0].datestamp or ""
    if date[: len(newest)] < newest:
        raise WorkbenchError(
            f"SBAT level dated {date} is older than shim's own ({newest}): shim would replace it"
        )
    return level, None


def _sign_or_keep(stub: Path, keydir: Path, sign: bool, stage: str = SECOND_STAGE) -> str:
    from workbench.pe.image import PeImage
    from workbench.pe.signing import sign as sign_image

    if sign:
        sign_image(stub, keydir)
        return f"second stage {stage}: the stub, signed with the MOK ({keydir})"
    with PeImage.open(stub) as image:
        signed = image.is_signed
        signature = image.signature if signed else None
    who = f"signed by {signature.subject!r}" if signature else "signed" if signed else "unsigned"
    return f"second stage {stage}: the stub as it is ({who})"


def stage_tree(
    root: Path, out: Path, shim: Path, keydir: Path, sign: bool, arch: Arch = X86_64
) -> tuple[Path, str]:
    """Copy ROOT to OUT with shim as BOOTX64.EFI (BOOTAA64.EFI) and ROOT's stub as shim's
    second stage."""
    root, out = Path(root), Path(out)
    stub = root / arch.boot_path
    if not stub.is_file():
        raise WorkbenchError(f"{root}: no {arch.boot_path} (no stub to put behind shim)")
    try:
        # Files, not symlinks: the lab servers and the ESP image both want the bytes.
        shutil.copytree(root, out, symlinks=False)
        second = out / second_stage(arch)
        second.unlink(missing_ok=True)
        (out / arch.boot_path).replace(second)
        shutil.copyfile(shim, out / arch.boot_path)
    except OSError as error:
        raise WorkbenchError(f"cannot stage {root} for shim: {error.strerror or error}") from None
    return out, _sign_or_keep(second, keydir, sign, second_stage(arch))


def prepare(
    root: Path,
    workdir: Path,
    keydir: Path,
    sign: bool = True,
    sbat_level: str | None = None,
    arch: Arch = X86_64,
) -> ShimSetup:
    """Stage ROOT behind shim in WORKDIR and write a store with KEYDIR's db cert as a MOK."""
    shim = find_shim(arch=arch)
    template = microsoft_vars_template(arch=arch)
    notes = [f"shim {shim}; Microsoft's keys from {template}"]
    level = None
    if sbat_level is not None:
        level, note = level_for_shim(sbat_level, shim)
        notes += [note] if note else []
        notes.append("SbatLevel: " + level.strip().replace("\n", " "))
    Path(workdir).mkdir(parents=True, exist_ok=True)
    staged, what = stage_tree(root, Path(workdir) / "tree", shim, keydir, sign, arch)
    notes.append(what)
    vars_path = keys.prepare_mok_vars(keydir, template, Path(workdir) / "vars.fd", level)
    notes.append(f"MokList: the db certificate of {keydir}")
    return ShimSetup(root=staged, vars_template=vars_path, shim=shim, notes=notes)


def staged_request(request: BootRequest, workdir: Path) -> tuple[BootRequest, list[str]]:
    """The request the lab boots for a `shim` request: the staged tree, the store with the MOK
    and Secure Boot on; REQUEST itself (its tree, its stub) is left alone."""
    options = request.shim
    assert options is not None
    keydir = options.keys
    notes = []
    if keydir is None:
        keydir = Path(workdir) / "shim-keys"
        keys.init_keys(keydir)
        notes.append("throwaway test keys for this run (give --keys KEYDIR to choose them)")
    setup = prepare(request.root, Path(workdir) / "shim", keydir, options.sign,
                    options.sbat_level, request_arch(request))  # fmt: skip
    staged = dataclasses.replace(
        request, root=setup.root, vars_template=setup.vars_template, secure_boot=True
    )
    return staged, notes + setup.notes


class ShimWatch:
    """Reads the console of a boot through shim and says when shim refused its second stage."""

    def __init__(self, stage: str = SECOND_STAGE) -> None:
        self.why: str | None = None
        self.stage = stage

    def feed(self, line: str) -> str | None:
        """The refusal as one line once shim gives its verdict, else None."""
        text = line.strip()
        for pattern, explanation in WHY:
            found = pattern.search(text)
            if found is not None:
                self.why = explanation.format(*found.groups())
        verdict = VERDICT.match(text)
        if verdict is not None:
            status = verdict.group(1) or "Security Violation"
            return f"shim refused {self.stage} ({status}): {self.why or 'see the console'}"
        gave_up = GAVE_UP.match(text)
        if gave_up is not None:
            return f"shim could not start {self.stage}: {gave_up.group(1)}"
        return None
