"""DATA packets from a file to a socket, the hot path of every transfer.

One buffer serves every transfer: the event loop sends one window at a time, and a UDP send
copies the bytes into the kernel, so nothing outlives the call. Memory is one buffer of about
64 KiB for the whole server, whatever the number of clients or the size of their files.

The buffer holds a run of packets back to back (header, block, header, block...); the blocks
come from the file in one os.preadv straight into their places, the headers are two 16-bit
stores each. Where the kernel offers UDP segmentation offload (Linux 4.18+: UDP_SEGMENT), a run
of equal-sized packets goes out in one sendmsg, and the kernel cuts it into datagrams; else (a
link whose MTU is below the packet, a device without checksum offload) one send per packet.
"""

from __future__ import annotations

import errno
import os
import socket
import struct

DATA_HEADER = struct.Struct(">HH")
DATA_OPCODE = 3
SEGMENT = struct.Struct("=H")  # the segment size, a native u16 in the control message
# Linux's UDP_SEGMENT socket option (not in Python's socket module before 3.12).
UDP_SEGMENT = getattr(socket, "UDP_SEGMENT", 103)
# A run sent at once stays below one UDP datagram (the kernel's limit for a segmented send)
# and within the kernel's 64 segments.
RUN_BYTES = 61440
MAX_SEGMENTS = 64
# The largest packet: blksize 65464 plus its header.
BUFFER_BYTES = 65468
# What a send may say when offload cannot be used for this route: fall back, for good.
NO_OFFLOAD = {errno.EINVAL, errno.EIO, errno.ENOPROTOOPT, errno.EOPNOTSUPP, errno.EMSGSIZE}


class BlockSender:
    """Sends blocks [first, last] of a file as DATA packets; one instance per server."""

    def __init__(self) -> None:
        self.buffer = bytearray(BUFFER_BYTES)
        self.view = memoryview(self.buffer)
        self._slots_for = 0
        self._slots: list[memoryview] = []
        self._one: list[memoryview] = []

    def _slots_of(self, blksize: int) -> list[memoryview]:
        """Where each block of a run goes in the buffer (after its 4-byte header)."""
        if blksize != self._slots_for:
            step = blksize + 4
            count = max(1, min(MAX_SEGMENTS, RUN_BYTES // step))
            self._slots = [self.view[i * step + 4 : i * step + step] for i in range(count)]
            self._one = self._slots[:1]
            self._slots_for = blksize
        return self._slots

    def send(self, sock: socket.socket, client: tuple, fd: int, first: int, last: int,
             blksize: int, size: int, offload: bool) -> bool:  # fmt: skip
        """Send blocks first..last (1-based indexes; wire numbers roll over). Returns whether
        offload may still be used for this client. A send the kernel refuses (buffer full) is
        a packet lost: the client's ACK or the session's timeout recovers it."""
        slots = self._slots_of(blksize)
        if first == last:  # lock-step (or a lone block): one packet, the short way
            offset = (first - 1) * blksize
            # Never past the size the transfer started with (a file that grew since): the
            # last block must stay short, or the client waits for one that never comes.
            got = min(os.preadv(fd, self._one, offset), size - offset) if offset < size else 0
            DATA_HEADER.pack_into(self.buffer, 0, DATA_OPCODE, first & 0xFFFF)
            try:  # noqa: SIM105 (the hot path: no context manager per packet)
                sock.sendto(self.view[: 4 + got], client)
            except OSError:
                pass  # lost on the way, as UDP may lose it
            return offload
        step = blksize + 4
        buffer = self.buffer
        pack = DATA_HEADER.pack_into
        block = first
        while block <= last:
            count = min(len(slots), last - block + 1)
            offset = (block - 1) * blksize
            wanted = max(0, min(count * blksize, size - offset))
            got = min(os.preadv(fd, slots[:count], offset), wanted) if wanted else 0
            for index in range(count):
                pack(buffer, index * step, DATA_OPCODE, (block + index) & 0xFFFF)
            # Blocks are full until the file's end: the last one of the run may be short
            # (or empty, the end of a file of whole blocks).
            full, tail = divmod(got, blksize)
            if full >= count:
                full, tail = count - 1, blksize
            if offload and count > 1 and full == count - 1:
                try:
                    sock.sendmsg([self.view[: full * step + 4 + tail]],
                                 [(socket.SOL_UDP, UDP_SEGMENT, SEGMENT.pack(step))],
                                 0, client)  # fmt: skip
                    block += count
                    continue
                except OSError as error:
                    if error.errno in NO_OFFLOAD:
                        offload = False
                    else:
                        block += count
                        continue
            for index in range(count):
                length = blksize if index < full else tail if index == full else 0
                start = index * step
                try:  # noqa: SIM105 (the hot path: no context manager per packet)
                    sock.sendto(self.view[start : start + 4 + length], client)
                except OSError:
                    pass  # lost on the way, as UDP may lose it
            block += count
        return offload
