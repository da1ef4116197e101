"""The common enclave platform API: the same on every TEE, so trusted code is portable (DESIGN.md 3).

A `Platform` is the trusted code's view of the TEE it runs in: its own measurement, evidence for 64 bytes
of report data, and sealing to this code on this machine. Verifying someone else's evidence needs no
platform of one's own (a client or a node on the other backend verifies too): see `policy.verify_evidence`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import NewType, Protocol

# SHA-256 of the trusted code (MRENCLAVE-like); see measurement.py.
Measurement = NewType("Measurement", bytes)
MEASUREMENT_SIZE = 32

# SGX's REPORTDATA size: SHA-256 of the identity key, then 32 bytes of freshness (policy.report_data_for).
REPORT_DATA_SIZE = 64

# The security version of this release of the trusted code (SGX's ISVSVN). Raise it with a security fix,
# so that governance can set a minimum and older, vulnerable code no longer joins.
SECURITY_VERSION = 1

# How randomness reaches the enclave: the host injects an `os.urandom`-like callable (tests inject
# `random.Random(seed).randbytes`). The enclave never reads global randomness itself.
RandomBytes = Callable[[int], bytes]


class PlatformName(StrEnum):
    """The backends, selected by name (configuration files and evidence carry these strings)."""

    SGX_SIM = "sgx-sim"
    VBS_SIM = "vbs-sim"


@dataclass(frozen=True, slots=True)
class Claims:
    """Verified evidence shows: this code, at this security version, on this platform, chose this data."""

    platform: PlatformName
    measurement: Measurement
    security_version: int
    report_data: bytes


class Platform(Protocol):
    """One TEE as the trusted code sees it; `backends.open_platform` returns one for a backend by name."""

    @property
    def name(self) -> PlatformName: ...

    @property
    def measurement(self) -> Measurement: ...

    def evidence(self, report_data: bytes) -> bytes:
        """Evidence (evidence.py encoding) that this code runs here and chose these 64 bytes."""
        ...

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        """A blob only this measurement on this machine can unseal, under the same context label."""
        ...

    def unseal(self, sealed: bytes, context: bytes) -> bytes:
        """The plaintext of `seal`, or an `UnsealError` naming why not."""
        ...


@dataclass(frozen=True, slots=True)
class ReportFormat:
    """A backend's own signed report layout: how its trusted code's claims are written and read back."""

    platform: PlatformName
    # (measurement, security version, report data) -> report bytes; bad arguments are a ValueError.
    encode: Callable[[Measurement, int, bytes], bytes]
    # report bytes -> claims; strict, raising MalformedEvidence or UnsupportedEvidenceVersion.
    claims: Callable[[bytes], Claims]
