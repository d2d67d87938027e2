"""The saved stub's PCR 11, predicted in a child process.

The prediction hashes every measured section, a fat stub's 200 MiB kernel and initrd too, and
copies each section whole while holding the interpreter lock: in the app's own process that
stalls every key pressed meanwhile. A child process has a lock of its own.

Run as `python -m workbench.tui.pcr_job STUB`: prints {"pcr11": ..., "sections": [...]} and
exits 0, or exits 1 when the stub does not measure (the overview then says nothing of PCRs).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import InternalError, WorkbenchError

NOT_MEASURED = 1
TIMEOUT = 300.0  # seconds: hashing a few hundred MiB takes one at most; this is a hang


@dataclass(frozen=True)
class Pcr11:
    value: str  # sha256 bank, hex
    sections: tuple[str, ...]  # the sections whose change moves it


def predict_pcr11(stub: Path) -> Pcr11 | None:
    """PCR 11 (sha256) of the stub on disk, or None when it is not a stub that measures."""
    command = [sys.executable, "-m", __name__, str(stub)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise InternalError(f"PCR prediction did not run: {error}") from error
    if done.returncode == NOT_MEASURED:
        return None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise InternalError(f"PCR prediction failed: {last}")
    answer = json.loads(done.stdout)
    return Pcr11(answer["pcr11"], tuple(answer["sections"]))


def main(argv: list[str]) -> int:
    from workbench.pcrs import predict, scheme_sections
    from workbench.pe.image import PeImage

    if len(argv) != 1:
        print("usage: python -m workbench.tui.pcr_job STUB", file=sys.stderr)
        return 2
    try:
        with PeImage.open(argv[0]) as image:
            value = predict(image).banks["sha256"]["11"]
            sections = scheme_sections(image)
    except WorkbenchError:
        return NOT_MEASURED
    print(json.dumps({"pcr11": value, "sections": list(sections)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
