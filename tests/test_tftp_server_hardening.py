"""The TFTP server against hostile or broken clients: malformed requests, too many sessions,
long timeouts, FIFOs and devices, names that would forge log lines. All on loopback, with a
raw UDP client so every byte of a request is ours to choose."""

from __future__ import annotations

import os
import socket
import stat
import time
from pathlib import Path

import pytest
from conftest import require

from workbench.commands.serve import describe
from workbench.lab.events import Transfer
from workbench.lab.tftp import TftpServer
from workbench.lab.tftp_request import Malformed, parse_request
from workbench.lab.tftp_session import Limits, negotiate
from workbench.textsafe import printable

DATA_OPCODE, ERROR_OPCODE, OACK_OPCODE = 3, 5, 6


# -- the request parser, pure -----------------------------------------------------------------


def test_a_plain_request_is_read_with_its_options_in_lower_case() -> None:
    request = parse_request(
        b"\x00\x01EFI/Linux/vmlinuz\x00OCTET\x00BlkSize\x001468\x00tsize\x000\x00"
    )
    assert (request.write, request.filename, request.mode) == (False, "EFI/Linux/vmlinuz", "octet")
    assert request.options == {"blksize": "1468", "tsize": "0"}


def test_padding_nuls_after_the_last_field_are_ignored() -> None:
    assert parse_request(b"\x00\x01f\x00octet\x00\x00\x00\x00").options == {}
    assert parse_request(b"\x00\x01f\x00octet\x00tsize\x000\x00\x00\x00").options == {"tsize": "0"}


def test_a_utf8_name_is_read_as_text() -> None:
    assert parse_request("\x00\x01EFI/é\x00octet\x00".encode()).filename == "EFI/é"


@pytest.mark.parametrize(
    ("packet", "code", "reason"),
    [
        (b"", 4, "too short"),
        (b"\x00", 4, "too short"),
        (b"\x00\x01f\x00", 4, "no transfer mode"),
        (b"\x00\x01f", 4, "not NUL-terminated"),
        (b"\x00\x01f\x00octet", 4, "not NUL-terminated"),
        (b"\x00\x01\x00octet\x00", 4, "empty file name"),
        (b"\x00\x01f\x00binary\x00", 4, "unknown transfer mode"),
        (b"\x00\x01\xff\xfe\x00octet\x00", 4, "not UTF-8"),
        (b"\x00\x01f\x00octet\x00blksize\x00", 8, "without a value"),
        (b"\x00\x01f\x00octet\x00blksize\x00\x00", 8, "without a value"),
        (b"\x00\x01f\x00octet\x00blksize\x00" + b"9" * 5000 + b"\x00", 8, "at most 10 digits"),
        (b"\x00\x01f\x00octet\x00timeout\x00x\x00", 8, "not a number"),
        (b"\x00\x01f\x00octet\x00tsize\x000\x00TSIZE\x000\x00", 8, "twice"),
        (b"\x00\x01f\x00octet\x00\xe9\x001\x00", 8, "non-ASCII option name"),
        (b"\x00\x03\x00\x01data", 4, "opcode 3 is not a request"),
        (b"\x00\x09f\x00octet\x00", 4, "opcode 9 is not a request"),
    ],
)
def test_malformed_requests_name_their_error(packet: bytes, code: int, reason: str) -> None:
    with pytest.raises(Malformed) as caught:
        parse_request(packet)
    assert caught.value.code == code
    assert reason in caught.value.reason


def test_an_error_sent_to_the_listener_is_not_answered() -> None:
    with pytest.raises(Malformed) as caught:
        parse_request(b"\x00\x05\x00\x00oops\x00")
    assert caught.value.code is None


def test_an_unknown_option_is_ignored_whatever_its_value() -> None:
    assert (
        parse_request(b"\x00\x01f\x00octet\x00x-long\x00" + b"9" * 5000 + b"\x00").filename == "f"
    )


