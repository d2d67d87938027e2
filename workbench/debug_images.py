"""Stop any EFI image at its entry point, over a GDB/MI session on the lab machine's gdbstub.

For an image that does not wait for a debugger (a systemd-stub UKI, a lanzaboote stub, shim),
nothing tells us where the firmware will load it, so we watch the firmware do it:
1. let the machine run in short slices until the DXE core has published its debug image
   table (workbench.efi_images finds it through the "IBI SYST" pointer);
2. watch the table's TableSize: each image the firmware loads stops the machine once, and the
   new entry's PE headers in memory are compared with the file's (timestamp, entry point, size
   of image);
3. on the match, a temporary breakpoint at base + AddressOfEntryPoint: the machine stops
   before the image's first instruction, the image loaded and relocated, nothing of it run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from workbench.efi_images import (
    DEBUG_IMAGE_INFO_TABLE_GUID,
    TABLE_SIZE_OFFSET,
    LoadedImage,
    PeFacts,
    configuration_table,
    find_system_table,
    loaded_images,
    table_size,
)
from workbench.errors import LabFailure
from workbench.gdb_mi import GdbError, MiSession, Stopped

# How long the machine runs between two looks for the table while the DXE core starts.
SLICE = 0.3


class ImageNotLoaded(LabFailure):
    """The machine ended, or the deadline passed, before the firmware loaded the image."""


@dataclass
class EntryStop:
    image: LoadedImage
    header: int  # the debug image table's header, for listing every image later
    stop: Stopped
    watch_stops: int  # how many image loads the watchpoint saw on the way


class ImageEntryFinder:
    def __init__(self, session: MiSession, wanted: PeFacts, memory_top: int) -> None:
        self.session = session
        self.wanted = wanted
        self.memory_top = memory_top

    def read(self, address: int, length: int) -> bytes | None:
        return self.session.read_memory(address, length)

    def find_table(self, deadline: float) -> int:
        """The debug image table's header address; runs the machine in slices until it exists."""
        while True:
            system_table = find_system_table(self.read, self.memory_top)
            if system_table is not None:
                header = configuration_table(self.read, system_table, DEBUG_IMAGE_INFO_TABLE_GUID)
                if header is not None:
                    return header
            if time.monotonic() > deadline:
                raise ImageNotLoaded("the firmware published no debug image table in time")
            stop = self.session.run_for(SLICE)
            if stop.reason.startswith("exited"):
                raise ImageNotLoaded("the machine ended before the firmware's DXE core started")

    def matching(self, header: int, first: int) -> LoadedImage | None:
        for image in loaded_images(self.read, header, first, with_names=False):
            if image.facts is not None and image.facts.same_image(self.wanted):
                return image
        return None

    def wait_for_image(self, header: int, deadline: float) -> tuple[LoadedImage, int]:
        """Watch TableSize until the wanted image is in the table; (image, loads watched)."""
        found = self.matching(header, 0)
        if found is not None:
            return found, 0
        watch = self.session.request(
            f'-break-watch "*(unsigned int *){header + TABLE_SIZE_OFFSET:#x}"'
        )
        number = str((watch.get("wpt") or {}).get("number", ""))
        loads = 0
        seen = table_size(self.read, header)
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ImageNotLoaded("the firmware did not load the image in time")
                try:
                    stop = self.session.resume_until_stopped("continue", remaining)
                except GdbError as error:
                    raise ImageNotLoaded(
                        f"the machine ended before the image loaded ({error})"
                    ) from None
                if stop.reason.startswith("exited") or self.session.closed:
                    raise ImageNotLoaded("the machine ended before the firmware loaded the image")
                loads += 1
                size = table_size(self.read, header)
                if size > seen:
                    found = self.matching(header, seen)
                    if found is not None:
                        return found, loads
                seen = size
        finally:
            if number and not self.session.closed:
                self.session.request(f"-break-delete {number}")

    def stop_at_entry(self, deadline: float) -> EntryStop:
        header = self.find_table(deadline)
        image, loads = self.wait_for_image(header, deadline)
        assert image.facts is not None
        entry = image.base + image.facts.entry
        self.session.request(f"-break-insert -t *{entry:#x}")
        stop = self.session.resume_until_stopped("continue", max(deadline - time.monotonic(), 1))
        if stop.reason != "breakpoint-hit":
            raise ImageNotLoaded(f"the machine stopped ({stop.reason}) before the image's entry")
        return EntryStop(image, header, stop, loads)

    def images(self, header: int) -> list[LoadedImage]:
        return loaded_images(self.read, header)
