"""A strict reader for the platform's fixed binary layouts (evidence, reports, sealed blobs).

Every read checks that the bytes are there and `finish` rejects trailing bytes, so each layout has exactly
one encoding and a bad input raises the caller's own error type, never an IndexError or struct.error.
"""

from __future__ import annotations

from typing import Literal

ByteOrder = Literal["big", "little"]


class StrictReader:
    """Reads fields front to back; raises `error(message)` on a short read or leftover bytes."""

    __slots__ = ("_data", "_error", "_offset")

    def __init__(self, data: bytes, error: type[Exception]) -> None:
        self._data = data
        self._error = error
        self._offset = 0

    def take(self, size: int, what: str) -> bytes:
        end = self._offset + size
        if end > len(self._data):
            raise self._error(f"truncated: {what} needs {size} bytes, {len(self._data) - self._offset} left")
        field = self._data[self._offset : end]
        self._offset = end
        return field

    def uint(self, size: int, what: str, byteorder: ByteOrder = "big") -> int:
        return int.from_bytes(self.take(size, what), byteorder)

    def sized(self, length_size: int, what: str, byteorder: ByteOrder = "big") -> bytes:
        """A field preceded by its length (`length_size` bytes)."""
        return self.take(self.uint(length_size, f"length of {what}", byteorder), what)

    def rest(self) -> bytes:
        field = self._data[self._offset :]
        self._offset = len(self._data)
        return field

    def finish(self) -> None:
        if self._offset != len(self._data):
            raise self._error(f"{len(self._data) - self._offset} trailing bytes")


def sized(field: bytes, length_size: int, byteorder: ByteOrder = "big") -> bytes:
    """The encoding `StrictReader.sized` reads: length, then bytes. A field too long is our bug."""
    return len(field).to_bytes(length_size, byteorder) + field
