"""`workbench serve --pxe`: the dnsmasq command line, its log read into events, the client
table, the refusals before anything starts, and real boots on a simulated site network (a site
DHCP server in one namespace, the boot server and OVMF guests on a bridge in another)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO, require_file, require_tool

from workbench.cli import main
from workbench.lab.events import Transfer
from workbench.lab.listen import port_holder
from workbench.lab.pxe import (
    ClientEvent,
    DnsmasqLog,
    Interface,
    PxeConfig,
    dnsmasq_command,
    missing_capabilities,
    nobody_mapped,
)
from workbench.serve_clients import (
    ClientTable,
    describe_dhcp,
    describe_transfer,
    transfer_record,
)

BR0 = Interface("br0", "192.168.77.2", "255.255.255.0")

# Captured from dnsmasq 2.90 (--log-dhcp --log-facility=-) as `serve --pxe --proxy-dhcp --http`
# ran on the simulated site network below: an HTTP Boot guest (:02) and a PXE guest (:01),
# started at once, which sent the same first transaction ID (the lines of option 97 left out).
PROXY_LOG = """\
dnsmasq[14781]: started, version 2.90 DNS disabled
dnsmasq-dhcp[14781]: DHCP, proxy on subnet 192.168.77.0
dnsmasq-dhcp[14781]: DHCP, sockets bound exclusively to interface br0
dnsmasq-dhcp[14781]: 276875311 available DHCP subnet: 192.168.77.0/255.255.255.0
dnsmasq-dhcp[14781]: 276875311 vendor class: HTTPClient:Arch:00016:UNDI:003000
dnsmasq-dhcp[14781]: 276875311 PXE(br0) 52:54:00:77:00:02 proxy
dnsmasq-dhcp[14781]: 276875311 tags: httpclient, arch16, br0
dnsmasq-dhcp[14781]: 276875311 bootfile name: http://192.168.77.2/EFI/BOOT/BOOTX64.EFI
dnsmasq-dhcp[14781]: 276875311 next server: 192.168.77.2
dnsmasq-dhcp[14781]: 276875311 broadcast response
dnsmasq-dhcp[14781]: 276875311 sent size:  1 option: 53 message-type  2
dnsmasq-dhcp[14781]: 276875311 sent size:  4 option: 54 server-identifier  192.168.77.2
dnsmasq-dhcp[14781]: 276875311 sent size: 10 option: 60 vendor-class  48:54:54:50:43:6c:69:65:6e:74
dnsmasq-dhcp[14781]: 276875311 available DHCP subnet: 192.168.77.0/255.255.255.0
dnsmasq-dhcp[14781]: 276875311 vendor class: PXEClient:Arch:00007:UNDI:003000
dnsmasq-dhcp[14781]: 276875311 PXE(br0) 52:54:00:77:00:01 proxy
dnsmasq-dhcp[14781]: 276875311 tags: br0
dnsmasq-dhcp[14781]: 276875311 next server: 192.168.77.2
dnsmasq-dhcp[14781]: 276875311 broadcast response
dnsmasq-dhcp[14781]: 276875311 sent size:  1 option: 53 message-type  2
dnsmasq-dhcp[14781]: 276875311 sent size:  4 option: 54 server-identifier  192.168.77.2
dnsmasq-dhcp[14781]: 276875311 sent size:  9 option: 60 vendor-class  50:58:45:43:6c:69:65:6e:74
dnsmasq-dhcp[14781]: 276875311 available DHCP subnet: 192.168.77.0/255.255.255.0
dnsmasq-dhcp[14781]: 276875311 vendor class: HTTPClient:Arch:00016:UNDI:003000
dnsmasq-dhcp[14781]: 276875311 available DHCP subnet: 192.168.77.0/255.255.255.0
dnsmasq-dhcp[14781]: 276875311 vendor class: PXEClient:Arch:00007:UNDI:003000
dnsmasq-dhcp[14781]: 276875311 PXE(br0) 52:54:00:77:00:01 proxy
dnsmasq-dhcp[14781]: 276875311 tags: br0
dnsmasq-dhcp[14781]: 276875311 next server: 192.168.77.2
dnsmasq-dhcp[14781]: 276875311 broadcast response
dnsmasq-dhcp[14781]: 276875311 sent size:  1 option: 53 message-type  2
dnsmasq-dhcp[14781]: 276875311 sent size:  4 option: 54 server-identifier  192.168.77.2
dnsmasq-dhcp[14781]: 276875311 sent size:  9 option: 60 vendor-class  50:58:45:43:6c:69:65:6e:74
dnsmasq-dhcp[14781]: 276875311 available DHCP subnet: 192.168.77.0/255.255.255.0
dnsmasq-dhcp[14781]: 276875311 vendor class: PXEClient:Arch:00007:UNDI:003000
dnsmasq-dhcp[14781]: 3944702098 available DHCP subnet: 192.168.77.0/255.255.255.0
dnsmasq-dhcp[14781]: 3944702098 vendor class: PXEClient:Arch:00007:UNDI:003000
dnsmasq-dhcp[14781]: 3944702098 PXE(br0) 52:54:00:77:00:01 proxy
dnsmasq-dhcp[14781]: 3944702098 tags: br0
dnsmasq-dhcp[14781]: 3944702098 bootfile name: EFI/BOOT/BOOTX64.EFI
dnsmasq-dhcp[14781]: 3944702098 server name: 192.168.77.2
dnsmasq-dhcp[14781]: 3944702098 next server: 192.168.77.2
dnsmasq-dhcp[14781]: 3944702098 sent size:  1 option: 53 message-type  5
dnsmasq-dhcp[14781]: 3944702098 sent size:  4 option: 54 server-identifier  192.168.77.2
dnsmasq-dhcp[14781]: 3944702098 sent size:  9 option: 60 vendor-class  50:58:45:43:6c:69:65:6e:74
dnsmasq[14781]: exiting on receipt of SIGTERM
"""

# The same dnsmasq as a full DHCP server (`--dhcp-range`), one PXE guest (some of the
# "requested options" lines left out).
RANGE_LOG = """\
dnsmasq[15560]: started, version 2.90 DNS disabled
dnsmasq-dhcp[15560]: DHCP, IP range 192.168.77.100 -- 192.168.77.120, lease time 1h
dnsmasq-dhcp[15560]: DHCP, sockets bound exclusively to interface br0
dnsmasq-dhcp[15560]: 126109538 available DHCP range: 192.168.77.100 -- 192.168.77.120
dnsmasq-dhcp[15560]: 126109538 vendor class: PXEClient:Arch:00007:UNDI:003000
dnsmasq-dhcp[15560]: 126109538 DHCPDISCOVER(br0) 52:54:00:77:00:03
dnsmasq-dhcp[15560]: 126109538 tags: arch7, br0
dnsmasq-dhcp[15560]: 126109538 DHCPOFFER(br0) 192.168.77.111 52:54:00:77:00:03
dnsmasq-dhcp[15560]: 126109538 requested options: 1:netmask, 2:time-offset, 3:router, 4, 5,
dnsmasq-dhcp[15560]: 126109538 requested options: 6:dns-server, 12:hostname, 13:boot-file-size,
dnsmasq-dhcp[15560]: 126109538 bootfile name: EFI/BOOT/BOOTX64.EFI
dnsmasq-dhcp[15560]: 126109538 next server: 192.168.77.2
dnsmasq-dhcp[15560]: 126109538 broadcast response
dnsmasq-dhcp[15560]: 126109538 sent size:  1 option: 53 message-type  2
dnsmasq-dhcp[15560]: 126109538 sent size:  4 option: 54 server-identifier  192.168.77.2
dnsmasq-dhcp[15560]: 126109538 sent size:  4 option: 51 lease-time  1h
dnsmasq-dhcp[15560]: 126109538 sent size:  4 option: 58 T1  30m
dnsmasq-dhcp[15560]: 126109538 sent size:  4 option: 59 T2  52m30s
dnsmasq-dhcp[15560]: 126109538 sent size:  4 option:  1 netmask  255.255.255.0
dnsmasq-dhcp[15560]: 126109538 sent size:  4 option: 28 broadcast  192.168.77.255
dnsmasq-dhcp[15560]: 126109538 sent size:  4 option:  3 router  192.168.77.2
dnsmasq-dhcp[15560]: 126109538 available DHCP range: 192.168.77.100 -- 192.168.77.120
dnsmasq-dhcp[15560]: 126109538 vendor class: PXEClient:Arch:00007:UNDI:003000
dnsmasq-dhcp[15560]: 126109538 DHCPREQUEST(br0) 192.168.77.111 52:54:00:77:00:03
dnsmasq-dhcp[15560]: 126109538 tags: arch7, br0
dnsmasq-dhcp[15560]: 126109538 DHCPACK(br0) 192.168.77.111 52:54:00:77:00:03
dnsmasq-dhcp[15560]: 126109538 requested options: 1:netmask, 2:time-offset, 3:router, 4, 5,
dnsmasq-dhcp[15560]: 126109538 requested options: 6:dns-server, 12:hostname, 13:boot-file-size,
dnsmasq-dhcp[15560]: 126109538 bootfile name: EFI/BOOT/BOOTX64.EFI
dnsmasq-dhcp[15560]: 126109538 next server: 192.168.77.2
dnsmasq-dhcp[15560]: 126109538 broadcast response
dnsmasq-dhcp[15560]: 126109538 sent size:  1 option: 53 message-type  5
dnsmasq-dhcp[15560]: 126109538 sent size:  4 option: 54 server-identifier  192.168.77.2
dnsmasq-dhcp[15560]: 126109538 sent size:  4 option: 51 lease-time  1h
dnsmasq-dhcp[15560]: 126109538 sent size:  4 option: 58 T1  30m
dnsmasq-dhcp[15560]: 126109538 sent size:  4 option: 59 T2  52m30s
dnsmasq-dhcp[15560]: 126109538 sent size:  4 option:  1 netmask  255.255.255.0
dnsmasq-dhcp[15560]: 126109538 sent size:  4 option: 28 broadcast  192.168.77.255
dnsmasq-dhcp[15560]: 126109538 sent size:  4 option:  3 router  192.168.77.2
dnsmasq[15560]: exiting on receipt of SIGTERM
"""


def parse(text: str) -> list[ClientEvent]:
    log = DnsmasqLog()
    events = [event for line in text.splitlines() for event in log.feed(line)]
    return events + log.flush()


# -- the dnsmasq command line ----------------------------------------------------------------


def test_proxy_command_answers_boot_clients_only_on_one_interface() -> None:
    command = dnsmasq_command(PxeConfig(BR0, http=True), "dnsmasq")
    assert "--dhcp-range=192.168.77.0,proxy,255.255.255.0" in command
    for option in ("--port=0", "--interface=br0", "--bind-interfaces", "--log-dhcp",
                   "--log-facility=-", "--keep-in-foreground"):  # fmt: skip
        assert option in command
    # PXE by option 93 (7 and 9 are x86-64 UEFI), straight to the file, from our TFTP server.
    assert "--pxe-service=7,Stub Workbench,EFI/BOOT/BOOTX64.EFI,192.168.77.2" in command
    assert "--pxe-service=9,Stub Workbench,EFI/BOOT/BOOTX64.EFI,192.168.77.2" in command
    # HTTP Boot: option 60 HTTPClient and arch 16 get the URL.
    assert "--dhcp-pxe-vendor=PXEClient,HTTPClient" in command
    assert "--dhcp-vendorclass=set:httpclient,HTTPClient" in command
    assert "--dhcp-match=set:arch16,option:client-arch,16" in command
    assert ("--dhcp-boot=tag:httpclient,tag:arch16,http://192.168.77.2/EFI/BOOT/BOOTX64.EFI"
            in command)  # fmt: skip
    assert not [arg for arg in command if "tftp" in arg]  # dnsmasq's own TFTP stays off
    assert not [arg for arg in command if "leasefile" in arg]


def test_range_command_is_a_full_dhcp_server_with_boot_files_by_architecture() -> None:
    config = PxeConfig(BR0, machines=("x64", "aa64"), http=True,
                       dhcp_range=("192.168.77.100", "192.168.77.120"),
                       lease_file=Path("/tmp/x/leases"))  # fmt: skip
    command = dnsmasq_command(config, "dnsmasq")
    assert "--dhcp-range=192.168.77.100,192.168.77.120,255.255.255.0,1h" in command
    assert not [arg for arg in command if "proxy" in arg or "pxe-service" in arg]
    assert "--dhcp-boot=tag:arch7,tag:!httpclient,EFI/BOOT/BOOTX64.EFI,,192.168.77.2" in command
    assert "--dhcp-boot=tag:arch11,tag:!httpclient,EFI/BOOT/BOOTAA64.EFI,,192.168.77.2" in command
    assert ("--dhcp-boot=tag:httpclient,tag:arch19,http://192.168.77.2/EFI/BOOT/BOOTAA64.EFI"
            in command)  # fmt: skip
    assert "--dhcp-option-force=tag:httpclient,60,HTTPClient" in command
    assert "--dhcp-no-override" in command
    assert "--dhcp-option=option:router" in command  # we route nothing
    assert "--dhcp-leasefile=/tmp/x/leases" in command


def test_without_http_no_url_is_offered() -> None:
    command = dnsmasq_command(PxeConfig(BR0), "dnsmasq")
    assert not [arg for arg in command if "HTTPClient" in arg or "http://" in arg]


@pytest.mark.parametrize("dhcp_range", [None, ("192.168.77.100", "192.168.77.120")])
def test_dnsmasq_accepts_the_command(dhcp_range: tuple[str, str] | None) -> None:
    dnsmasq = require_tool("dnsmasq")
    config = PxeConfig(BR0, machines=("x64", "aa64"), http=True, dhcp_range=dhcp_range)
    result = subprocess.run([*dnsmasq_command(config, dnsmasq), "--test"], capture_output=True,
                            text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "syntax check OK" in result.stderr


def test_nobody_is_used_only_where_it_exists() -> None:
    assert nobody_mapped("         0          0 4294967295\n")
    assert not nobody_mapped("         0       1000          1\n")


# -- dnsmasq's log as events -----------------------------------------------------------------


def test_proxy_log_gives_one_event_per_packet_even_with_one_transaction_id() -> None:
    events = parse(PROXY_LOG)
    summary = [(e.kind, e.mac, e.arch, e.file) for e in events]
    url = "http://192.168.77.2/EFI/BOOT/BOOTX64.EFI"
    assert summary == [
        ("proxy-offer", "52:54:00:77:00:02", 16, url),
        ("proxy-offer", "52:54:00:77:00:01", 7, None),
        ("proxy-offer", "52:54:00:77:00:01", 7, None),
        ("proxy-ack", "52:54:00:77:00:01", 7, "EFI/BOOT/BOOTX64.EFI"),
    ]
    assert events[0].vendor == "HTTPClient:Arch:00016:UNDI:003000"
    assert events[1].vendor == "PXEClient:Arch:00007:UNDI:003000"
    assert all(e.server == "192.168.77.2" and e.address is None for e in events)


def test_range_log_gives_the_address_and_the_file() -> None:
    events = parse(RANGE_LOG)
    assert [(e.kind, e.address) for e in events] == [
        ("DHCPDISCOVER", None),
        ("DHCPOFFER", "192.168.77.111"),
        ("DHCPREQUEST", "192.168.77.111"),
        ("DHCPACK", "192.168.77.111"),
    ]
    ack = events[-1]
    assert (ack.mac, ack.arch, ack.file, ack.server) == (
        "52:54:00:77:00:03", 7, "EFI/BOOT/BOOTX64.EFI", "192.168.77.2")  # fmt: skip
    assert events[2].file is None  # a request carries no boot file of ours


def test_log_lines_with_a_time_and_start_up_notes() -> None:
    log = DnsmasqLog()
    line = "Dec  3 19:51:24 dnsmasq-dhcp[14755]: 276875311 DHCPACK(veth-site) 192.168.77.100 "
    assert log.feed(line + "52:54:00:77:00:01 host1") == []
    [ack] = log.flush()
    assert (ack.kind, ack.address, ack.mac, ack.detail) == (
        "DHCPACK", "192.168.77.100", "52:54:00:77:00:01", "host1")  # fmt: skip
    # dnsmasq's own words when another server holds the port (it ends then).
    log.feed("dnsmasq: failed to bind DHCP server socket: Address already in use")
    assert log.notes == ["failed to bind DHCP server socket: Address already in use"]


def test_an_event_line_names_the_machine_and_the_offer() -> None:
    offer, _, _, ack = parse(PROXY_LOG)
    assert describe_dhcp(offer) == (
        "52:54:00:77:00:02 - dhcp proxy-offer arch=16 (x86-64 UEFI HTTP) offer "
        "http://192.168.77.2/EFI/BOOT/BOOTX64.EFI from 192.168.77.2 "
        "vendor HTTPClient:Arch:00016:UNDI:003000")  # fmt: skip
    assert describe_dhcp(ack) == (
        "52:54:00:77:00:01 - dhcp proxy-ack arch=7 (x86-64 UEFI PXE) offer "
        "EFI/BOOT/BOOTX64.EFI from 192.168.77.2")  # fmt: skip
    assert ack.to_dict()["arch_name"] == "x86-64 UEFI PXE"


# -- the client table ------------------------------------------------------------------------


def test_table_ties_transfers_and_console_lines_to_the_machine_by_its_address() -> None:
    arp = {"192.168.77.100": "52:54:00:77:00:01"}
    table = ClientTable(resolve_mac=arp.get)
    for event in parse(PROXY_LOG):
        table.dhcp(event)
    started = Transfer("EFI/BOOT/BOOTX64.EFI", "192.168.77.100", "started", 0, 204800)
    done = Transfer("EFI/BOOT/BOOTX64.EFI", "192.168.77.100", "done", 204800, 204800,
                    seconds=0.5, retransmits=2)  # fmt: skip
    table.transfer(started)
    machine = table.transfer(done)
    assert machine.mac == "52:54:00:77:00:01" and machine.arch == 7
    assert machine.offer == "EFI/BOOT/BOOTX64.EFI"
    row = machine.files["EFI/BOOT/BOOTX64.EFI"]
    assert (row.state, row.bytes, row.retransmits, row.attempts, row.rate) == (
        "done", 204800, 2, 1, 409600.0)  # fmt: skip
    assert table.console_line("192.168.77.100", "stub: hello").console == ["stub: hello"]
    assert describe_transfer(done, machine) == (
        "52:54:00:77:00:01 192.168.77.100 tftp done EFI/BOOT/BOOTX64.EFI 204800/204800 bytes "
        "in 0.50s, 409.6 kB/s, 2 resent")  # fmt: skip
    record = transfer_record(done, machine)
    assert (record["type"], record["mac"], record["rate"]) == ("transfer", machine.mac, 409600)
    assert [m.mac for m in table.rows()] == ["52:54:00:77:00:02", "52:54:00:77:00:01"]


def test_an_address_seen_first_joins_its_machine_when_dhcp_names_it() -> None:
    table = ClientTable(resolve_mac=lambda _: None)
    table.console_line("192.168.77.111", "early line")
    table.transfer(Transfer("a", "192.168.77.111", "failed", error="timeout"))
    for event in parse(RANGE_LOG):
        table.dhcp(event)
    [machine] = table.rows()
    assert machine.mac == "52:54:00:77:00:03" and machine.address == "192.168.77.111"
    assert machine.console == ["early line"] and machine.errors == 1 and "a" in machine.files


# -- refusals before anything starts ---------------------------------------------------------


def boot_tree(tmp_path: Path, *names: str) -> Path:
    root = tmp_path / "tree"
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"MZ")
    root.mkdir(exist_ok=True)
    return root


def refusal(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["serve", *argv]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0, error  # one line
    return error


def test_pxe_needs_an_interface(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = boot_tree(tmp_path, "EFI/BOOT/BOOTX64.EFI")
    assert "--pxe needs --interface IF" in refusal(capsys, str(root), "--pxe")
    assert "add --pxe" in refusal(capsys, str(root), "--interface", "lo")


def test_a_missing_interface(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = boot_tree(tmp_path, "EFI/BOOT/BOOTX64.EFI")
    error = refusal(capsys, str(root), "--pxe", "--interface", "wbnosuch0")
    assert "--interface wbnosuch0: no such network interface" in error


def test_a_tree_without_the_boot_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = boot_tree(tmp_path, "EFI/Linux/vmlinuz")
    error = refusal(capsys, str(root), "--pxe", "--interface", "lo")
    assert "no boot file for an offered architecture: EFI/BOOT/BOOTX64.EFI (x86-64 UEFI)" in error
    root = boot_tree(tmp_path, "EFI/BOOT/BOOTX64.EFI")
    error = refusal(capsys, str(root), "--pxe", "--interface", "lo", "--arch", "x64",
                    "--arch", "aa64")  # fmt: skip
    assert "EFI/BOOT/BOOTAA64.EFI (arm64 UEFI)" in error and "BOOTX64" not in error


@pytest.mark.parametrize(
    ("value", "expected"),
    [("127.0.0.9", "expected FIRST,LAST"), ("127.0.0.9,127.0.0.2", "FIRST <= LAST"),
     ("10.0.0.1,10.0.0.9", "outside the interface's network"),
     ("127.0.0.1,127.0.0.9", "holds the interface's own address")],
)  # fmt: skip
def test_a_bad_dhcp_range(tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str,
                          expected: str) -> None:  # fmt: skip
    root = boot_tree(tmp_path, "EFI/BOOT/BOOTX64.EFI")
    assert expected in refusal(capsys, str(root), "--pxe", "--interface", "lo",
                               "--dhcp-range", value)  # fmt: skip


def test_capabilities_a_non_root_server_needs() -> None:
    assert missing_capabilities("CapEff:\t0000000000003400\n") == []  # bits 10, 12, 13
    assert missing_capabilities("CapEff:\t0000000000000400\n") == ["CAP_NET_ADMIN", "CAP_NET_RAW"]


def test_port_holder_names_the_process() -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        holder = port_holder("udp", port, "127.0.0.1")
        assert holder is not None and f"(pid {__import__('os').getpid()})" in holder
        assert port_holder("udp", port, "127.0.0.2") is None  # another address is free


IN_NAMESPACE = textwrap.dedent("""
    import socket, subprocess, sys
    from workbench.cli import main
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    root, case = sys.argv[1], sys.argv[2]
    if case == "no-address":
        subprocess.run(["ip", "link", "add", "wbdummy0", "type", "bridge"], check=True)
        sys.exit(main(["serve", root, "--pxe", "--interface", "wbdummy0"]))
    held = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    held.bind(("0.0.0.0", 67) if case == "dhcp" else ("127.0.0.1", 69))
    sys.exit(main(["serve", root, "--pxe", "--interface", "lo"]))
