"""Run inside a fresh network namespace by test_tui_serve.py: a veth interface with an
address, the app with a Serve tab on it, a TFTP fetch and a syslog line from a client in the
same namespace; prints what the Serve tab showed, as JSON."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import tftpy

from workbench.tui.app import WorkbenchApp
from workbench.tui.serve_pane import ServePane

ADDRESS = "10.77.0.1"


def interface() -> None:
    for command in (["ip", "link", "set", "lo", "up"],
                    ["ip", "link", "add", "site0", "type", "veth", "peer", "name", "site1"],
                    ["ip", "addr", "add", f"{ADDRESS}/24", "dev", "site0"],
                    ["ip", "link", "set", "site1", "up"],
                    ["ip", "link", "set", "site0", "up"]):  # fmt: skip
        subprocess.run(command, check=True)


async def drive(stub: Path, root: Path, scratch: Path) -> dict[str, object]:
    app = WorkbenchApp(stub, root=root, serve="site0")
    async with app.run_test(size=(140, 40)) as pilot:
        pane = app.query_one(ServePane)
        deadline = time.monotonic() + 20
        while not pane.banner_text.startswith(("Serving", "Cannot")):
            assert time.monotonic() < deadline, pane.banner_text
            await pilot.pause(0.1)
        banner = pane.banner_text
        if banner.startswith("Serving"):
            # A client: the kernel by TFTP (a thread: the app's loop keeps going), then one
            # console line as the stub sends it.
            client = tftpy.TftpClient(ADDRESS, 69, options={"blksize": 1468})
            target = scratch / "vmlinuz"
            await asyncio.to_thread(client.download, "EFI/Linux/vmlinuz", str(target))
            line = b"<14>1 2026-12-03T20:00:00Z 52-54-00-12-34-56 stub - - - stub: starting kernel"
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                sender.sendto(line, (ADDRESS, 514))
            deadline = time.monotonic() + 10
            while not any("starting kernel" in row.cells[5] for row in pane.rows.values()):
                assert time.monotonic() < deadline, pane.rows
                await pilot.pause(0.1)
            await pilot.press("9")
        rows = [list(row.cells) for row in pane.rows.values()]
        log = [strip.text for strip in pane.query_one("#serve-log").lines]
        active = app.query_one("#tabs").active
    return {"banner": banner, "rows": rows, "log": log, "active": active}


def main() -> int:
    stub, root, scratch = (Path(arg) for arg in sys.argv[1:4])
    interface()
    print(json.dumps(asyncio.run(drive(stub, root, scratch))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
