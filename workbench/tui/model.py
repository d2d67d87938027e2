"""What the app knows about the opened stub: a Textual-free snapshot built from the services."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.lookup import tree_of
from workbench.pe.image import PeImage, Section, SignatureInfo
from workbench.stubinfo import StubInfo, describe


@dataclass(frozen=True)
class SectionRow:
    section: Section
    sha256: str | None  # None until the hashing worker is done


@dataclass(frozen=True)
class Hashes:
    """What only hashing every byte tells: the section digests (in section order) and the
    description with embedded files checked against their hash sections."""

    info: StubInfo
    sections: list[Section]
    digests: list[str]


@dataclass
class LoadedStub:
    """The stub as saved on disk. Keeps its PeImage open so section data is read on demand."""

    path: Path
    size: int
    info: StubInfo
    rows: list[SectionRow]
    is_signed: bool
    signature: SignatureInfo | None
    image: PeImage
    hashed: bool = False  # section digests known, embedded files checked

    def add_hashes(self, hashes: Hashes) -> bool:
        """Take the worker's digests; False (nothing taken) when they describe other sections
        (the file changed on disk meanwhile)."""
        if hashes.sections != [row.section for row in self.rows]:
            return False
        self.info = hashes.info
        self.rows = [
            SectionRow(row.section, digest)
            for row, digest in zip(self.rows, hashes.digests, strict=True)
        ]
        self.hashed = True
        return True

    def section_data(self, section: Section) -> bytes:
        return self.image.section_data(section)

    def section_head(self, section: Section, limit: int) -> bytes:
        """At most `limit` leading bytes: a 200 MB `.linux` is never copied to show it."""
        return self.image.read(section.raw_offset, min(section.data_size, limit))

    def close(self) -> None:
        self.image.close()


def load_stub(path: Path) -> LoadedStub:
    """Open and describe the stub without hashing it (see hash_stub); raises WorkbenchError
    with the reason when it cannot."""
    image = PeImage.open(path)
    try:
        info = describe(image, hashes=False)
        return LoadedStub(
            path=path,
            size=path.stat().st_size,
            info=info,
            rows=[SectionRow(section, None) for section in image.sections],
            is_signed=image.is_signed,
            signature=image.signature,
            image=image,
        )
    except BaseException:
        image.close()
        raise


def hash_stub(path: Path) -> Hashes:
    """Every section hashed, for a worker: its own PeImage, so saving (which closes and
    reopens the app's) never pulls the file from under it."""
    with PeImage.open(path) as image:
        info = describe(image)
        sections = list(image.sections)
        return Hashes(info, sections, [image.section_sha256(section) for section in sections])


def stub_in_root(stub: Path, root: Path) -> bool:
    """Whether booting ROOT runs this very file."""
    return tree_of(stub) == root.resolve()