""")


@pytest.mark.parametrize(
    ("case", "expected"),
    [("no-address", "--interface wbdummy0: has no IPv4 address"),
     ("dhcp", "DHCP UDP port 67 is in use by python"),
     ("tftp", "TFTP UDP 127.0.0.1:69 is in use by python")],
)  # fmt: skip
def test_refusals_inside_a_namespace(tmp_path: Path, case: str, expected: str) -> None:
    """A fresh network namespace: an interface without an address, busy ports named."""
    from workbench.lab.netns import unshare_command

    require_tool("unshare")
    require_tool("ip")
    root = boot_tree(tmp_path, "EFI/BOOT/BOOTX64.EFI")
    result = subprocess.run(
        [*unshare_command(), sys.executable, "-c", IN_NAMESPACE, str(root), case],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "(pid " in result.stderr or case == "no-address"


# -- real boots on a simulated site network --------------------------------------------------

PXE_GUEST = "52:54:00:77:00:01"
HTTP_GUEST = "52:54:00:77:00:02"
ISOLATED_GUEST = "52:54:00:77:00:03"


def served(result: dict, kind: str) -> list[dict]:
    return [record for record in result["serve"] if record["type"] == kind]


def console_lines(result: dict, mac: str, address: str) -> list[str]:
    lines = [r for r in served(result, "syslog") if r["mac"] == mac]
    assert {r["address"] for r in lines} <= {address}
    return [r["text"] for r in lines]


def finished_files(result: dict, mac: str) -> dict[str, dict]:
    return {r["filename"]: r for r in served(result, "transfer")
            if r["mac"] == mac and r["state"] == "done"}  # fmt: skip


@pytest.mark.boot
def test_proxy_dhcp_beside_a_site_dhcp_server(make_tree, tmp_path: Path) -> None:
    """Two guests at once on a network whose own DHCP server hands out addresses only: the
    PXE one and the HTTP Boot one each take their address from the site and their boot file
    from us, boot the sample kernel through the stub, and their console lines come over
    syslog, each under its machine."""
    from lab_support import require_net_lab
    from site_support import NetworkPlan, run_network

    from workbench.contract import BOOT_PATH

    require_net_lab()
    require_tool("nsenter")
    root = make_tree()
    plan = NetworkPlan(str(root), str(tmp_path), [PXE_GUEST, HTTP_GUEST], site=True,
                       serve_args=["--proxy-dhcp", "--http"], http_macs=[HTTP_GUEST])  # fmt: skip
    result = run_network(plan)
    context = f"{result['serve_stderr']}\n{result['stderr']}"
    for mac, guest in result["guests"].items():
        assert guest["booted_after"] is not None, f"{mac}: {guest['console'][-15:]}\n{context}"
    # The site gave the addresses...
    site_acks = {e.mac: e.address for e in parse(result["site_log"]) if e.kind == "DHCPACK"}
    assert set(site_acks) == {PXE_GUEST, HTTP_GUEST}
    # ...we gave none, only the boot file or URL for the client's architecture.
    dhcp = served(result, "dhcp")
    assert not [e for e in dhcp if e["kind"].startswith("DHCP")]
    offers = {(e["mac"], e["arch"], e["file"]) for e in dhcp if e["file"]}
    assert (PXE_GUEST, 7, BOOT_PATH) in offers
    assert (HTTP_GUEST, 16, f"http://192.168.77.2/{BOOT_PATH}") in offers
    # Each fetched the stub and the kernel from us, at the address the site gave it.
    for mac, protocol in ((PXE_GUEST, "tftp"), (HTTP_GUEST, "http")):
        files = finished_files(result, mac)
        assert {BOOT_PATH, "EFI/Linux/vmlinuz"} <= set(files), (mac, files.keys())
        assert {r["address"] for r in files.values()} == {site_acks[mac]}
        assert files[BOOT_PATH]["protocol"] == protocol
        # The stub's console lines came over syslog, each under its own machine.
        assert "stub: starting kernel" in console_lines(result, mac, site_acks[mac])
    assert result["serve_code"] == 0


AA64_GUEST = "52:54:00:77:00:0a"


@pytest.mark.boot
def test_one_tree_serves_an_x86_64_and_an_arm64_machine_each_its_own_stub(tmp_path: Path) -> None:
    """ProxyDHCP beside the site's server with both architectures offered: the x86_64 PXE
    client (option 93 = 7) gets BOOTX64.EFI, the arm64 one (11) BOOTAA64.EFI; each boots its
    own kernel through its own stub, and each stub's lines come over syslog under its machine."""
    from lab_support import require_net_lab
    from site_support import NetworkPlan, run_network

    from workbench.arch import AARCH64, X86_64

    require_net_lab()
    require_tool("nsenter")
    require_tool(AARCH64.qemu_system)
    root = require_file(REPO / "samples" / "build" / "both" / AARCH64.boot_path).parents[2]
    plan = NetworkPlan(str(root), str(tmp_path), [PXE_GUEST, AA64_GUEST], site=True,
                       serve_args=["--proxy-dhcp", "--arch", "x64", "--arch", "aa64"],
                       aa64_macs=[AA64_GUEST])  # fmt: skip
    result = run_network(plan)
    context = f"{result['serve_stderr']}\n{result['stderr']}"
    for mac, guest in result["guests"].items():
        assert guest["booted_after"] is not None, f"{mac}: {guest['console'][-15:]}\n{context}"
    site_acks = {e.mac: e.address for e in parse(result["site_log"]) if e.kind == "DHCPACK"}
    offers = {(e["mac"], e["arch"], e["file"]) for e in served(result, "dhcp") if e["file"]}
    assert (PXE_GUEST, X86_64.pxe_client_arch, X86_64.boot_path) in offers
    assert (AA64_GUEST, AARCH64.pxe_client_arch, AARCH64.boot_path) in offers
    own = {PXE_GUEST: (X86_64.boot_path, "EFI/Linux/vmlinuz"),
           AA64_GUEST: (AARCH64.boot_path, "EFI/Linux/vmlinuz-arm64")}  # fmt: skip
    for mac, wanted in own.items():
        files = finished_files(result, mac)
        assert set(wanted) <= set(files), (mac, files.keys())
        other = own[AA64_GUEST if mac == PXE_GUEST else PXE_GUEST]
        assert not set(other) & set(files), (mac, files.keys())
        assert "stub: starting kernel" in console_lines(result, mac, site_acks[mac])
    assert result["serve_code"] == 0


