"""GDB/MI through workbench.gdb_mi: records parsed, and a real GDB on a host program."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import require_tool

from workbench.gdb_mi import GdbError, MiSession, Stopped, frame_from, quote, stopped_from

PROGRAM = """
int twice(int x) {
    int doubled = x * 2;
    return doubled;
}

int main(void) {
    int total = 0;
    total += twice(20);
    total += 2;
    return total;
}
"""


def test_a_stop_record_becomes_a_stop_with_its_frame() -> None:
    payload = {
        "reason": "breakpoint-hit",
        "bkptno": "2",
        "frame": {"addr": "0x1000", "func": "local_read", "file": "src/local.c",
                  "fullname": "/x/src/local.c", "line": "84"},
    }  # fmt: skip
    stop = stopped_from(payload)
    assert stop.reason == "breakpoint-hit" and stop.breakpoint == 2
    assert stop.frame is not None and stop.frame.where == "local_read at src/local.c:84"
    # Firmware code has no symbols: an address, no line.
    bare = frame_from({"addr": "0x2f06d2dd", "func": "??"})
    assert (bare.line, bare.where) == (None, "?? at 0x2f06d2dd")
    assert stopped_from({"reason": "signal-received"}).frame is None


def test_console_commands_are_quoted_for_mi() -> None:
    assert quote('add-symbol-file "a b" -o 0x10') == '"add-symbol-file \\"a b\\" -o 0x10"'
    assert quote("c:\\x") == '"c:\\\\x"'
    assert quote("bt\n-gdb-exit") == '"bt\\n-gdb-exit"'  # one command, not two


@pytest.fixture
def program(tmp_path: Path) -> Path:
    require_tool("gcc")
    require_tool("gdb")
    source = tmp_path / "prog.c"
    source.write_text(PROGRAM)
    binary = tmp_path / "prog"
    subprocess.run(["gcc", "-g", "-O0", "-o", binary, source], check=True)
    return binary


def test_a_real_gdb_breaks_steps_finishes_and_reports_errors(program: Path) -> None:
    stops: list[Stopped] = []
    stopped = threading.Event()

    def on_note(note: object) -> None:
        if isinstance(note, Stopped):
            stops.append(note)
            stopped.set()

    session = MiSession("gdb", on_note)
    try:
        session.request(f"-file-exec-and-symbols {program}")
        assert session.break_at("twice") == 1
        with pytest.raises(GdbError, match="no_such_function"):
            session.break_at("no_such_function")
        session.request("-exec-run")
        assert stopped.wait(30)
        stop = session.last_stop
        assert stop is not None and stop.reason == "breakpoint-hit"
        assert stop.frame is not None and stop.frame.function == "twice"
        assert [frame.function for frame in session.backtrace()] == ["twice", "main"]
        names = {variable.name: variable.value for variable in session.locals()}
        assert "doubled" in names and names["x"] == "20"
        line = stop.frame.line
        stop = session.resume_until_stopped("next", 30)
        assert stop.reason == "end-stepping-range" and stop.frame is not None
        assert stop.frame.function == "twice" and stop.frame.line == (line or 0) + 1
        stop = session.resume_until_stopped("finish", 30)
        assert stop.reason == "function-finished"
        assert stop.frame is not None and stop.frame.function == "main"
        stop = session.resume_until_stopped("continue", 30)
        assert stop.reason == "exited" and stop.frame is None
    finally:
        session.close()
    assert session.closed
    with pytest.raises(GdbError, match="ended"):
        session.request("-gdb-version")


def test_the_prompt_runs_each_line_in_the_session_and_lets_go_at_the_end(
    program: Path,
) -> None:
    from workbench.gdb_mi import GdbText
    from workbench.gdb_prompt import PROMPT, prompt_loop

    printed: list[str] = []
    session = MiSession("gdb", lambda note: isinstance(note, GdbText) and printed.append(note.text))
    typed = iter(["break twice", "run", "", "bt", "print no_such_thing", "info locals"])
    asked: list[str] = []

    def read_line(prompt: str) -> str:
        asked.append(prompt)
        return next(typed)  # then StopIteration... ends as EOF below

    def reader(prompt: str) -> str:
        try:
            return read_line(prompt)
        except StopIteration:
            raise EOFError from None

    said: list[str] = []
    try:
        session.request(f"-file-exec-and-symbols {program}")
        prompt_loop(session, threading.Event(), reader, said.append)
        # `run` ran to the breakpoint before the next prompt; bt showed the frames; the bad
        # expression was GDB's error, said and survived; EOF let the program go on.
        output = "\n".join(printed)
        assert "Breakpoint 1, twice (x=20)" in output
        assert any(line.startswith("#1  ") and " main () at " in line for line in printed)
        assert any("no_such_thing" in line for line in said)
        assert "doubled = " in output
        assert asked == [PROMPT] * 7
        assert said[-1].startswith("the boot goes on")
        deadline = time.monotonic() + 10
        while not (session.last_stop and session.last_stop.reason.startswith("exited")):
            assert time.monotonic() < deadline, session.last_stop
            time.sleep(0.05)
    finally:
        session.close()
