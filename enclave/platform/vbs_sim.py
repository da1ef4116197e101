"""`vbs-sim`: a simulated hypervisor TEE (Virtualization Based Security), with its own report and root.

As with VBS enclaves, the hypervisor, not the CPU, measures the enclave image and signs its report; here a
per-machine hypervisor signing key certified by the simulated hypervisor vendor's root. Report layout,
version 1 (little-endian, as Windows structures are; 128 bytes):

    magic "VBSR" | version u32 | VTL u8 (1: the secure world) | reserved (3, zero) | svn u32
    | image measurement (32) | image id (16) | report data (64)
"""

from __future__ import annotations

from dataclasses import dataclass

from enclave.platform.api import (
    MEASUREMENT_SIZE,
    REPORT_DATA_SIZE,
    Claims,
    Measurement,
    PlatformName,
    ReportFormat,
)
from enclave.platform.errors import ForeignEnclave, MalformedEvidence, UnsupportedEvidenceVersion
from enclave.platform.wire import StrictReader

REPORT_MAGIC = b"VBSR"
REPORT_VERSION = 1
# Virtual Trust Level 1 is the isolated (secure) world; VTL 0 is the normal OS, which is not an enclave.
ENCLAVE_VTL = 1
RESERVED = bytes(3)
IMAGE_ID = b"sealchain".ljust(16, b"\0")


@dataclass(frozen=True, slots=True)
class VbsReport:
    vtl: int
    security_version: int
    image_measurement: Measurement
    image_id: bytes
    report_data: bytes

    def __post_init__(self) -> None:
        if len(self.image_measurement) != MEASUREMENT_SIZE or len(self.image_id) != len(IMAGE_ID):
            raise ValueError("the image measurement is 32 bytes and the image id 16")
        if len(self.report_data) != REPORT_DATA_SIZE:
            raise ValueError(f"report data is {REPORT_DATA_SIZE} bytes, not {len(self.report_data)}")
        if not 0 <= self.security_version < 1 << 32 or not 0 <= self.vtl < 1 << 8:
            raise ValueError("the svn is 32-bit and the VTL 8-bit")


def encode_vbs_report(report: VbsReport) -> bytes:
    return b"".join(
        [
            REPORT_MAGIC,
            REPORT_VERSION.to_bytes(4, "little"),
            report.vtl.to_bytes(1, "little"),
            RESERVED,
            report.security_version.to_bytes(4, "little"),
            report.image_measurement,
            report.image_id,
            report.report_data,
        ]
    )


def decode_vbs_report(data: bytes) -> VbsReport:
    reader = StrictReader(data, MalformedEvidence)
    if reader.take(len(REPORT_MAGIC), "magic") != REPORT_MAGIC:
        raise MalformedEvidence("not a vbs-sim report (bad magic)")
    version = reader.uint(4, "report version", "little")
    if version != REPORT_VERSION:
        raise UnsupportedEvidenceVersion(f"vbs-sim report version {version}, not {REPORT_VERSION}")
    vtl = reader.uint(1, "VTL", "little")
    if reader.take(len(RESERVED), "reserved") != RESERVED:
        raise MalformedEvidence("reserved bytes of a vbs-sim report must be zero")
    report = VbsReport(
        vtl=vtl,
        security_version=reader.uint(4, "svn", "little"),
        image_measurement=Measurement(reader.take(MEASUREMENT_SIZE, "image measurement")),
        image_id=reader.take(len(IMAGE_ID), "image id"),
        report_data=reader.take(REPORT_DATA_SIZE, "report data"),
    )
    reader.finish()
    return report


def _encode_report(measurement: Measurement, security_version: int, report_data: bytes) -> bytes:
    return encode_vbs_report(VbsReport(ENCLAVE_VTL, security_version, measurement, IMAGE_ID, report_data))


def _claims(report: bytes) -> Claims:
    decoded = decode_vbs_report(report)
    if decoded.vtl != ENCLAVE_VTL or decoded.image_id != IMAGE_ID:
        raise ForeignEnclave(f"the report is from VTL {decoded.vtl}, image {decoded.image_id!r}")
    return Claims(
        PlatformName.VBS_SIM, decoded.image_measurement, decoded.security_version, decoded.report_data
    )


VBS_SIM = ReportFormat(PlatformName.VBS_SIM, _encode_report, _claims)
