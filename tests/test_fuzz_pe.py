"""Property and fuzz tests: any input gives a valid result or one clear error, never damage.

Edits are random section changes on a real stub; inputs are truncated and byte-flipped stubs.
The CLI runs in process (workbench.cli.main) for speed.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.cli import main
from workbench.errors import WorkbenchError
from workbench.pe.edit import check_layout, rewrite_sections
from workbench.pe.image import PeImage
from workbench.stubinfo import describe, to_json

PAYLOAD_NAMES = [".osrel", ".cmdline", ".policy", ".initrd", ".linux", ".initrdh", ".linuxh",
                 ".sbat", ".wbstub", ".extra", ".dtb"]  # fmt: skip
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

section_names = st.one_of(
    st.sampled_from(PAYLOAD_NAMES),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz._0123456789", min_size=1, max_size=8),
)
section_values = st.one_of(
    st.none(),
    st.binary(max_size=64),
    st.binary(max_size=64).map(lambda tail: b"MZ" + tail),
    st.integers(min_value=0, max_value=12000).map(lambda size: bytes([0x5A]) * size),
)


@pytest.fixture(scope="module")
def built_stub(tmp_path_factory: pytest.TempPathFactory, stub_efi: Path, sample_kernel: Path,
               sample_initrd: Path) -> Path:  # fmt: skip
    from workbench.builder import build_tree

    root = tmp_path_factory.mktemp("fuzz-tree")
    return build_tree(stub=stub_efi, kernel=sample_kernel, initrd=sample_initrd,
                      cmdline="console=ttyS0", out_dir=root).stub_path  # fmt: skip


def _state(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


@SETTINGS
@given(changes=st.dictionaries(section_names, section_values, max_size=6))
def test_random_edits_give_a_sound_image_or_a_clear_error(built_stub: Path, changes) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "in.efi"
        shutil.copyfile(built_stub, source)
        before = _state(source)
        with PeImage.open(source) as original:
            kept = {s.name: (s.virtual_address, original.section_data(s))
                    for s in original.sections if s.name not in changes}  # fmt: skip
        target = Path(scratch) / "out.efi"
        try:
            rewrite_sections(source, changes, target)
        except WorkbenchError as error:
            assert "\n" not in str(error)
            assert not target.exists()
            return
        finally:
            assert _state(source) == before
            left = sorted(p.name for p in Path(scratch).iterdir())
            assert left in (["in.efi"], ["in.efi", "out.efi"])  # no temporary files behind
        with PeImage.open(target) as image:
            assert check_layout(image) == []
            for name, value in changes.items():
                section = image.section(name)
                if value is None:
                    assert section is None
                else:
                    assert section is not None and image.section_data(section) == value
            for name, (address, data) in kept.items():
                section = image.section(name)
                assert section is not None and image.section_data(section) == data
                if name in (".text", ".data", ".reloc"):
                    assert section.virtual_address == address  # the stub's code never moves
            if image.section(".linux") is not None:
                assert image.sections[-1].name == ".linux"
            to_json(describe(image), image)


def _expect_clean_outcome(argv: list[str], capsys: pytest.CaptureFixture[str]) -> int:
    code = main(argv)
    captured = capsys.readouterr()
    assert code in (0, 2), captured
    if code == 2:
        assert captured.err.count("\n") == 1 and captured.err.startswith("workbench: error: ")
    else:
        assert captured.err == ""
    return code


def _corpus(stub: bytes) -> list[bytes]:
    """Truncations at interesting offsets and a few deterministic byte flips."""
    with PeImage.from_bytes(stub) as image:
        marks = [0, 1, 2, 0x3C, 0x40, image.offsets.pe_offset + 2, image.offsets.optional_header,
                 image.offsets.section_table + 20, image.section_table_end - 1,
                 image.size_of_headers, image.sections[-1].raw_offset + 3,
                 len(stub) - 1]  # fmt: skip
        fields = [image.offsets.pe_offset + 6, image.offsets.optional_header + 56,
                  image.offsets.optional_header + 60, image.offsets.section_table + 8,
                  image.offsets.section_table + 12, image.offsets.section_table + 16,
                  image.offsets.section_table + 20, image.section_table_end - 24]  # fmt: skip
    corpus = [stub[:mark] for mark in marks]
    for offset in fields:
        for value in (0x00, 0x7F, 0xFF):
            flipped = bytearray(stub)
            flipped[offset : offset + 4] = bytes([value]) * 4
            corpus.append(bytes(flipped))
    return corpus


def test_corpus_of_broken_stubs(
    built_stub: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outcomes = {0: 0, 2: 0}
    for index, content in enumerate(_corpus(built_stub.read_bytes())):
        path = tmp_path / f"case{index}.efi"
        path.write_bytes(content)
        before = _state(path)
        outcomes[_expect_clean_outcome(["inspect", str(path)], capsys)] += 1
        _expect_clean_outcome(["inspect", "--json", str(path)], capsys)
        out = tmp_path / f"case{index}.out.efi"
        if _expect_clean_outcome(["set", str(path), "-o", str(out), "--cmdline", "x"], capsys) == 0:
            with PeImage.open(out) as image:
                assert check_layout(image) == []
        _expect_clean_outcome(["set", str(path), "--policy", "source=net"], capsys)
        if _state(path) != before:  # an in-place edit may succeed, but only as a sound image
            with PeImage.open(path) as image:
                assert check_layout(image) == []
    # The corpus exercises both paths: readable oddities and outright rejections.
    assert outcomes[0] > 0 and outcomes[2] > 0


@SETTINGS
@given(flips=st.lists(st.tuples(st.integers(0, 0x3FF), st.integers(0, 255)), min_size=1,
                      max_size=8))  # fmt: skip
def test_random_header_flips(
    built_stub: Path, capsys: pytest.CaptureFixture[str], flips: list[tuple[int, int]]
) -> None:
    data = bytearray(built_stub.read_bytes())
    for offset, value in flips:
        data[offset] = value
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "flipped.efi"
        path.write_bytes(bytes(data))
        before = _state(path)
        _expect_clean_outcome(["inspect", "--json", str(path)], capsys)
        out = Path(scratch) / "out.efi"
        code = _expect_clean_outcome(["set", str(path), "-o", str(out), "--cmdline", "y"], capsys)
        assert _state(path) == before
        if code == 0:
            with PeImage.open(out) as image:
                assert check_layout(image) == []
                assert image.section_data(".cmdline") == b"y"
        else:
            assert not out.exists()
