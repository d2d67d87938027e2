"""The UDP syslog receiver: RFC 5424 and RFC 3164 parsing, hostile datagrams, over loopback."""

from __future__ import annotations

import random
import resource
import socket
import threading
import time

import pytest
from conftest import require

from workbench.errors import WorkbenchError
from workbench.lab.syslog_rx import (
    MAX_DATAGRAM,
    BadMessage,
    SyslogLine,
    SyslogReceiver,
    parse_message,
)

STUB_5424 = (
    b"<14>1 - 52:54:00:12:34:56 stub - line - "
    b"stub: transfer kernel \\EFI\\Linux\\vmlinuz via=tftp bytes=5 ms=3"
)


def test_rfc5424_stub_line() -> None:
    line = parse_message(STUB_5424, "10.0.2.15")
    assert line == SyslogLine(
        source="10.0.2.15",
        hostname="52:54:00:12:34:56",
        app="stub",
        severity=6,
        text="stub: transfer kernel \\EFI\\Linux\\vmlinuz via=tftp bytes=5 ms=3",
        facility=1,
        msgid="line",
    )


def test_rfc5424_full_header_bom_and_structured_data() -> None:
    data = (
        b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
        b'[exampleSDID@32473 iut="3" eventSource="App\\"li]cation"][x@1 a="b"] '
        + b"\xef\xbb\xbfAn application event\n"
    )
    line = parse_message(data, "fd00::15")
    assert (line.hostname, line.app, line.msgid) == ("mymachine.example.com", "evntslog", "ID47")
    assert (line.facility, line.severity) == (20, 5)
    assert line.text == "An application event"


def test_rfc5424_nil_values_and_no_msg() -> None:
    line = parse_message(b"<3>1 - - - - - -", "10.0.2.15")
    assert (line.hostname, line.app, line.msgid, line.text) == ("10.0.2.15", "", "", "")
    assert line.severity == 3


def test_rfc3164_forms() -> None:
    line = parse_message(b"<34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed", "1.2.3.4")
    assert (line.hostname, line.app, line.severity, line.facility) == ("mymachine", "su", 2, 4)
    assert line.text == "'su root' failed"
    # No timestamp, no hostname (what many small devices send).
    line = parse_message(b"<13>kernel: link up", "1.2.3.4")
    assert (line.hostname, line.app, line.text) == ("1.2.3.4", "kernel", "link up")
    # No tag at all: the whole rest is the text.
    line = parse_message(b"<13>just some words", "1.2.3.4")
    assert (line.app, line.text) == ("", "just some words")
    # A single-digit day is space padded.
    line = parse_message(b"<13>Feb  5 01:02:03 host app: x", "1.2.3.4")
    assert (line.hostname, line.app, line.text) == ("host", "app", "x")


def test_non_printable_text_is_escaped_backslashes_kept() -> None:
    line = parse_message(b"<14>1 - h stub - - - a\nstub: forged\x1b[2J \\x \xff", "1.2.3.4")
    assert line.text == "a\\x0astub: forged\\x1b[2J \\x \\xff"
    assert "\n" not in line.text and "\x1b" not in line.text


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty datagram"),
        (b"hello", "no <PRI>"),
        (b"<>1 - - - - - -", "no <PRI>"),
        (b"<012>1 - - - - - -", "bad <PRI>"),
        (b"<192>1 - - - - - -", "PRI out of range"),
        (b"<1x>1 - - - - - -", "bad <PRI>"),
        (b"<14>1 - host", "message ends in the HOSTNAME"),
        (b"<14>1 - h\x01st app - - - x", "bad HOSTNAME"),
        (b"<14>1 - " + b"h" * 256 + b" app - - - x", "bad HOSTNAME"),
        (b"<14>1 - h " + b"a" * 49 + b" - - - x", "bad APP-NAME"),
        (b"<14>1 - h a - " + b"m" * 33 + b" - x", "bad MSGID"),
        (b"<14>1 - h a - m x", "bad STRUCTURED-DATA"),
        (b'<14>1 - h a - m [id a="]', "STRUCTURED-DATA not closed"),
        (b"<14>1 - h a - m -x", "no space before MSG"),
        (b"<14>" + b"x" * MAX_DATAGRAM, "datagram too long"),
    ],
)
def test_bad_messages(data: bytes, reason: str) -> None:
    with pytest.raises(BadMessage, match=f"^{reason}$"):
        parse_message(data, "1.2.3.4")


