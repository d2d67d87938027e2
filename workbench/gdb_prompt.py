"""A GDB prompt in the terminal over an MI session that already holds the machine.

A foreign image is stopped at its entry point by GDB/MI (workbench.debug_images); QEMU resumes
the machine when its gdbstub's client goes, so that session cannot hand over to a fresh GDB.
Instead each line typed here runs as a GDB command in it (`-interpreter-exec console`), with
GDB's own output; Ctrl-C while the machine runs stops it, as in GDB. End of input or `quit`
lets the boot go on to its outcome.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from workbench.gdb_mi import GdbError, MiSession

PROMPT = "(gdb) "
LEAVE = {"q", "quit", "detach"}


def prompt_loop(
    session: MiSession,
    ended: threading.Event,
    read_line: Callable[[str], str] = input,
    say: Callable[[str], None] = print,
) -> None:
    """Read commands until input ends, `quit`, or the machine has ended."""
    while not ended.is_set() and not session.closed:
        if session.running and not _wait_for_stop(session, ended):
            return
        try:
            line = read_line(PROMPT).strip()
        except EOFError:
            line = "quit"
        except KeyboardInterrupt:
            say("")
            continue
        if not line:
            continue
        if line in LEAVE:
            say("the boot goes on without the debugger's stops")
            _let_go(session)
            return
        try:
            session.console(line)
        except GdbError as error:
            say(str(error))


def _wait_for_stop(session: MiSession, ended: threading.Event) -> bool:
    """While the machine runs: False once it has ended; Ctrl-C stops it."""
    while session.running and not session.closed:
        try:
            if ended.wait(0.2):
                return False
        except KeyboardInterrupt:
            try:
                session.interrupt()
            except GdbError as error:
                print(error)
    return not session.closed


def _let_go(session: MiSession) -> None:
    try:
        session.request("-break-delete")
        if not session.running:
            session.resume("continue")
    except GdbError:
        pass