@pytest.mark.boot
def test_dhcp_range_on_an_isolated_network(make_tree, tmp_path: Path) -> None:
    """No site server: serve is the DHCP server, hands out an address of its range and the boot
    file, and the guest boots through it."""
    from lab_support import require_net_lab
    from site_support import NetworkPlan, run_network

    from workbench.contract import BOOT_PATH

    require_net_lab()
    root = make_tree()
    plan = NetworkPlan(str(root), str(tmp_path), [ISOLATED_GUEST], site=False,
                       serve_args=["--dhcp-range", "192.168.77.100,192.168.77.120"])  # fmt: skip
    result = run_network(plan)
    guest = result["guests"][ISOLATED_GUEST]
    assert guest["booted_after"] is not None, f"{guest['console'][-15:]}\n{result['stderr']}"
    [ack] = [e for e in served(result, "dhcp") if e["kind"] == "DHCPACK"]
    assert ack["mac"] == ISOLATED_GUEST and ack["arch"] == 7 and ack["file"] == BOOT_PATH
    assert ack["address"].startswith("192.168.77.1")
    files = finished_files(result, ISOLATED_GUEST)
    assert {BOOT_PATH, "EFI/Linux/vmlinuz", "EFI/Linux/initrd.img"} <= set(files)
    assert {r["address"] for r in files.values()} == {ack["address"]}
    assert "stub: starting kernel" in console_lines(result, ISOLATED_GUEST, ack["address"])


