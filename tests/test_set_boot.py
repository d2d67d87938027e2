"""`workbench set` on a built stub: the edited file still boots and the kernel sees the change."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import BASE_CMDLINE, require_tool
from lab_support import Recorder, assert_nothing_left

from workbench import contract
from workbench.cli import main
from workbench.lab.boot import BootRequest, boot
from workbench.pe.edit import check_layout
from workbench.pe.image import PeImage


@pytest.mark.boot
@pytest.mark.timeout(150)
def test_edited_stub_boots_and_the_kernel_sees_the_new_command_line(
    make_tree: Callable[..., Path], tmp_path: Path
) -> None:
    require_tool("qemu-system-x86_64")
    root = make_tree()
    stub = root / contract.BOOT_PATH
    with PeImage.open(stub) as image:
        old_osrel = image.section(contract.OSREL)
    new_cmdline = f'{BASE_CMDLINE} wb.edited="set by workbench" wb.name=Grüße'
    # An os-release larger than its 4 KiB slot: the section has to move, the real layout work.
    osrel = tmp_path / "os-release"
    osrel.write_text('NAME="edited"\n' + "".join(f"X_{i}=padding\n" for i in range(600)))

    assert main(["set", str(stub), "--cmdline", new_cmdline, "--osrel", str(osrel)]) == 0
    with PeImage.open(stub) as image:
        assert check_layout(image) == []
        assert image.section_data(contract.CMDLINE) == new_cmdline.encode()
        moved = image.section(contract.OSREL)
        assert moved.virtual_size > 4096
        assert moved.virtual_address != old_osrel.virtual_address

    recorder = Recorder()
    outcome = boot(
        BootRequest(root=root, mode="local", expect=contract.SAMPLE_MARKER, timeout=120), recorder
    )
    assert_nothing_left(recorder)
    assert outcome.ok, outcome.reason
    marker = next(
        line for line in recorder.serial().splitlines() if line.startswith(contract.SAMPLE_MARKER)
    )
    assert marker == f"{contract.SAMPLE_MARKER} cmdline={new_cmdline}"