def test_random_input_never_raises_anything_else() -> None:
    rng = random.Random(5424)
    seeds = [STUB_5424, b"<34>Oct 11 22:14:15 m su[1]: x", b'<1>1 - h a - m [a b="\\"]"] z']
    for _ in range(20000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(data) + 1)
            choice = rng.randrange(3)
            if choice == 0 and data:
                del data[min(at, len(data) - 1)]
            elif choice == 1:
                data.insert(at, rng.randrange(256))
            else:
                data[at:at] = rng.choice([b" ", b"[", b"]", b'"', b"\\", b"-", b"<", b">"])
        try:
            line = parse_message(bytes(data), "1.2.3.4")
        except BadMessage:
            continue
        assert len(line.hostname) <= 255 and len(line.app) <= 48 and len(line.msgid) <= 32
        assert line.text.isprintable() and 0 <= line.severity <= 7


def receive(bind: str) -> tuple[SyslogReceiver, list[SyslogLine], threading.Event]:
    lines: list[SyslogLine] = []
    arrived = threading.Event()

    def on_line(line: SyslogLine) -> None:
        lines.append(line)
        arrived.set()

    return SyslogReceiver(bind, 0, on_line), lines, arrived


def wait_until(condition: object, seconds: float = 3.0) -> None:
    assert callable(condition)
    end = time.monotonic() + seconds
    while not condition() and time.monotonic() < end:
        time.sleep(0.01)
    assert condition()


def test_receiver_on_loopback_counts_and_drops() -> None:
    receiver, lines, _ = receive("127.0.0.1")
    with receiver:
        assert receiver.port > 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            target = ("127.0.0.1", receiver.port)
            sender.sendto(b"garbage", target)
            sender.sendto(b"<14>" + b"x" * (MAX_DATAGRAM + 100), target)
            sender.sendto(b"", target)
            for number in range(50):
                sender.sendto(b"<14>1 - h stub - line - stub: n=%d" % number, target)
        wait_until(lambda: receiver.received == 50 and receiver.dropped == 3)
    assert [line.text for line in lines] == [f"stub: n={n}" for n in range(50)]
    assert {line.source for line in lines} == {"127.0.0.1"}
    assert receiver.last_drop == "empty datagram"


def test_receiver_ipv6_loopback() -> None:
    require(socket.has_ipv6, "IPv6 in this Python")
    receiver, lines, arrived = receive("::1")
    try:
        receiver.start()
    except WorkbenchError as error:
        require(False, f"IPv6 loopback ({error})")
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sender:
            sender.sendto(b"<11>1 - fd00::15 stub - line - stub: error: x", ("::1", receiver.port))
            assert arrived.wait(3)
    finally:
        receiver.stop()
    assert (lines[0].source, lines[0].hostname, lines[0].severity) == ("::1", "fd00::15", 3)


def test_handler_failure_keeps_listening() -> None:
    seen: list[str] = []

    def flaky(line: SyslogLine) -> None:
        seen.append(line.text)
        if line.text == "boom":
            raise RuntimeError("handler bug")

    with (
        SyslogReceiver("127.0.0.1", 0, flaky) as receiver,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender,
    ):
        sender.sendto(b"<14>1 - h a - - - boom", ("127.0.0.1", receiver.port))
        sender.sendto(b"<14>1 - h a - - - after", ("127.0.0.1", receiver.port))
        wait_until(lambda: seen == ["boom", "after"])


def test_busy_port_is_one_line_error_and_stop_frees_it() -> None:
    with SyslogReceiver("127.0.0.1", 0, lambda line: None) as first:
        busy = SyslogReceiver("127.0.0.1", first.port, lambda line: None)
        with pytest.raises(WorkbenchError, match=r"cannot serve syslog on 127\.0\.0\.1:.*in use"):
            busy.start()
        port = first.port
    again = SyslogReceiver("127.0.0.1", port, lambda line: None).start()
    again.stop()
    again.stop()  # twice is harmless


def test_receiver_on_a_descriptor_above_1023() -> None:
    """A server with many sockets open: the receiver's own may be numbered past select()'s."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    require(hard == resource.RLIM_INFINITY or hard >= 1200, "a descriptor limit of 1200 or more")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held: list[socket.socket] = []
    try:
        while not held or held[-1].fileno() < 1030:
            held.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        receiver, lines, arrived = receive("127.0.0.1")
        with receiver, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(b"<14>1 - h stub - line - stub: far", ("127.0.0.1", receiver.port))
            assert arrived.wait(3)
        assert lines[0].text == "stub: far"
    finally:
        for sock in held:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