def test_the_client_timeout_is_taken_as_asked_up_to_the_cap_or_left_out() -> None:
    limits = Limits()
    assert negotiate({"timeout": "3"}, 10, limits).oack == {"timeout": "3"}
    assert negotiate({"timeout": "5"}, 10, limits).timeout == 5.0
    agreed = negotiate({"timeout": "255", "tsize": "0"}, 10, limits)
    assert "timeout" not in agreed.oack and agreed.timeout == limits.timeout


# -- the escaping of printed names, pure --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ("EFI/Linux/vmlinuz", "EFI/Linux/vmlinuz"),
        ("a\nforged", "a\\x0aforged"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("back\\slash", "back\\\\slash"),
        ("é", "é"),
        ("\u202eevil", "\\xe2\\x80\\xaeevil"),
        ("\x9b", "\\xc2\\x9b"),
        ("\udcff", "\\xff"),
    ],
)
def test_printable_escapes_what_a_terminal_would_obey(text: str, printed: str) -> None:
    assert printable(text) == printed


# -- the server on loopback ---------------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    tree = tmp_path / "root"
    tree.mkdir()
    (tree / "small").write_bytes(b"hello\n")
    (tree / "big").write_bytes(os.urandom(1 << 20))
    os.mkfifo(tree / "fifo")
    os.mkfifo(tmp_path / "outside-fifo")
    (tree / "to-fifo").symlink_to("fifo")
    (tree / "to-outside-fifo").symlink_to(tmp_path / "outside-fifo")
    (tree / "to-dev-zero").symlink_to("/dev/zero")
    return tree


def client() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(3)
    return sock


def rrq(name: bytes, *options: bytes, mode: bytes = b"octet") -> bytes:
    return b"\x00\x01" + name + b"\x00" + mode + b"\x00" + b"".join(o + b"\x00" for o in options)


def ask(port: int, packet: bytes, sock: socket.socket | None = None) -> tuple[bytes, tuple]:
    """The first answer to `packet` sent to the listener (a timeout fails the test)."""
    own = sock is None
    sock = sock or client()
    try:
        sock.sendto(packet, ("127.0.0.1", port))
        return sock.recvfrom(70000)
    finally:
        if own:
            sock.close()


def opcode(packet: bytes) -> int:
    return int.from_bytes(packet[:2], "big")


def error_of(packet: bytes) -> tuple[int, str]:
    assert opcode(packet) == ERROR_OPCODE, packet[:40]
    return int.from_bytes(packet[2:4], "big"), packet[4:].rstrip(b"\0").decode()


def serve(root: Path, **kwargs: object) -> tuple[TftpServer, list[Transfer]]:
    events: list[Transfer] = []
    return TftpServer(root, on_event=events.append, **kwargs), events  # type: ignore[arg-type]


def wait_for(events: list[Transfer], predicate: object, deadline: float = 5.0) -> Transfer:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        for event in list(events):
            if predicate(event):  # type: ignore[operator]
                return event
        time.sleep(0.02)
    raise AssertionError(f"no such event in {events}")


@pytest.mark.parametrize(
    ("packet", "code"),
    [
        (b"\x00\x01small\x00", 4),  # no mode
        (b"\x00\x01small\x00octet", 4),  # not NUL-terminated
        (b"\x00\x01\xffsmall\x00octet\x00", 4),  # not UTF-8
        (rrq(b"small", b"blksize"), 8),  # an option without its value
        (rrq(b"small", b"blksize", b"9" * 5000), 8),  # int() of that would raise
        (b"\x00\x09small\x00octet\x00", 4),  # unknown opcode
        (b"\x00\x04\x00\x01", 4),  # an ACK to the listener
    ],
)
def test_malformed_requests_are_answered_and_the_server_goes_on(
    root: Path, packet: bytes, code: int
) -> None:
    server, events = serve(root)
    with server:
        answer, _ = ask(server.port, packet)
        assert error_of(answer)[0] == code
        assert wait_for(events, lambda e: e.state == "refused").error
        answer, _ = ask(server.port, rrq(b"small"))
        assert opcode(answer) == DATA_OPCODE and answer[4:] == b"hello\n"


