"""The measurement of the trusted code (sgx-sim's MRENCLAVE, vbs-sim's image measurement).

DESIGN.md section 6: SHA-256 over the `enclave` and `consensus` packages, so changed code is a changed
measurement. A pure function of (relative posix path, bytes) pairs, computed the same on every machine:
sorted by path, each path and content length-prefixed (u64 big-endian) so no two trees hash alike.
The host collects the files (node/platform_files.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import PurePosixPath

from enclave.platform.api import Measurement

TRUSTED_PACKAGES = ("consensus", "enclave")
_DOMAIN = b"sealchain trusted code v1\0"


def is_measured(path: str) -> bool:
    """A `*.py` file inside one of the trusted packages, outside `__pycache__`."""
    parts = PurePosixPath(path).parts
    return (
        len(parts) >= 2
        and parts[0] in TRUSTED_PACKAGES
        and path.endswith(".py")
        and "__pycache__" not in parts
        and ".." not in parts
        and not path.startswith("/")
    )


def measure_trusted_code(files: Iterable[tuple[str, bytes]]) -> Measurement:
    """SHA-256 over sorted, length-prefixed (path, content) pairs; bad paths: ValueError."""
    ordered = sorted(files)
    paths = [path for path, _ in ordered]
    if len(set(paths)) != len(paths):
        raise ValueError("a path appears twice")
    foreign = [path for path in paths if not is_measured(path)]
    if foreign:
        raise ValueError(f"not trusted code: {foreign[:3]!r}")
    digest = hashlib.sha256(_DOMAIN)
    for path, content in ordered:
        encoded_path = path.encode("utf-8")
        digest.update(len(encoded_path).to_bytes(8, "big") + encoded_path)
        digest.update(len(content).to_bytes(8, "big") + content)
    return Measurement(digest.digest())
