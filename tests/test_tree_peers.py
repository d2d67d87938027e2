"""A tree made by `build`, served by the servers users already run, as their usual users.

dnsmasq's TFTP server (as root it serves only world-readable files, then it drops to nobody),
atftpd as nobody and nginx with nobody's workers, each on loopback only (dnsmasq's TFTP port is
fixed at 69: it runs in a private network namespace). What they send must have the SHA-256 the
stub carries. Run as a script, this file is the part that runs inside that namespace.
"""

from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import require_tool

from workbench import contract
from workbench.builder import build_tree
from workbench.lab.netns import unshare_command
from workbench.pe.image import PeImage

LOOPBACK = "127.0.0.1"
TFTP_PORT = 69
START_TIMEOUT = 5.0
ROOT = os.geteuid() == 0


@dataclass(frozen=True)
class Tree:
    root: Path
    digests: dict[str, bytes]  # name relative to the root -> the SHA-256 the stub carries


def embedded_digests(stub: Path) -> dict[str, bytes]:
    """The files a thin stub names, as paths under its root, with the hashes it checks."""
    pairs = ((contract.KERNEL, contract.KERNEL_HASH), (contract.INITRD, contract.INITRD_HASH))
    with PeImage.open(stub) as image:
        return {
            image.section_data(path).decode().lstrip("\\").replace("\\", "/"): bytes(
                image.section_data(digest)
            )
            for path, digest in pairs
        }


@pytest.fixture
def world_tree(stub_efi: Path, tmp_path: Path) -> Iterator[Tree]:
    """Built under the usual umask 022, in a directory nobody can traverse (pytest's tmp_path
    is private, and would stop every server running as nobody before the files' modes do)."""
    kernel, initrd = tmp_path / "vmlinuz", tmp_path / "initrd.img"
    kernel.write_bytes(os.urandom(1 << 20))
    initrd.write_bytes(os.urandom(300_000))
    kernel.chmod(0o644)
    initrd.chmod(0o644)
    top = Path(tempfile.mkdtemp(prefix="workbench-peers-"))
    try:
        top.chmod(0o755)
        previous = os.umask(0o022)
        try:
            built = build_tree(stub=stub_efi, kernel=kernel, initrd=initrd, cmdline="",
                               out_dir=top / "tree")  # fmt: skip
        finally:
            os.umask(previous)
        yield Tree(built.root, embedded_digests(built.stub_path))
    finally:
        shutil.rmtree(top)


def check_served(tree: Tree, fetched: dict[str, bytes | str], server: str, log: str) -> None:
    for name, digest in tree.digests.items():
        got = fetched[name]
        mode = (tree.root / name).stat().st_mode & 0o7777
        if isinstance(got, str):
            pytest.fail(f"{server} refused {name} (mode {mode:04o}): {got}\n{server}'s log:\n{log}")
        assert hashlib.sha256(got).digest() == digest, f"{server} sent other bytes for {name}"


# TFTP ---------------------------------------------------------------------------------------


def tftp_answers(port: int) -> bool:
    """Any reply (an ERROR for a missing file) to a read request means the server is up."""
    with socket.socket(type=socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.2)
        probe.sendto(b"\0\1workbench-probe\0octet\0", (LOOPBACK, port))
        try:
            probe.recvfrom(600)
        except OSError:
            return False
    return True