@pytest.mark.boot
@pytest.mark.timeout(300)
def test_a_tampered_guest_says_why_in_serves_output(make_tree, tmp_path: Path) -> None:
    """No serial console needed: the stub's error line reaches serve over syslog, under the
    guest's MAC, and the kernel never starts."""
    from lab_support import require_net_lab
    from site_support import NetworkPlan, run_network

    require_net_lab()
    root = make_tree()
    initrd = root / "EFI/Linux/initrd.img"
    data = bytearray(initrd.read_bytes())
    data[100] ^= 0xFF
    initrd.write_bytes(bytes(data))
    plan = NetworkPlan(str(root), str(tmp_path), [ISOLATED_GUEST], site=False,
                       serve_args=["--dhcp-range", "192.168.77.100,192.168.77.120"],
                       until="stub: resetting", timeout=150)  # fmt: skip
    result = run_network(plan)
    guest = result["guests"][ISOLATED_GUEST]
    assert guest["booted_after"] is not None, f"{guest['console'][-15:]}\n{result['stderr']}"
    assert not any("WORKBENCH-SAMPLE-OK" in line for line in guest["console"])
    errors = [r for r in served(result, "syslog") if r["severity"] == 3]
    assert errors, served(result, "syslog")[-5:]
    assert errors[0]["mac"] == ISOLATED_GUEST
    assert "sha256 mismatch" in errors[0]["text"] and "initrd" in errors[0]["text"]
    serial = [line for line in guest["console"] if "stub: error:" in line]
    assert serial and serial[0].strip().endswith(errors[0]["text"].split("stub: ", 1)[-1])


def test_syslog_from_unknown_sources_stops_growing_the_table() -> None:
    from workbench.serve_clients import MOST_MACHINES, ClientTable

    table = ClientTable(resolve_mac=lambda _address: None)
    for index in range(MOST_MACHINES + 50):
        table.console_line(f"fd00::{index:x}", "stub: hello")
    assert len(table.rows()) == MOST_MACHINES
    # A machine already known still gets its lines.
    assert table.console_line("fd00::1", "stub: again") is not None
    assert table.console_line("fd00::ffff", "stub: spoofed") is None
