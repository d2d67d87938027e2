"""`workbench open` in a real terminal: tmux runs it, keys go in, the screen comes out."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import BASE_CMDLINE, REPO, require_tool

from workbench import contract

WORKBENCH = REPO / ".venv" / "bin" / "workbench"


class Tmux:
    """A private tmux server (its own socket), so nothing touches the user's sessions."""

    def __init__(self, tool: str, socket: str) -> None:
        self.tool = tool
        self.socket = socket

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.tool, "-L", self.socket, *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=10,
        )

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "wb").stdout

    def history(self) -> str:
        """The screen and what scrolled off it."""
        return self("capture-pane", "-p", "-S", "-5000", "-t", "wb").stdout

    def wait_for(self, *texts: str, timeout: float = 20) -> str:
        """The screen once every text is on it: a capture can land mid-render."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if all(text in screen for text in texts):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{texts!r} never all showed; the screen was:\n{screen}")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.timeout(90)
def test_open_in_tmux_shows_sections_and_cmdline_then_quits(
    make_tree: Callable[..., Path], tmp_path: Path
) -> None:
    tmux = Tmux(require_tool("tmux"), f"workbench-test-{os.getpid()}")
    stub = make_tree() / contract.BOOT_PATH
    # pytest's plugins export COLUMNS/LINES, which would override the real terminal size.
    command = f"env -u COLUMNS -u LINES {WORKBENCH} open {stub}"
    tmux("new-session", "-d", "-s", "wb", "-x", "100", "-y", "32", "-c", str(tmp_path), command)
    try:
        pid = int(tmux("list-panes", "-t", "wb", "-F", "#{pane_pid}").stdout.split()[0])
        tmux.wait_for("Overview", BASE_CMDLINE, "workbench-thin")
        tmux("send-keys", "-t", "wb", "2")
        tmux.wait_for(".cmdline", ".text", contract.WB_MAGIC, contract.KERNEL_HASH, contract.KERNEL)
        tmux("send-keys", "-t", "wb", "q")
        deadline = time.monotonic() + 15
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(pid), "workbench still running after q"
    finally:
        tmux("kill-server", check=False)


@pytest.mark.timeout(90)
def test_closing_the_terminal_keeps_unsaved_edits(
    make_tree: Callable[..., Path], tmp_path: Path
) -> None:
    """q asks first; closing the terminal (tmux sends the app SIGHUP) leaves the edits in a
    script beside the stub instead of dropping them."""
    tmux = Tmux(require_tool("tmux"), f"workbench-test-{os.getpid()}-hup")
    stub = make_tree() / contract.BOOT_PATH
    command = f"env -u COLUMNS -u LINES {WORKBENCH} open {stub}"
    tmux("new-session", "-d", "-s", "wb", "-x", "100", "-y", "32", "-c", str(tmp_path), command)
    try:
        pid = int(tmux("list-panes", "-t", "wb", "-F", "#{pane_pid}").stdout.split()[0])
        tmux.wait_for("Overview", BASE_CMDLINE)
        tmux("send-keys", "-t", "wb", "3")  # the Edit tab puts the focus in the first field
        tmux.wait_for("Command line")
        tmux("send-keys", "-t", "wb", "End", " quiet", "Escape")
        time.sleep(0.5)  # Escape then q at once would read as Alt+q
        tmux("send-keys", "-t", "wb", "q")
        tmux.wait_for("Quit with unsaved edits?", "Save and quit", "Stay")
        tmux("send-keys", "-t", "wb", "Escape")
        time.sleep(0.5)
        assert alive(pid)
        tmux("kill-server")  # the terminal goes away
        deadline = time.monotonic() + 15
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(pid), "workbench still running after its terminal closed"
    finally:
        tmux("kill-server", check=False)
    script = stub.with_name(stub.name + ".unsaved-edits.sh").read_text()
    assert f"--cmdline '{BASE_CMDLINE} quiet'" in script


@pytest.mark.boot
@pytest.mark.timeout(180)
def test_debug_key_hands_the_terminal_to_gdb_and_comes_back(
    make_tree: Callable[..., Path], tmp_path: Path
) -> None:
    """`D` in a real terminal: the app steps aside, `workbench debug` boots ROOT with GDB
    attached at the stub's address (its breakpoint on the failure path is set and the stub
    released), GDB takes the keys, and after `quit` the app is back with the exit code."""
    tmux = Tmux(require_tool("tmux"), f"workbench-test-{os.getpid()}")
    require_tool("gdb")
    root = make_tree()
    command = f"env -u COLUMNS -u LINES {WORKBENCH} open {root / contract.BOOT_PATH} --root {root}"
    tmux("new-session", "-d", "-s", "wb", "-x", "120", "-y", "40", "-c", str(tmp_path), command)
    try:
        tmux.wait_for("Overview", BASE_CMDLINE)
        tmux("send-keys", "-t", "wb", "D")
        # The boot runs to its end (a good tree never meets the breakpoint); GDB then waits.
        tmux.wait_for("(gdb)", "machine powered off", timeout=150)
        session = tmux.history()
        # GDB read the stub's symbols at the base the stub printed and set the failure
        # breakpoint before releasing it; the kernel came up under it.
        assert "stub: debug base=0x" in session and "add symbol table" in session, session
        assert "Breakpoint 1 at 0x" in session and "file src/console.c" in session, session
        assert "WORKBENCH-SAMPLE-OK" in session and "Breakpoint 1," not in session
        tmux("send-keys", "-t", "wb", "quit", "Enter")
        tmux.wait_for("Overview", "debug boot ended with exit code", timeout=30)
    finally:
        tmux("kill-server", check=False)
