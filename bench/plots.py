"""PNG plots of the benchmark results (matplotlib, no screen needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_loopback(document: dict[str, Any], out: Path) -> None:
    """Seconds per server and window, one panel per block size."""
    plt = _pyplot()
    seconds: dict[str, dict[str, float]] = document["seconds"]
    keys = list(next(iter(seconds.values())))
    blocks = sorted({key.split()[1] for key in keys}, key=int)
    figure, axes = plt.subplots(1, len(blocks), figsize=(5.5 * len(blocks), 4), sharey=True)
    for axis, block in zip(list(axes) if len(blocks) > 1 else [axes], blocks, strict=True):
        windows = [key.split()[3] for key in keys if key.split()[1] == block]
        width = 0.8 / len(seconds)
        for index, (server, values) in enumerate(seconds.items()):
            heights = [values.get(f"blksize {block} window {w}", 0.0) for w in windows]
            positions = [i + index * width for i in range(len(windows))]
            axis.bar(positions, heights, width, label=server)
        axis.set_xticks([i + 0.4 - width / 2 for i in range(len(windows))], windows)
        axis.set_xlabel("RFC 7440 window asked for")
        axis.set_title(f"blksize {block}")
        axis.grid(axis="y", alpha=0.3)
    first = axes[0] if len(blocks) > 1 else axes
    first.set_ylabel(f"seconds for {document['file_mib']} MiB (lower is better)")
    first.legend()
    figure.suptitle("TFTP over loopback, atftp client")
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


def plot_netboot(document: dict[str, Any], out: Path) -> None:
    """Stub start to `starting kernel`: the servers and the local ESP, then the window matrix."""
    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5),
                                         gridspec_kw={"width_ratios": [1, 1.6]})  # fmt: skip
    cases = document["cases"]
    names = list(cases)
    left.barh(names, [cases[n]["median_s"] for n in names], color="tab:blue")
    for index, name in enumerate(names):
        left.text(cases[name]["median_s"], index, f" {cases[name]['median_s']:.2f}s",
                  va="center")  # fmt: skip
    left.invert_yaxis()
    left.set_xlabel("seconds, stub start to kernel start (lower is better)")
    left.set_title("kernel + initrd, same tree")
    matrix = document["matrix"]
    blocks = sorted({int(k.split()[1]) for k in matrix})
    for block in blocks:
        points = sorted((int(k.split()[3]), v["median_s"]) for k, v in matrix.items()
                        if int(k.split()[1]) == block)  # fmt: skip
        right.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                   label=f"blksize {block}")  # fmt: skip
    local = document["local_s"]
    right.axhline(local, color="gray", linestyle="--", label=f"local ESP {local:.2f}s")
    right.set_xscale("log", base=2)
    right.set_xlabel("window the stub asks for (tftp-window)")
    right.set_ylabel("seconds")
    right.set_title("our server, by window and block size")
    right.legend()
    right.grid(alpha=0.3)
    figure.suptitle(f"Netboot under QEMU TCG: sample kernel + {document['initrd_mib']} MiB initrd")
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


def plot_transports(document: dict[str, Any], out: Path) -> None:
    """Stub time and whole run per transport, the local ESP as the reference line."""
    plt = _pyplot()
    cases = document["cases"]
    names = list(cases)
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5), sharey=True)
    for axis, key, title in ((left, "stub_median_s", "stub start to kernel start"),
                             (right, "whole_median_s", "QEMU start to userspace")):  # fmt: skip
        values = [cases[n][key] or 0.0 for n in names]
        colors = ["tab:gray" if n == "local ESP" else "tab:orange" if "HTTP" in n else "tab:blue"
                  for n in names]  # fmt: skip
        axis.barh(names, values, color=colors)
        for index, value in enumerate(values):
            axis.text(value, index, f" {value:.2f}s" if value else " (no stub)", va="center")
        local = cases["local ESP"][key]
        axis.axvline(local, color="gray", linestyle="--")
        axis.set_xlabel(f"seconds, {title} (lower is better)")
        axis.grid(axis="x", alpha=0.3)
    left.invert_yaxis()
    figure.suptitle(f"TFTP vs HTTP, IPv4 vs IPv6 under QEMU TCG: sample kernel + "
                    f"{document['initrd_mib']} MiB initrd")  # fmt: skip
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


def plot_arch(document: dict[str, Any], out: Path) -> None:
    """Whole run and the stub's own share, per mode, x86_64 beside arm64."""
    plt = _pyplot()
    results: dict[str, dict[str, Any]] = document["results"]
    modes = list(dict.fromkeys(r["mode"] for r in results.values()))
    arches = list(dict.fromkeys(r["arch"] for r in results.values()))
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / len(arches)
    by_case = {(r["arch"], r["mode"]): r for r in results.values()}
    panels = (
        (axes[0], "median_s", "whole run to the marker"),
        (axes[1], "stub_s", "stub: first line to starting the kernel"),
    )
    for axis, key, title in panels:
        for index, arch in enumerate(arches):
            heights = [by_case[arch, mode][key] for mode in modes]
            axis.bar([i + index * width for i in range(len(modes))], heights, width, label=arch)
        axis.set_xticks([i + 0.4 - width / 2 for i in range(len(modes))], modes)
        axis.set_ylabel("seconds (lower is better)")
        axis.set_title(title)
        axis.grid(axis="y", alpha=0.3)
    axes[0].legend()
    figure.suptitle(f"x86_64 and arm64 stubs, one tree, {document['pad_mib']} MiB initrd, QEMU TCG")
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)
