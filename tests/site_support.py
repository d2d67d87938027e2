"""A simulated site network for `workbench serve --pxe`, in namespaces the test creates.

`run_network()` (the test's side) starts this file as a script in a new network namespace
(`unshare --net`, or with a user namespace when not root). Inside, `main()` builds:

    [site namespace]  dnsmasq, addresses only (SITE_RANGE), on veth-site 192.168.77.1/24
          | veth
    [this namespace]  br0 192.168.77.2/24: veth-lab, tap0..tapN (one QEMU guest each, OVMF)
                      `workbench serve ROOT --pxe --interface br0 --json ...`

or, without a site, br0 alone (an isolated network where serve is the DHCP server). It waits
until each guest's console shows the sample kernel's marker (or the time is up), stops
everything and prints one JSON object: serve's event records, its stderr, the site DHCP
server's log and each guest's console. Nothing leaves the namespaces: their interfaces and
processes end with this script's process group.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SERVER_ADDRESS = "192.168.77.2"
SITE_ADDRESS = "192.168.77.1"
NETMASK = "255.255.255.0"
SITE_RANGE = ("192.168.77.100", "192.168.77.150")
BRIDGE = "br0"
GUEST_MEMORY_MB = 512
# No IPv6 boot attempts: nothing answers them here, and each costs the guest seconds.
NO_IPV6 = ["-fw_cfg", "name=opt/org.tianocore/IPv6Support,string=n"]


@dataclass
class NetworkPlan:
    root: str
    workdir: str
    macs: list[str]
    site: bool = True  # a site DHCP server on a veth; False: br0 is an isolated network
    serve_args: list[str] = field(default_factory=list)
    timeout: float = 240.0
    http_macs: list[str] = field(default_factory=list)  # these guests try UEFI HTTP Boot only
    aa64_macs: list[str] = field(default_factory=list)  # these guests are arm64 (virt + AAVMF)
    until: str | None = None  # console text that ends a guest's run (default: the sample marker)


# -- the test's side -------------------------------------------------------------------------


def run_network(plan: NetworkPlan) -> dict[str, Any]:
    """Run the plan in a fresh namespace; its result (see the module's docstring)."""
    from workbench.lab.netns import unshare_command

    config = Path(plan.workdir) / "site-plan.json"
    config.write_text(json.dumps(asdict(plan)))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [*unshare_command(), sys.executable, str(Path(__file__).resolve()), str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, err = process.communicate(timeout=plan.timeout + 60)
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise AssertionError(f"site network gave no result (code {process.returncode}): {err}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["stderr"] = err
    return result


# -- inside the namespace --------------------------------------------------------------------


def ip(*arguments: str, netns_pid: int | None = None) -> None:
    command = [shutil.which("ip") or "/usr/sbin/ip", *arguments]
    if netns_pid is not None:
        command = [shutil.which("nsenter") or "nsenter", f"--net=/proc/{netns_pid}/ns/net",
                   *command]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)


def start_site(workdir: Path) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]:
    """The site's namespace (held by a sleeping process) with its own DHCP server."""
    holder = subprocess.Popen([shutil.which("unshare") or "unshare", "--net", "--", "sleep",
                               "100000"])  # fmt: skip
    ours = os.readlink("/proc/self/ns/net")
    deadline = time.monotonic() + 5
    while os.readlink(f"/proc/{holder.pid}/ns/net") == ours:
        if time.monotonic() > deadline:
            raise RuntimeError("the site namespace did not appear")
        time.sleep(0.02)
    pid = holder.pid
    ip("link", "add", "veth-lab", "type", "veth", "peer", "name", "veth-site", "netns", str(pid))
    ip("link", "set", "veth-lab", "master", BRIDGE, "up")
    ip("link", "set", "lo", "up", netns_pid=pid)
    ip("addr", "add", f"{SITE_ADDRESS}/24", "dev", "veth-site", netns_pid=pid)
    ip("link", "set", "veth-site", "up", netns_pid=pid)
    dnsmasq = shutil.which("dnsmasq") or shutil.which("dnsmasq", path="/usr/sbin:/sbin")
    command = [
        shutil.which("nsenter") or "nsenter", f"--net=/proc/{pid}/ns/net", str(dnsmasq),
        "--keep-in-foreground", "--conf-file=/dev/null", "--port=0", "--no-resolv",
        "--no-hosts", "--pid-file=", "--interface=veth-site", "--bind-interfaces",
        f"--dhcp-range={SITE_RANGE[0]},{SITE_RANGE[1]},{NETMASK},1h",
        f"--dhcp-leasefile={workdir / 'site.leases'}", "--log-dhcp",
        f"--log-facility={workdir / 'site-dnsmasq.log'}", "--user=root", "--group=",
    ]  # fmt: skip
    site_dhcp = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    return holder, site_dhcp


class Guest:
    """One OVMF (or, arm64, AAVMF) guest on a tap of the bridge, with its own MAC; its console
    kept."""

    def __init__(self, index: int, mac: str, workdir: Path, http: bool = False,
                 until: str | None = None, arch: str = "x86_64") -> None:  # fmt: skip
        from workbench.arch import by_name
        from workbench.lab.firmware import find_firmware
        from workbench.lab.netns_child import NO_PXE4, NO_PXE6
        from workbench.lab.qemu import MachineSpec, build_command

        self.mac = mac
        self.tap = f"tap{index}"
        ip("tuntap", "add", "dev", self.tap, "mode", "tap")
        ip("link", "set", self.tap, "master", BRIDGE, "up")
        firmware = find_firmware(arch=arch)
        vars_path = workdir / f"vars{index}.fd"
        shutil.copyfile(firmware.vars_template, vars_path)
        # A short path for QMP's socket (sun_path is 108 bytes), removed by stop().
        self.socket_dir = tempfile.mkdtemp(prefix="wbsite-", dir="/tmp")
        # HTTP Boot only: OVMF's switches that leave out PXE (as the lab's HTTP runs do).
        switches = NO_PXE4 + NO_PXE6 + NO_IPV6 if http else NO_IPV6
        spec = MachineSpec(firmware=firmware, vars_path=vars_path,
                           qmp_path=Path(self.socket_dir, "qmp.sock"), memory_mb=GUEST_MEMORY_MB,
                           tap_device=self.tap, extra_args=switches,
                           arch=by_name(arch))  # fmt: skip
        # Each guest its own MAC: QEMU gives every NIC the same one otherwise.
        self.command = [f"{arg},mac={mac}" if arg.startswith("virtio-net-pci,") else arg
                        for arg in build_command(spec)]  # fmt: skip
        self.console: list[str] = []
        self.until = until
        self.booted_after: float | None = None  # when `until` (or the marker) showed
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, started: float) -> None:
        from workbench.contract import SAMPLE_MARKER
        from workbench.lab.console import clean_serial_text

        self.process = subprocess.Popen(
            self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )

        def read() -> None:
            assert self.process is not None and self.process.stdout is not None
            for raw in self.process.stdout:
                text = clean_serial_text(raw.decode("utf-8", "replace"))
                if text:
                    self.console.append(text)
                if (self.until or SAMPLE_MARKER) in text and self.booted_after is None:
                    self.booted_after = round(time.monotonic() - started, 1)

        threading.Thread(target=read, daemon=True).start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.socket_dir, ignore_errors=True)


