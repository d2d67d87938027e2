"""Check a built stub (stub.efi, stubaa64.efi): .sbat and .wbstub inside the image, room for 8 more headers.

Standard library only, so `make check` needs nothing beyond python3.
"""

import struct
import sys

NEEDED_HEADER_ROOM = 8  # .osrel .cmdline .policy .initrd .linux .initrdh .linuxh and one spare


MACHINES = {"x86_64": 0x8664, "aarch64": 0xAA64}


def main(path: str, version: str, arch: str) -> int:
    data = open(path, "rb").read()
    lfanew = struct.unpack_from("<I", data, 0x3C)[0]
    machine, count, _, _, _, opt_size, _ = struct.unpack_from("<HHIIIHH", data, lfanew + 4)
    opt = lfanew + 24
    size_of_image, size_of_headers = struct.unpack_from("<II", data, opt + 56)
    table = opt + opt_size
    sections = {}
    first_raw = len(data)
    for i in range(count):
        name, vsize, va, raw_size, raw_ptr = struct.unpack_from("<8sIIII", data, table + 40 * i)
        sections[name.rstrip(b"\0").decode()] = (va, vsize, raw_ptr, raw_size)
        if raw_size:
            first_raw = min(first_raw, raw_ptr)
    problems = []
    if machine != MACHINES[arch]:
        problems.append(f"not {arch} (machine {machine:#x})")
    for name in (".sbat", ".wbstub"):
        if name not in sections:
            problems.append(f"no {name} section")
            continue
        va, vsize, _, _ = sections[name]
        if va == 0 or va + vsize > size_of_image:
            problems.append(f"{name} is not inside the image (VA {va:#x}, size {vsize:#x})")
    if ".wbstub" in sections:
        _, vsize, ptr, _ = sections[".wbstub"]
        marker = data[ptr : ptr + vsize]
        if marker != f"stub-workbench {version}".encode():
            problems.append(f".wbstub holds {marker!r}")
    if ".sbat" in sections:
        _, vsize, ptr, _ = sections[".sbat"]
        lines = data[ptr : ptr + vsize].decode().splitlines()
        if not lines or not lines[0].startswith("sbat,1,") or not any(
            line.startswith("stub-workbench,") for line in lines
        ):
            problems.append(".sbat is not valid SBAT CSV")
    room = (min(first_raw, size_of_headers) - (table + 40 * count)) // 40
    if room < NEEDED_HEADER_ROOM:
        problems.append(f"room for only {room} more section headers")
    for problem in problems:
        print(f"{path}: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3]))
