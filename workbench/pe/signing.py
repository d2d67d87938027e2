"""Authenticode signing and verification with sbsigntool (sbsign / sbverify).

A key directory holds `db.key` (PEM private key) and `db.pem` (PEM certificate).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from workbench.atomic_write import atomic_write
from workbench.errors import MissingTool, WorkbenchError
from workbench.pe.edit import rewrite_sections
from workbench.pe.image import PeImage

KEY_NAME = "db.key"
CERT_NAME = "db.pem"
TOOL_TIMEOUT = 120


def key_files(keydir: Path) -> tuple[Path, Path]:
    """The (key, certificate) pair of a key directory, or a clear error."""
    keydir = Path(keydir)
    if not keydir.is_dir():
        raise WorkbenchError(f"no key directory {keydir}")
    key, cert = keydir / KEY_NAME, keydir / CERT_NAME
    for needed in (key, cert):
        if not needed.is_file():
            raise WorkbenchError(f"key directory {keydir} has no {needed.name}")
    return key, cert


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise MissingTool(f"{name} not found (install sbsigntool)")
    return path


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=TOOL_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise WorkbenchError(f"{Path(argv[0]).name} failed: {error}") from None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def sign(path: Path, keydir: Path, out: Path | None = None) -> Path:
    """Sign `path` with the db key, replacing any signature; write `out` (default: in place)."""
    path = Path(path)
    target = Path(out) if out is not None else path
    key, cert = key_files(keydir)
    sbsign = _tool("sbsign")
    if not path.is_file():
        raise WorkbenchError(f"no such file: {path}")
    with atomic_write(target, like=path) as temporary:
        unsigned = temporary.with_name(temporary.name + ".unsigned")
        try:
            source = path
            if _is_signed(path):
                # sbsign would add a second signature; the new one replaces the old instead.
                source = rewrite_sections(path, {}, unsigned, signed="drop")
            result = _run([sbsign, "--key", str(key), "--cert", str(cert),
                           "--output", str(temporary), str(source)])  # fmt: skip
            if result.returncode != 0:
                raise WorkbenchError(f"sbsign failed on {path}: {_last_line(result.stderr)}")
        finally:
            unsigned.unlink(missing_ok=True)
    return target


def _is_signed(path: Path) -> bool:
    with PeImage.open(path) as image:
        return image.is_signed


def verify(path: Path, keydir: Path) -> bool:
    """True when sbverify accepts the signature against the db certificate."""
    _, cert = key_files(keydir)
    sbverify = _tool("sbverify")
    if not Path(path).is_file():
        raise WorkbenchError(f"no such file: {path}")
    result = _run([sbverify, "--cert", str(cert), str(path)])
    return result.returncode == 0
