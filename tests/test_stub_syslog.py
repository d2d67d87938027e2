"""A netbooted stub's console lines over syslog (stub/FORMAT.md, "Console lines over syslog"):
the stub's own formatter (stub/src/syslog_msg.c, built for the host) read back by our receiver
and by rsyslogd; then the lab's receiver on the boot server's address gets every `stub: ` line
the serial console shows, over IPv4 (TFTP, the server from DHCP option 7) and IPv6 (PXE, the
boot server), errors included, and `.policy log=off` sends none. Three boots in all."""

from __future__ import annotations

import ctypes
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import REPO, require_tool
from lab_support import assert_stub_refused, boot_in_lab, marker_line, require_net_lab

from workbench.contract import SAMPLE_MARKER
from workbench.errors import WorkbenchError
from workbench.lab.events import Event, RemoteLine, StubStep, event_from_dict
from workbench.lab.faults import FaultPlan
from workbench.lab.syslog_rx import SyslogLine, parse_message
from workbench.stubinfo import validate_policy

INITRD = "EFI/Linux/initrd.img"
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


@pytest.fixture
def lab() -> None:
    require_net_lab()


def remote_stub_lines(events: list[Event]) -> list[RemoteLine]:
    return [e for e in events if isinstance(e, RemoteLine) and e.app == "stub"]


def serial_stub_lines(events: list[Event]) -> list[str]:
    """The stub's lines as the serial console showed them, up to the kernel's start."""
    lines = [e.raw for e in events if isinstance(e, StubStep)]
    if "stub: starting kernel" in lines:
        return lines[: lines.index("stub: starting kernel") + 1]
    return lines


def test_log_is_a_policy_key_the_workbench_knows() -> None:
    assert validate_policy({"log": "off"}) == {"log": "off"}
    assert validate_policy({"log": "on"}) == {"log": "on"}
    with pytest.raises(WorkbenchError, match=r"bad policy value log='no': on .* or off"):
        validate_policy({"log": "no"})


def test_remote_line_event_round_trip() -> None:
    event = RemoteLine("10.0.2.15", "stub: x", hostname="52:54:00:12:34:56", app="stub")
    assert event_from_dict(event.to_dict()) == event


# -- the stub's formatter (stub/src/syslog_msg.c) against our receiver and rsyslog ------------

FORMATTER_SOURCES = ("syslog_msg", "textbuf", "url", "paths", "dhcp", "utf8")
LINES = [
    b"stub: transfer kernel via=own-tftp bytes=14190528 blksize=16384 window=8 ms=298",
    b"stub: source=net server=10.0.2.2",
    b"stub: loading kernel path=\\EFI\\Linux\\vmlinuz from=tftp://10.0.2.2/EFI/Linux/vmlinuz",
    b"stub: warning: tftp: timeout; asking again with blksize 1468",
    b"stub: error: initrd x: sha256 mismatch (expected a, got b) status=EFI_SECURITY_VIOLATION",
    b"stub: a\r\nforged\x1b[2J \xc3\xa9",
    b"stub: " + b"x" * 3000,
]
# What the receiver makes of each: (MSGID, severity, text).
EXPECTED = [
    ("transfer", 6, LINES[0].decode()),
    ("source", 6, LINES[1].decode()),
    ("loading", 6, LINES[2].decode()),
    ("warning", 4, LINES[3].decode()),
    ("error", 3, LINES[4].decode()),
    ("-", 6, "stub: a\\x0d\\x0aforged\\x1b[2J \\xc3\\xa9"),
]


@pytest.fixture(scope="module")
def stub_formatter(tmp_path_factory: pytest.TempPathFactory) -> Callable[[bytes, int], bytes]:
    """syslog_format() of the stub's own C, built for the host as a shared library."""
    gcc = require_tool("gcc")
    library = tmp_path_factory.mktemp("formatter") / "libsyslog_msg.so"
    sources = [str(REPO / "stub" / "src" / f"{name}.c") for name in FORMATTER_SOURCES]
    include = f"-I{REPO / 'stub' / 'src'}"
    subprocess.run([gcc, "-shared", "-fPIC", "-O1", include, *sources, "-o", str(library)],
                   check=True)  # fmt: skip
    formatter = ctypes.CDLL(str(library))
    formatter.syslog_format.restype = ctypes.c_size_t
    size, text = ctypes.c_size_t, ctypes.c_char_p
    formatter.syslog_format.argtypes = [text, size, text, ctypes.c_uint32, text, size]

    def format_line(line: bytes, sequence: int) -> bytes:
        out = ctypes.create_string_buffer(2048)
        n = formatter.syslog_format(out, 2048, b"52:54:00:12:34:56", sequence, line, len(line))
        return out.raw[:n]

    return format_line


