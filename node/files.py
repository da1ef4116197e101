"""Creating files whose mode matters: secrets are 0600 from the first byte written."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644
DIRECTORY_MODE = 0o700


class FileExists(FileExistsError):
    """The file is already there; nothing was overwritten."""


def create_file(path: Path, content: bytes, mode: int) -> None:
    """Creates `path` with exactly `mode` (no window where a secret is world-readable); never overwrites."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise FileExists(f"{path} already exists") from None
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
    os.chmod(path, mode)  # the umask may have narrowed a public file's mode; make it exactly `mode`


def write_atomically(path: Path, content: bytes, mode: int) -> None:
    """Replaces `path` with `content`, durably, with `mode` from the first byte (secrets stay 0600)."""
    temporary = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(descriptor, view) :]
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.chmod(temporary, mode)
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