def main(config_path: str) -> int:
    plan = NetworkPlan(**json.loads(Path(config_path).read_text()))
    if [name for _, name in socket.if_nameindex()] != ["lo"]:
        raise SystemExit("refusing: not inside a fresh network namespace")
    workdir = Path(plan.workdir)
    ip("link", "set", "lo", "up")
    ip("link", "add", BRIDGE, "type", "bridge", "forward_delay", "0", "stp_state", "0")
    ip("addr", "add", f"{SERVER_ADDRESS}/24", "dev", BRIDGE)
    ip("link", "set", BRIDGE, "up")
    children: list[subprocess.Popen[bytes]] = []
    guests: list[Guest] = []
    records: list[dict[str, Any]] = []
    serve: subprocess.Popen[str] | None = None
    result: dict[str, Any] = {}
    started = time.monotonic()
    try:
        if plan.site:
            children.extend(start_site(workdir))
        guests = [Guest(index, mac, workdir, http=mac in plan.http_macs, until=plan.until,
                        arch="aarch64" if mac in plan.aa64_macs else "x86_64")
                  for index, mac in enumerate(plan.macs)]  # fmt: skip
        serve = subprocess.Popen(
            [sys.executable, "-m", "workbench.cli", "serve", plan.root, "--pxe", "--interface",
             BRIDGE, "--json", *plan.serve_args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        ready = threading.Event()

        def read_serve() -> None:
            assert serve is not None and serve.stdout is not None
            for line in serve.stdout:
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    records.append(record)
                    if "boot server on" in str(record.get("text", "")):
                        ready.set()
            ready.set()

        reader = threading.Thread(target=read_serve, daemon=True)
        reader.start()
        ready.wait(timeout=20)
        if serve.poll() is None:
            started = time.monotonic()
            for guest in guests:
                guest.start(started)
            deadline = started + plan.timeout
            while time.monotonic() < deadline and serve.poll() is None:
                if all(guest.booted_after is not None for guest in guests):
                    break
                time.sleep(0.5)
    finally:
        for guest in guests:
            guest.stop()
        serve_err = ""
        if serve is not None:
            if serve.poll() is None:
                serve.send_signal(signal.SIGTERM)
            try:
                _, serve_err = serve.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                serve.kill()
                _, serve_err = serve.communicate()
            result["serve_code"] = serve.returncode
        for child in reversed(children):
            child.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=3)
            child.kill()
            child.wait()
    site_log = workdir / "site-dnsmasq.log"
    result.update(
        serve=records,
        serve_stderr=serve_err,
        site_log=site_log.read_text() if site_log.exists() else "",
        guests={
            g.mac: {"booted_after": g.booted_after, "console": g.console[-60:]} for g in guests
        },
        seconds=round(time.monotonic() - started, 1),
    )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
