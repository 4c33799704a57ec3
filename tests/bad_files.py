"""Malformed input files shared by the data, predict and CLI tests."""

from __future__ import annotations

import struct
import zlib


def huge_png(path):
    """Writes a PNG whose header claims 100000 x 100000 pixels (OpenCV raised cv2.error on it); returns ``path``."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path