def test_stub_messages_parse_as_the_stub_means_them(
    stub_formatter: Callable[[bytes, int], bytes],
) -> None:
    for sequence, (line, (msgid, severity, text)) in enumerate(
        zip(LINES[:-1], EXPECTED, strict=True), 1
    ):
        datagram = stub_formatter(line, sequence)
        assert datagram.startswith(b"<%d>1 - " % (8 + severity))
        assert f'[meta sequenceId="{sequence}"] '.encode() in datagram
        parsed = parse_message(datagram, "10.0.2.15")
        assert parsed == SyslogLine("10.0.2.15", "52:54:00:12:34:56", "stub", severity, text,
                                    facility=1, msgid="" if msgid == "-" else msgid)  # fmt: skip
    long = stub_formatter(LINES[-1], 9)
    assert len(long) == 2048 and long.endswith(b"x...")
    assert parse_message(long, "10.0.2.15").text.endswith("x...")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def rsyslog(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """Debian's rsyslogd on loopback, writing each message's RFC 5424 fields to a file (rsyslog
    is in scripts/system-deps.sh: under CI a missing one fails, as any tool does)."""
    rsyslogd = require_tool("rsyslogd")
    port, out = free_udp_port(), tmp_path / "messages"
    fields = "%hostname%|%app-name%|%procid%|%msgid%|%structured-data%|%syslogfacility%|"
    config = tmp_path / "rsyslog.conf"
    config.write_text(
        f'global(workDirectory="{tmp_path}")\n'
        'module(load="imudp")\n'
        f'input(type="imudp" address="127.0.0.1" port="{port}")\n'
        f'template(name="fields" type="string" string="{fields}%syslogseverity%|%msg%\\n")\n'
        f'*.* action(type="omfile" file="{out}" template="fields")\n'
    )
    process = subprocess.Popen([rsyslogd, "-n", "-f", str(config), "-i", str(tmp_path / "pid")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        # Ready once a probe comes out the other end.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            end = time.monotonic() + 10
            while not (out.exists() and "probe" in out.read_text()):
                assert time.monotonic() < end and process.poll() is None, "rsyslogd did not start"
                sender.sendto(b"<14>1 - h probe - - - probe", ("127.0.0.1", port))
                time.sleep(0.1)
        yield port, out
    finally:
        process.terminate()
        process.wait(timeout=10)


def rsyslog_rows(out: Path) -> list[str]:
    """What rsyslogd wrote for our messages, its readiness probes left out."""
    return [row for row in out.read_text().splitlines() if "|probe|" not in row]


def test_rsyslog_reads_the_stub_messages_as_we_do(
    stub_formatter: Callable[[bytes, int], bytes], rsyslog: tuple[int, Path]
) -> None:
    port, out = rsyslog
    datagrams = [stub_formatter(line, n) for n, line in enumerate(LINES[:-1], 1)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for datagram in datagrams:
            sender.sendto(datagram, ("127.0.0.1", port))
    end = time.monotonic() + 10
    while len(rsyslog_rows(out)) < len(datagrams):
        assert time.monotonic() < end, out.read_text()
        time.sleep(0.1)
    got = rsyslog_rows(out)
    for n, (datagram, row) in enumerate(zip(datagrams, got, strict=True), 1):
        ours = parse_message(datagram, "127.0.0.1")
        host, app, procid, msgid, data, facility, severity, text = row.split("|", 7)
        assert (host, app, procid) == (ours.hostname, ours.app, "-")
        assert msgid == (ours.msgid or "-")
        assert data == f'[meta sequenceId="{n}"]'
        assert (int(facility), int(severity), text) == (ours.facility, ours.severity, ours.text)


@pytest.mark.boot
@pytest.mark.net
@pytest.mark.timeout(240)
def test_tftp_boot_sends_every_serial_stub_line(lab: None, make_tree: Callable[..., Path]) -> None:
    outcome, recorder = boot_in_lab(make_tree())
    assert outcome.ok, outcome.reason
    assert marker_line(recorder).startswith(SAMPLE_MARKER)
    remote = remote_stub_lines(recorder.events)
    assert [line.text for line in remote] == serial_stub_lines(recorder.events)
    assert remote[-1].text == "stub: starting kernel"
    # The lab's dnsmasq names its own address as the log server (option 7).
    syslog = recorder.steps("syslog")
    assert syslog and syslog[0].fields == {"server": "10.0.2.2", "from": "dhcp-option-7"}
    assert {line.source for line in remote} == {t.client for t in recorder.transfers("done")}
    assert all(MAC.match(line.hostname) for line in remote)
    assert {line.severity for line in remote} == {6}


@pytest.mark.boot
@pytest.mark.net
@pytest.mark.timeout(300)
def test_tampered_initrd_error_arrives_over_ipv6(lab: None, make_tree: Callable[..., Path]) -> None:
    faults = FaultPlan(corrupt={INITRD: 5000})
    outcome, recorder = boot_in_lab(make_tree(), "net", ipv6=True, faults=faults)
    error = assert_stub_refused(outcome, recorder, "initrd", "initrd.img")
    remote = remote_stub_lines(recorder.events)
    assert [line.text for line in remote] == serial_stub_lines(recorder.events)
    assert recorder.steps("syslog")[0].fields == {"server": "fd00::2", "from": "boot-server"}
    errors = [line for line in remote if line.severity == 3]
    assert [line.text for line in errors] == [error.raw]
    assert "sha256 mismatch" in errors[0].text
    assert remote[-1].text == "stub: resetting in=1s"
    assert all(":" in line.source for line in remote)


@pytest.mark.boot
@pytest.mark.net
@pytest.mark.timeout(240)
def test_log_off_sends_nothing(lab: None, make_tree: Callable[..., Path]) -> None:
    outcome, recorder = boot_in_lab(make_tree(policy={"log": "off"}), "http")
    assert outcome.ok, outcome.reason
    assert recorder.steps("syslog") == []
    assert [e for e in recorder.events if isinstance(e, RemoteLine)] == []
