"""Shared fixtures: the built stub, the sample kernel and initrd, and fresh boot trees."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI") == "true"

# A command line every sample boot uses: serial console, and a panic reboots at once.
BASE_CMDLINE = "console=ttyS0 panic=-1"


def require(condition: bool, what: str) -> None:
    """Under CI a missing prerequisite fails the test; on a workstation it skips it."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"missing in CI: {what}")
    pytest.skip(f"missing: {what}")


def require_tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    require(path is not None, f"tool {name!r} (run 'make setup')")
    return str(path)


def require_file(path: Path) -> Path:
    require(path.is_file(), f"{path} (run 'make setup')")
    return path


@pytest.fixture(scope="session")
def stub_efi() -> Path:
    return require_file(REPO / "stub" / "build" / "stub.efi")


@pytest.fixture(scope="session")
def test_app() -> Callable[[str], Path]:
    """A stand-in EFI program from stub/tests/efi (built by `make -C stub test-apps`)."""

    def find(name: str) -> Path:
        return require_file(REPO / "stub" / "build" / "test" / f"{name}.efi")

    return find


@pytest.fixture(scope="session")
def sample_kernel() -> Path:
    return require_file(REPO / "samples" / "build" / "vmlinuz")


@pytest.fixture(scope="session")
def sample_initrd() -> Path:
    return require_file(REPO / "samples" / "build" / "initrd.img")


@pytest.fixture
def make_tree(
    tmp_path: Path, stub_efi: Path, sample_kernel: Path, sample_initrd: Path
) -> Callable[..., Path]:
    """Build a fresh ESP / netboot tree; the test may change it freely."""
    from workbench.builder import build_tree

    counter = iter(range(1000))

    def make(
        cmdline: str = BASE_CMDLINE,
        *,
        fat: bool = False,
        policy: dict[str, str] | None = None,
        kernel: Path | None = None,
        initrd: Path | None = None,
        with_initrd: bool = True,
    ) -> Path:
        root = tmp_path / f"tree{next(counter)}"
        build_tree(
            stub=stub_efi,
            kernel=kernel or sample_kernel,
            initrd=(initrd or sample_initrd) if with_initrd else None,
            cmdline=cmdline,
            out_dir=root,
            fat=fat,
            # Tests fail fast: a short delay before the reset.
            policy={"error-delay": "1", **(policy or {})},
        )
        return root

    return make


@pytest.fixture(scope="session")
def openssl_db_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway db key pair (KEYDIR/db.key, db.pem) made by openssl, not by the workbench:
    signing must work with keys made anywhere."""
    openssl = require_tool("openssl")
    directory = tmp_path_factory.mktemp("openssl-keys")
    subprocess.run(
        [openssl, "req", "-new", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
         "-days", "2", "-subj", "/CN=Throwaway test db/", "-keyout", str(directory / "db.key"),
         "-out", str(directory / "db.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    return directory


@pytest.fixture(scope="session")
def make_keydir(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Secure Boot test keys from `workbench keys init`, one KEYDIR per name per session."""
    from workbench.keys import init_keys

    made: dict[str, Path] = {}

    def make(name: str) -> Path:
        if name not in made:
            made[name] = tmp_path_factory.mktemp(name) / "keys"
            init_keys(made[name])
        return made[name]

    return make