def wait_for_tftp(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not tftp_answers(port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the TFTP server did not start: {process.communicate()[0]}")


def tftp_fetch(atftp: str, names: list[str], port: int, out: Path) -> dict[str, bytes | str]:
    """Each file with atftp's client: its bytes, or the client's error line."""
    fetched: dict[str, bytes | str] = {}
    for index, name in enumerate(names):
        local = out / f"fetched-{index}"
        result = subprocess.run(
            [atftp, "--option", "blksize 1428", "--get",
             "--remote-file", name, "--local-file", str(local), LOOPBACK, str(port)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        lines = result.stderr.strip().splitlines() or [f"exit {result.returncode}"]
        error = next((line for line in lines if "error" in line), lines[-1])
        fetched[name] = local.read_bytes() if result.returncode == 0 else error
    return fetched


def stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    try:
        return process.communicate(timeout=5)[0] or ""
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()[0] or ""


def dnsmasq_in_this_namespace(job: dict[str, Any]) -> None:
    """Inside the private namespace: dnsmasq's TFTP on 127.0.0.1:69; prints what came back."""
    subprocess.run([job["ip"], "link", "set", "lo", "up"], check=True)
    root, names = job["root"], job["names"]
    dnsmasq = subprocess.Popen(
        [job["dnsmasq"], "--keep-in-foreground", "--conf-file=/dev/null", "--pid-file=",
         "--log-facility=-", "--port=0", "--enable-tftp", f"--tftp-root={root}",
         f"--listen-address={LOOPBACK}", "--bind-interfaces", *job["options"]],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        wait_for_tftp(TFTP_PORT, dnsmasq)
        fetched = tftp_fetch(job["atftp"], names, TFTP_PORT, Path(job["out"]))
    finally:
        log = stop(dnsmasq)
    shown = {name: data if isinstance(data, str) else None for name, data in fetched.items()}
    print(json.dumps({"errors": shown, "log": log}))


def test_dnsmasq_tftp_serves_a_built_tree(world_tree: Tree, tmp_path: Path) -> None:
    tools = {tool: require_tool(tool) for tool in ("dnsmasq", "atftp", "ip")}
    require_tool("unshare")
    names = sorted(world_tree.digests)
    namespace = unshare_command()
    # Really root, dnsmasq keeps its default user (nobody). Mapped to root in a user namespace it
    # can change neither user nor group (an empty --group keeps it), and stays "root" there,
    # which still serves only world-readable files.
    options = ["--user=root", "--group="] if "--map-root-user" in namespace else []
    job = {"root": str(world_tree.root), "out": str(tmp_path), "names": names,
           "options": options, **tools}  # fmt: skip
    result = subprocess.run(
        [*namespace, sys.executable, __file__, json.dumps(job)],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    fetched: dict[str, bytes | str] = {}
    for index, name in enumerate(names):
        error = report["errors"][name]
        fetched[name] = (tmp_path / f"fetched-{index}").read_bytes() if error is None else error
    check_served(world_tree, fetched, "dnsmasq", report["log"])


def free_port(kind: socket.SocketKind) -> int:
    with socket.socket(type=kind) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def usual_user() -> tuple[str, str]:
    """nobody/nogroup, the servers' default, when we may switch to it; else ourselves."""
    if ROOT:
        return "nobody", "nogroup"
    return pwd.getpwuid(os.geteuid()).pw_name, grp.getgrgid(os.getegid()).gr_name


def test_atftpd_serves_a_built_tree(world_tree: Tree, tmp_path: Path) -> None:
    atftpd = require_tool("atftpd")
    atftp = require_tool("atftp")
    user, group = usual_user()
    port = free_port(socket.SOCK_DGRAM)
    server = subprocess.Popen(
        [atftpd, "--daemon", "--no-fork", "--logfile", "-", "--user", user, "--group", group,
         "--no-multicast", "--port", str(port), "--bind-address", LOOPBACK,
         str(world_tree.root)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        wait_for_tftp(port, server)
        fetched = tftp_fetch(atftp, sorted(world_tree.digests), port, tmp_path)
    finally:
        log = stop(server)
    check_served(world_tree, fetched, f"atftpd as {user}", log)


# HTTP ---------------------------------------------------------------------------------------


def nginx_config(root: Path, port: int, work: Path) -> str:
    user, group = usual_user()
    temporary = "\n".join(
        f"    {kind}_temp_path {work / kind};" for kind in ("client_body", "proxy", "fastcgi")
    )
    return f"""
{f"user {user} {group};" if ROOT else ""}
daemon off;
worker_processes 1;
pid {work / "nginx.pid"};
error_log stderr;
events {{ worker_connections 16; }}
http {{
    access_log {work / "access.log"};
{temporary}
    server {{
        listen {LOOPBACK}:{port};
        root {root};
    }}
}}
"""


def wait_for_http(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            socket.create_connection((LOOPBACK, port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"nginx did not start: {process.communicate()[0]}") from None
            time.sleep(0.05)


def http_fetch(names: list[str], port: int) -> dict[str, bytes | str]:
    fetched: dict[str, bytes | str] = {}
    for name in names:
        try:
            with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/{name}", timeout=30) as reply:
                fetched[name] = reply.read()
        except urllib.error.HTTPError as error:
            fetched[name] = f"HTTP {error.code} {error.reason}"
    return fetched


def test_nginx_serves_a_built_tree(world_tree: Tree, tmp_path: Path) -> None:
    nginx = require_tool("nginx")
    port = free_port(socket.SOCK_STREAM)
    config = tmp_path / "nginx.conf"
    config.write_text(nginx_config(world_tree.root, port, tmp_path))
    server = subprocess.Popen(
        [nginx, "-p", str(tmp_path), "-e", "stderr", "-c", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        wait_for_http(port, server)
        fetched = http_fetch(sorted(world_tree.digests), port)
    finally:
        log = stop(server)
    check_served(world_tree, fetched, f"nginx with workers as {usual_user()[0]}", log)


if __name__ == "__main__":
    dnsmasq_in_this_namespace(json.loads(sys.argv[1]))
