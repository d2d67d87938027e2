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
    sha256: str


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

    def section_data(self, section: Section) -> bytes:
        return self.image.section_data(section)

    def section_head(self, section: Section, limit: int) -> bytes:
        """At most `limit` leading bytes: a 200 MB `.linux` is never copied to show it."""
        return self.image.read(section.raw_offset, min(section.data_size, limit))

    def close(self) -> None:
        self.image.close()


def load_stub(path: Path) -> LoadedStub:
    """Open and describe the stub; raises WorkbenchError with the reason when it cannot."""
    image = PeImage.open(path)
    try:
        info = describe(image)
        rows = [SectionRow(section, image.section_sha256(section)) for section in image.sections]
        return LoadedStub(
            path=path,
            size=path.stat().st_size,
            info=info,
            rows=rows,
            is_signed=image.is_signed,
            signature=image.signature,
            image=image,
        )
    except BaseException:
        image.close()
        raise


def stub_in_root(stub: Path, root: Path) -> bool:
    """Whether booting ROOT runs this very file."""
    return tree_of(stub) == root.resolve()
