"""`pip install .` (not editable) gives a `workbench` that works anywhere, stub included."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import REPO, require_file

# One worker for the module: two installs from the same tree at once race in setuptools' build
# directory there (one of them came out without the package).
pytestmark = pytest.mark.xdist_group("install")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the package installed from the tree; the dependencies come from the
    test venv (a .pth file) so the test needs no download."""
    require_file(REPO / "stub" / "build" / "stub.efi")
    require_file(REPO / "stub" / "build" / "stubaa64.efi")
    venv = tmp_path_factory.mktemp("install") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip
    Path(site, "test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", str(REPO)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return venv


def test_version_names_both_packaged_stubs(installed: Path, tmp_path: Path) -> None:
    result = subprocess.run([str(installed / "bin" / "workbench"), "--version"], cwd=tmp_path,
                            capture_output=True, text=True, check=True)  # fmt: skip
    lines = result.stdout.splitlines()
    assert lines[0].startswith("workbench ")
    assert lines[1].startswith("stub (x86_64): stub-workbench ")
    assert lines[2].startswith("stub (aarch64): stub-workbench ")
    # The stubs are the copies inside the installed package, not the checkout's.
    assert str(installed) in lines[1] and "workbench/data/stub.efi" in lines[1]
    assert str(installed) in lines[2] and "workbench/data/stubaa64.efi" in lines[2]


def test_build_works_outside_the_checkout(installed: Path, tmp_path: Path,
                                          sample_kernel: Path) -> None:  # fmt: skip
    result = subprocess.run(
        [str(installed / "bin" / "workbench"), "build", "--kernel", str(sample_kernel),
         "--cmdline", "quiet", "--out-dir", str(tmp_path / "esp"), "--fat"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    inspect = subprocess.run([str(installed / "bin" / "workbench"), "inspect",
                              str(tmp_path / "esp/EFI/BOOT/BOOTX64.EFI")], cwd=tmp_path,
                             capture_output=True, text=True, check=True)  # fmt: skip
    assert "workbench-fat" in inspect.stdout
