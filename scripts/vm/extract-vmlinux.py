#!/usr/bin/env python3
"""Extracts the uncompressed vmlinux ELF from a bzImage (zstd, xz or lz4 payload)."""
import subprocess
import sys

src, dst = sys.argv[1], sys.argv[2]
image = open(src, "rb").read()
for magic, tool in ((b"\x28\xb5\x2f\xfd", "zstd"), (b"\xfd7zXZ\x00", "xz"), (b"\x02\x21\x4c\x18", "lz4")):
    at = image.find(magic)
    while at != -1:
        out = subprocess.run([tool, "-dc"], input=image[at:], capture_output=True).stdout
        if out[:4] == b"\x7fELF":
            with open(dst, "wb") as f:
                f.write(out)
            sys.exit(0)
        at = image.find(magic, at + 1)
sys.exit(f"extract-vmlinux: no ELF kernel inside {src}")