def test_padded_requests_are_served(root: Path) -> None:
    server, _ = serve(root)
    with server:
        answer, _ = ask(server.port, rrq(b"small") + b"\x00" * 20)
    assert opcode(answer) == DATA_OPCODE and answer[4:] == b"hello\n"


def test_an_error_to_the_listener_gets_no_answer(root: Path) -> None:
    server, events = serve(root)
    with server, client() as sock:
        sock.settimeout(0.5)
        sock.sendto(b"\x00\x05\x00\x00x\x00", ("127.0.0.1", server.port))
        with pytest.raises(TimeoutError):
            sock.recvfrom(100)
    assert events == []


def test_a_long_client_timeout_is_left_out_of_the_oack(root: Path) -> None:
    server, _ = serve(root)
    with server:
        answer, _ = ask(server.port, rrq(b"small", b"timeout", b"255", b"tsize", b"0"))
        assert opcode(answer) == OACK_OPCODE
        assert b"timeout" not in answer and b"tsize\x006\x00" in answer
        answer, _ = ask(server.port, rrq(b"small", b"timeout", b"4"))
        assert answer == b"\x00\x06timeout\x004\x00"


def test_sessions_beyond_the_cap_are_answered_busy_then_served_once_one_ends(root: Path) -> None:
    server, events = serve(root, max_sessions=2)
    with server, client() as first, client() as second:
        holders = []
        for sock in (first, second):  # each gets DATA 1 and never acknowledges it
            answer, session = ask(server.port, rrq(b"big"), sock)
            assert opcode(answer) == DATA_OPCODE
            holders.append(session)
        answer, _ = ask(server.port, rrq(b"small"))
        code, message = error_of(answer)
        assert code == 0 and "server busy" in message
        busy = wait_for(events, lambda e: e.state == "refused")
        assert busy.filename == "small" and "2 sessions in flight" in (busy.error or "")
        first.sendto(b"\x00\x05\x00\x00cancelled\x00", holders[0])  # one session ends
        wait_for(events, lambda e: e.filename == "big" and e.state == "failed")
        for _ in range(20):  # the slot is free once its last event is out
            answer, _ = ask(server.port, rrq(b"small"))
            if opcode(answer) == DATA_OPCODE:
                break
            time.sleep(0.05)
        assert opcode(answer) == DATA_OPCODE


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("fifo", "a FIFO"),
        ("to-fifo", "a FIFO"),
        ("to-outside-fifo", "leaves the served directory"),
        ("to-dev-zero", "leaves the served directory"),
    ],
)
def test_fifos_and_devices_are_refused_at_once(root: Path, name: str, kind: str) -> None:
    server, events = serve(root)
    with server:
        answer, _ = ask(server.port, rrq(name.encode()))
        assert error_of(answer)[0] == 2  # access violation
        refused = wait_for(events, lambda e: e.filename == name)
    assert refused.state == "refused" and kind in (refused.error or "")


