"""SBAT as shim reads it: an image's `.sbat` CSV, an SBAT level (the `SbatLevel` variable, or a
revocation string), and shim's decision whether the level revokes the image.

Shim's rules (rhboot/shim sbat.c, csv.c): lines end at CR or LF, empty lines are skipped, the
data ends at the first NUL; columns are split at commas, nothing is trimmed or unquoted. A
`.sbat` row needs at least 6 columns (more are ignored) and an empty column makes the whole
section invalid; a level row needs 2 (component, generation; a third is a date). For each
`.sbat` row, the FIRST level row with the same component name decides: a generation below the
level's is revoked. Generations are read as shim's atoi does (leading spaces skipped, digits up
to the first non-digit, 0 if none, kept as UINT16). Under shim, an image without `.sbat`, or
with one that does not parse, is refused as soon as the level has any entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench import contract
from workbench.errors import BadInput
from workbench.pe.image import PeImage

SECTION_COLUMNS = 6
LEVEL_COLUMNS = 2
# The first row of every SbatLevel shim writes: "sbat,1,<date stamp YYYYMMDDNN>".
LEVEL_SIGNATURE = "sbat,"


@dataclass(frozen=True)
class SbatEntry:
    """One `.sbat` row: component name and generation, then who ships it."""

    component: str
    generation: str
    vendor: str
    package: str
    version: str
    url: str

    @property
    def generation_number(self) -> int:
        return shim_atoi(self.generation)


@dataclass(frozen=True)
class LevelEntry:
    """One row of an SBAT level: components of this name below `generation` are revoked."""

    component: str
    generation: str
    datestamp: str | None = None

    @property
    def generation_number(self) -> int:
        return shim_atoi(self.generation)


@dataclass(frozen=True)
class Revocation:
    entry: SbatEntry
    by: LevelEntry

    def __str__(self) -> str:
        return (
            f"{self.entry.component} generation {self.entry.generation_number} "
            f"is revoked by level {self.by.component},{self.by.generation_number}"
        )


@dataclass(frozen=True)
class Verdict:
    """Would shim start an image with this `.sbat` under this level?"""

    passes: bool
    reason: str
    revoked: tuple[Revocation, ...] = ()


def shim_atoi(text: str) -> int:
    """EDK2's AsciiStrDecimalToUintn as shim uses it, truncated to shim's UINT16."""
    text = text.lstrip(" \t")
    digits = ""
    for char in text:
        if not char.isascii() or not char.isdigit():
            break
        digits += char
    return int(digits) % 65536 if digits else 0


def _rows(data: str) -> list[list[str]]:
    """Shim's CSV: the text up to the first NUL, rows split at CR/LF, empty rows dropped."""
    data = data.split("\0", 1)[0]
    rows = []
    for line in data.replace("\r", "\n").split("\n"):
        if line:
            rows.append(line.split(","))
    return rows


def parse_section(data: bytes | str) -> list[SbatEntry]:
    """A `.sbat` section as shim parses it; BadInput where shim would refuse the image."""
    text = data.decode("latin-1") if isinstance(data, bytes) else data
    entries = []
    for number, columns in enumerate(_rows(text), start=1):
        if len(columns) < SECTION_COLUMNS:
            raise BadInput(
                f".sbat line {number} has {len(columns)} columns, shim needs {SECTION_COLUMNS}"
            )
        columns = columns[:SECTION_COLUMNS]
        if "" in columns:
            raise BadInput(f".sbat line {number} has an empty column (shim refuses it)")
        entries.append(SbatEntry(*columns))
    return entries


def parse_level(data: bytes | str) -> list[LevelEntry]:
    """An SBAT level (SbatLevel's contents) as shim parses it; BadInput if shim cannot."""
    text = data.decode("latin-1") if isinstance(data, bytes) else data
    entries = []
    for number, columns in enumerate(_rows(text), start=1):
        if len(columns) < LEVEL_COLUMNS:
            raise BadInput(f"SBAT level line {number} {columns[0]!r} needs NAME,GENERATION")
        columns = columns[: LEVEL_COLUMNS + 1]
        if "" in columns:
            raise BadInput(f"SBAT level line {number} has an empty column")
        entries.append(LevelEntry(columns[0], columns[1], columns[2] if len(columns) > 2 else None))
    if not entries:
        raise BadInput("the SBAT level is empty")
    return entries


def check(section: bytes | str | None, level: list[LevelEntry]) -> Verdict:
    """Shim's verify_sbat_section(): SECTION is the image's `.sbat` data (None: no section)."""
    if not level:
        return Verdict(True, "no SBAT level: nothing is revoked")
    if section is None or len(section) == 0:
        return Verdict(False, "no .sbat section: shim refuses images without one")
    try:
        entries = parse_section(section)
    except BadInput as error:
        return Verdict(False, f"shim cannot parse the .sbat section: {error}")
    revoked = []
    for entry in entries:
        for rule in level:
            if rule.component == entry.component:
                if entry.generation_number < rule.generation_number:
                    revoked.append(Revocation(entry, rule))
                break  # the first row with this name decides, as in shim
    if revoked:
        return Verdict(False, "; ".join(map(str, revoked)), tuple(revoked))
    names = {entry.component for entry in entries} & {rule.component for rule in level}
    checked = f"{', '.join(sorted(names))} checked" if names else "the level names none of them"
    return Verdict(True, f"no component revoked ({checked})")


def level_text(value: str) -> str:
    """The `--sbat-level` argument as SbatLevel text: `@FILE`, or rows separated by spaces,
    semicolons or newlines, e.g. "sbat,1,2099010100 stub-workbench,2"."""
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            text = path.read_text(encoding="latin-1")
        except OSError as error:
            raise BadInput(f"{path}: cannot read the SBAT level: {error.strerror}") from None
    else:
        text = "\n".join(value.replace(";", " ").split())
    parse_level(text)  # a clear error now rather than a surprise in the firmware
    return text if text.endswith("\n") else text + "\n"


def has_signature_row(level: list[LevelEntry]) -> bool:
    """Shim keeps a stored SbatLevel only if it starts with "sbat,<version>,<date>" and that
    date is not older than the level shim carries itself; otherwise it overwrites it."""
    first = level[0]
    return f"{first.component}," == LEVEL_SIGNATURE and first.datestamp is not None


def check_image(image: PeImage, level: list[LevelEntry]) -> Verdict:
    """check() on the `.sbat` section of IMAGE, up to its first NUL as shim reads it."""
    section = image.section(contract.SBAT)
    return check(image.section_data(section) if section is not None else None, level)


def verdict_line(verdict: Verdict) -> str:
    return ("passes: " if verdict.passes else "REVOKED, shim refuses it: ") + verdict.reason
