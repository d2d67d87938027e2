"""The Serve tab: the real boot server on an interface of a private namespace, a client fetching
a file and sending the stub's console line, each shown in the machine's row."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from conftest import require_tool

from workbench import contract
from workbench.serve_clients import FileRow, Machine
from workbench.tui.serve_pane import MachineRow, file_progress


def test_a_row_says_each_files_progress_and_the_last_line() -> None:
    machine = Machine("52:54:00:12:34:56", "10.0.2.15", arch=7, offer="EFI/BOOT/BOOTX64.EFI")
    kernel, initrd = "EFI/Linux/vmlinuz", "EFI/Linux/initrd.img"
    machine.files[kernel] = FileRow(kernel, "tftp", "progress", 5 << 20, 10 << 20, 1.0)
    machine.files[initrd] = FileRow(initrd, "tftp", "failed", error="timed out")
    machine.console.append("stub: loading kernel \x1b[2J")
    row = MachineRow.of(machine)
    assert row.key == "52:54:00:12:34:56"
    assert row.cells[:4] == (
        "52:54:00:12:34:56",
        "10.0.2.15",
        "x86-64 UEFI PXE",
        "EFI/BOOT/BOOTX64.EFI",
    )
    assert row.cells[4] == "vmlinuz 50% 5.0 MiB/s; initrd.img failed: timed out"
    assert "\x1b" not in row.cells[5]  # a console line cannot drive the terminal
    assert file_progress(FileRow("a/b", "http", "done", bytes=10, seconds=0.0)) == "b done"


def test_the_serve_tab_shows_a_client_of_the_real_server(
    make_tree: Callable[..., Path], tmp_path: Path
) -> None:
    from workbench.lab.netns import unshare_command

    for tool in ("unshare", "ip", "dnsmasq"):
        require_tool(tool)
    root = make_tree()
    child = Path(__file__).with_name("tui_serve_child.py")
    result = subprocess.run(
        [*unshare_command(), sys.executable, str(child), str(root / contract.BOOT_PATH),
         str(root), str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    assert shown["banner"].startswith("Serving"), shown["banner"]
    assert "site0 (10.77.0.1)" in shown["banner"]
    assert shown["active"] == "serve"
    [row] = shown["rows"]
    assert row[1] == "10.77.0.1"
    size = (root / "EFI/Linux/vmlinuz").stat().st_size
    assert row[4].startswith("vmlinuz done"), row
    assert row[5] == "stub: starting kernel"
    log = "\n".join(shown["log"])
    assert "offer: option 93 = 7" in log
    assert f"{size}/{size} bytes" in log or "done" in log