def test_a_device_node_inside_the_root_is_never_opened(root: Path) -> None:
    require(os.geteuid() == 0, "root, to make a device node")
    os.mknod(root / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    server, events = serve(root)
    with server:
        answer, _ = ask(server.port, rrq(b"null"))
        assert error_of(answer)[0] == 2
        refused = wait_for(events, lambda e: e.filename == "null")
    assert "a character device" in (refused.error or "")


def test_stop_does_not_wait_on_fifo_requests(root: Path) -> None:
    server, _ = serve(root)
    server.start()
    with client() as sock:
        for _ in range(4):
            sock.sendto(rrq(b"fifo"), ("127.0.0.1", server.port))
        time.sleep(0.3)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.5


def test_names_are_escaped_in_the_log(root: Path) -> None:
    lines: list[str] = []
    server = TftpServer(root, on_event=lambda event: lines.append(describe(event)))
    with server:
        for name in (b"x\nforged 127.0.0.1 done", b"\x1b[2J\x1b]0;title\x07"):
            answer, _ = ask(server.port, rrq(name))
            assert error_of(answer)[0] == 2  # control characters: refused
        end = time.monotonic() + 3
        while len(lines) < 2 and time.monotonic() < end:
            time.sleep(0.02)
    assert len(lines) == 2
    assert all("\n" not in line and "\x1b" not in line and "\x07" not in line for line in lines)
    assert "x\\x0aforged 127.0.0.1 done" in lines[0]
    assert "\\x1b[2J\\x1b]0;title\\x07" in lines[1]


def test_a_stranger_gets_error_5_for_an_ack_and_no_answer_to_an_error(root: Path) -> None:
    # Answering ERRORs would let one forged datagram set two sockets answering each other.
    server, events = serve(root)
    with server, client() as sock, client() as stranger:
        answer, session = ask(server.port, rrq(b"big"), sock)
        assert opcode(answer) == DATA_OPCODE
        stranger.sendto(b"\x00\x04\x00\x01", session)
        assert error_of(stranger.recvfrom(100)[0])[0] == 5
        stranger.settimeout(0.5)
        stranger.sendto(b"\x00\x05\x00\x05Unknown transfer ID\x00", session)
        with pytest.raises(TimeoutError):
            stranger.recvfrom(100)
        sock.sendto(b"\x00\x04\x00\x01", session)  # the transfer itself goes on
        answer, _ = sock.recvfrom(600)
        assert answer[:4] == b"\x00\x03\x00\x02"
    ended = [event for event in events if event.state == "failed"]
    assert [event.error for event in ended] == ["the server stopped"]


@pytest.mark.parametrize("options", [(), (b"windowsize", b"4")])
def test_a_file_that_grows_mid_transfer_still_ends_with_its_short_block(
    root: Path, options: tuple[bytes, ...]
) -> None:
    (root / "growing").write_bytes(b"a" * 1000)  # blocks of 512 and 488
    server, _ = serve(root)
    with server, client() as sock:
        answer, session = ask(server.port, rrq(b"growing", *options), sock)
        if options:
            assert opcode(answer) == OACK_OPCODE
            with open(root / "growing", "ab") as grown:
                grown.write(b"b" * 1000)
            sock.sendto(b"\x00\x04\x00\x00", session)
            sizes = [len(sock.recvfrom(600)[0]) - 4 for _ in range(2)]
        else:
            with open(root / "growing", "ab") as grown:
                grown.write(b"b" * 1000)
            sock.sendto(b"\x00\x04\x00\x01", session)
            sizes = [512, len(sock.recvfrom(600)[0]) - 4]
    assert sizes == [512, 488]


def test_an_event_handler_that_fails_does_not_stop_the_server(root: Path) -> None:
    def broken(event: Transfer) -> None:
        raise BrokenPipeError("the reader of the events is gone")

    with TftpServer(root, on_event=broken) as server:
        answer, _ = ask(server.port, rrq(b"../outside"))
        assert error_of(answer)[0] == 2
        answer, _ = ask(server.port, rrq(b"small"))
        assert opcode(answer) == DATA_OPCODE and answer[4:] == b"hello\n"


def test_no_descriptor_outlives_its_session_or_the_server(root: Path) -> None:
    def descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    before = descriptors()
    server, events = serve(root, max_sessions=8)
    with server:
        for _ in range(40):  # done, refused, and ended by the client
            with client() as sock:
                answer, session = ask(server.port, rrq(b"small"), sock)
                assert answer[4:] == b"hello\n"
                sock.sendto(b"\x00\x04\x00\x01", session)
                assert error_of(ask(server.port, rrq(b"fifo"), sock)[0])[0] == 2
                answer, session = ask(server.port, rrq(b"big", b"blksize", b"1400"), sock)
                assert opcode(answer) == OACK_OPCODE
                sock.sendto(b"\x00\x05\x00\x00bye\x00", session)
                wait_for(events, lambda e: server.sessions == 0)
        assert len([event for event in events if event.state == "done"]) == 40
        for _ in range(8):  # left in flight for stop() to end
            with client() as sock:
                assert opcode(ask(server.port, rrq(b"big"), sock)[0]) == DATA_OPCODE
    assert descriptors() == before
