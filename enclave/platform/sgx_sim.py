"""`sgx-sim`: a simulated hardware TEE with an SGX-like quote.

As in SGX DCAP, a per-machine attestation key (the PCK's role) signs the quote and a vendor root CA
certifies that key; the evidence carries the certificate as its endorsement. Quote layout, version 1
(big-endian, 136 bytes):

    version u16 | attestation key type u16 (3: ECDSA P-384) | product id u16 (ISVPRODID)
    | security version u16 (ISVSVN) | MRENCLAVE (32) | MRSIGNER (32) | report data (64)
"""

from __future__ import annotations

import hashlib
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

QUOTE_VERSION = 1
ATTESTATION_KEY_TYPE_ECDSA_P384 = 3
PRODUCT_ID = 1
# MRSIGNER: in SGX, the hash of the enclave author's signing key. The simulation has one fixed author.
MRSIGNER = hashlib.sha256(b"sealchain simulated enclave author").digest()


@dataclass(frozen=True, slots=True)
class SgxQuote:
    product_id: int
    security_version: int
    mrenclave: Measurement
    mrsigner: bytes
    report_data: bytes

    def __post_init__(self) -> None:
        if len(self.mrenclave) != MEASUREMENT_SIZE or len(self.mrsigner) != MEASUREMENT_SIZE:
            raise ValueError("MRENCLAVE and MRSIGNER are 32 bytes")
        if len(self.report_data) != REPORT_DATA_SIZE:
            raise ValueError(f"report data is {REPORT_DATA_SIZE} bytes, not {len(self.report_data)}")
        if not 0 <= self.security_version < 1 << 16 or not 0 <= self.product_id < 1 << 16:
            raise ValueError("the product id and security version are 16-bit")


def encode_quote(quote: SgxQuote) -> bytes:
    return b"".join(
        [
            QUOTE_VERSION.to_bytes(2, "big"),
            ATTESTATION_KEY_TYPE_ECDSA_P384.to_bytes(2, "big"),
            quote.product_id.to_bytes(2, "big"),
            quote.security_version.to_bytes(2, "big"),
            quote.mrenclave,
            quote.mrsigner,
            quote.report_data,
        ]
    )


def decode_quote(report: bytes) -> SgxQuote:
    reader = StrictReader(report, MalformedEvidence)
    version = reader.uint(2, "quote version")
    if version != QUOTE_VERSION:
        raise UnsupportedEvidenceVersion(f"sgx-sim quote version {version}, not {QUOTE_VERSION}")
    key_type = reader.uint(2, "attestation key type")
    if key_type != ATTESTATION_KEY_TYPE_ECDSA_P384:
        raise MalformedEvidence(f"sgx-sim attestation key type {key_type} is not ECDSA P-384")
    quote = SgxQuote(
        product_id=reader.uint(2, "product id"),
        security_version=reader.uint(2, "security version"),
        mrenclave=Measurement(reader.take(MEASUREMENT_SIZE, "MRENCLAVE")),
        mrsigner=reader.take(MEASUREMENT_SIZE, "MRSIGNER"),
        report_data=reader.take(REPORT_DATA_SIZE, "report data"),
    )
    reader.finish()
    return quote


def _encode_report(measurement: Measurement, security_version: int, report_data: bytes) -> bytes:
    return encode_quote(SgxQuote(PRODUCT_ID, security_version, measurement, MRSIGNER, report_data))


def _claims(report: bytes) -> Claims:
    quote = decode_quote(report)
    if quote.product_id != PRODUCT_ID or quote.mrsigner != MRSIGNER:
        raise ForeignEnclave("the quote is for another product or enclave author")
    return Claims(PlatformName.SGX_SIM, quote.mrenclave, quote.security_version, quote.report_data)


SGX_SIM = ReportFormat(PlatformName.SGX_SIM, _encode_report, _claims)
