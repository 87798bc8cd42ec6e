"""Zeroes every CUDA binary in a shared library's fatbin that the target GPU cannot run.

onnxruntime's CUDA provider carries cubins for six GPU generations (272 MB). The device
machine takes 64 MiB per call, so only the target architecture's cubins travel: the other
payloads are overwritten with zeros (headers, offsets and sizes stay, so the CUDA runtime
still parses the container) and the file then compresses to a fraction of its size.
With --drop-arch-specific, modules built for the target architecture alone (e.g. sm_90a
CUTLASS kernels of contrib operators such as MoE) are zeroed too; under lazy module loading they
only fail if one of their kernels is launched, so a run that passes with them gone never used them.
Never ship a pruned library: it is a transfer format for one known GPU.
"""

import argparse
import struct
import subprocess
from pathlib import Path

FATBIN_MAGIC = 0xBA55ED50
ENTRY_ARCH_OFFSET = 28


def fatbin_section(path: Path) -> tuple[int, int]:
    sections = subprocess.check_output(["readelf", "-S", "-W", str(path)], text=True)
    for line in sections.splitlines():
        if ".nv_fatbin" in line:
            fields = line.split("]", 1)[1].split()
            return int(fields[3], 16), int(fields[4], 16)
    raise SystemExit(f"{path}: no .nv_fatbin section")


def entries(data: bytearray, start: int, end: int) -> list[tuple[int, int, int]]:
    """(arch, payload offset, payload size) of each binary in one fatbin container."""
    found = []
    entry = start
    while entry < end:
        _kind, _entry_version, entry_header_size, payload_size = struct.unpack_from("<HHIQ", data, entry)
        arch = struct.unpack_from("<I", data, entry + ENTRY_ARCH_OFFSET)[0]
        found.append((arch, entry + entry_header_size, payload_size))
        entry += entry_header_size + payload_size
    return found


def prune(data: bytearray, start: int, size: int, keep_arch: int, drop_arch_specific: bool) -> tuple[int, int]:
    kept = zeroed = 0
    position, end = start, start + size
    while position < end:
        magic, _version, header_size, fat_size = struct.unpack_from("<IHHQ", data, position)
        if magic != FATBIN_MAGIC:
            position += 8  # containers are 8-byte aligned; the gap is padding
            continue
        container_end = position + header_size + fat_size
        binaries = entries(data, position + header_size, container_end)
        arch_specific = {arch for arch, _, _ in binaries} == {keep_arch}
        for arch, payload, payload_size in binaries:
            if arch == keep_arch and not (drop_arch_specific and arch_specific):
                kept += payload_size
            else:
                data[payload : payload + payload_size] = bytes(payload_size)
                zeroed += payload_size
        position = container_end
    return kept, zeroed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("library", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--keep-arch", type=int, default=90, help="SM version to keep (H100/H200: 90)")
    parser.add_argument("--drop-arch-specific", action="store_true", help="also zero modules built for --keep-arch alone")
    args = parser.parse_args()
    data = bytearray(args.library.read_bytes())
    start, size = fatbin_section(args.library)
    kept, zeroed = prune(data, start, size, args.keep_arch, args.drop_arch_specific)
    args.output.write_bytes(data)
    print(f"kept sm_{args.keep_arch}: {kept / 2**20:.1f} MiB, zeroed: {zeroed / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
