"""atomic_write(): the modes cp and editors give, and a target that no failure damages."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.atomic_write import atomic_write, write_bytes_atomic
from workbench.cli import main
from workbench.errors import WorkbenchError


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(directory: Path, *keep: str) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name not in keep)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_gets_0666_less_the_umask(tmp_path: Path, mask: int, expected: int) -> None:
    with umask(mask):
        write_bytes_atomic(tmp_path / "new", b"data")
    assert mode(tmp_path / "new") == expected
    assert (tmp_path / "new").read_bytes() == b"data"


@pytest.mark.parametrize(
    ("source_mode", "mask", "expected"),
    [(0o755, 0o022, 0o755), (0o755, 0o077, 0o700), (0o644, 0o022, 0o644), (0o600, 0o022, 0o600)],
)
def test_a_new_copy_gets_its_sources_mode_less_the_umask(
    tmp_path: Path, source_mode: int, mask: int, expected: int
) -> None:
    source = tmp_path / "source"
    source.write_bytes(b"x")
    source.chmod(source_mode)
    with umask(mask), atomic_write(tmp_path / "copy", like=source) as temporary:
        temporary.write_bytes(source.read_bytes())
    assert mode(tmp_path / "copy") == expected


def test_replacing_keeps_the_targets_mode(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_bytes(b"old")
    target.chmod(0o640)
    source = tmp_path / "source"
    source.write_bytes(b"x")
    source.chmod(0o755)
    with umask(0o022), atomic_write(target, like=source) as temporary:
        temporary.write_bytes(b"new")
    assert (target.read_bytes(), mode(target)) == (b"new", 0o640)


def test_an_explicit_mode_wins_over_the_umask_and_the_target(tmp_path: Path) -> None:
    key = tmp_path / "db.key"
    key.write_bytes(b"old")
    key.chmod(0o644)
    with umask(0):
        write_bytes_atomic(key, b"secret", mode=0o600)
        write_bytes_atomic(tmp_path / "new.key", b"secret", mode=0o600)
    assert mode(key) == mode(tmp_path / "new.key") == 0o600


def test_a_tool_that_recreates_the_temporary_file_still_gets_the_mode(tmp_path: Path) -> None:
    with umask(0o022), atomic_write(tmp_path / "out") as temporary:
        temporary.unlink()
        with umask(0o077):
            temporary.write_bytes(b"made by a tool")
    assert mode(tmp_path / "out") == 0o644


def test_a_failure_leaves_the_original_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_bytes(b"original")
    target.chmod(0o640)
    with pytest.raises(RuntimeError), atomic_write(target) as temporary:
        temporary.write_bytes(b"half")
        raise RuntimeError("interrupted")
    no_space = f"cannot write {target}: No space"
    with pytest.raises(WorkbenchError, match=no_space), atomic_write(target) as temporary:
        temporary.write_bytes(b"half")
        raise OSError(28, "No space left on device")
    assert (target.read_bytes(), mode(target)) == (b"original", 0o640)
    assert leftovers(tmp_path, "target") == []


def test_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(WorkbenchError, match=r"cannot write .*/missing/out: No such file"):
        write_bytes_atomic(tmp_path / "missing" / "out", b"x")


def test_a_fifo_or_directory_is_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "directory").mkdir()
    for target in (fifo, tmp_path / "directory"):
        with pytest.raises(WorkbenchError, match="not a regular file"):
            write_bytes_atomic(target, b"x")
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and (tmp_path / "directory").is_dir()
    assert leftovers(tmp_path, "fifo", "directory") == []


def test_extract_writes_what_cp_would(stub_efi: Path, tmp_path: Path) -> None:
    with umask(0o022):
        assert main(["extract", str(stub_efi), ".text", "-o", str(tmp_path / "text")]) == 0
    assert mode(tmp_path / "text") == 0o644


def test_keys_stay_private_and_certificates_readable(tmp_path: Path) -> None:
    from workbench.keys import cert_path, init_keys, key_path

    with umask(0o022):
        init_keys(tmp_path / "keys")
    assert mode(key_path(tmp_path / "keys", "db")) == 0o600
    assert mode(cert_path(tmp_path / "keys", "db")) == 0o644
