"""Creating files whose mode matters: secrets are 0600 from the first byte written."""

from __future__ import annotations

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
