"""The backends, selected by name: one simulated platform class over each backend's report format.

Both simulations work alike (a provisioned key signs the report, a vendor root certifies the key, the
machine's sealing secret seals); what differs is the report layout and the root of trust, so those are
what `sgx_sim.py` and `vbs_sim.py` define.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.serialization import Encoding

from enclave.platform.api import (
    REPORT_DATA_SIZE,
    SECURITY_VERSION,
    Measurement,
    Platform,
    PlatformName,
    RandomBytes,
    ReportFormat,
)
from enclave.platform.evidence import Evidence, encode_evidence, sign_report
from enclave.platform.provisioning import AttestationIdentity, Machine
from enclave.platform.sealing import Sealer
from enclave.platform.sgx_sim import SGX_SIM
from enclave.platform.vbs_sim import VBS_SIM

REPORT_FORMATS: dict[PlatformName, ReportFormat] = {SGX_SIM.platform: SGX_SIM, VBS_SIM.platform: VBS_SIM}


class SimulatedPlatform:
    """The `Platform` API on one simulated machine, for one backend and one measurement of trusted code."""

    __slots__ = ("_endorsements", "_format", "_identity", "_measurement", "_sealer", "_security_version")

    def __init__(
        self,
        identity: AttestationIdentity,
        sealing_secret: bytes,
        measurement: Measurement,
        random_bytes: RandomBytes,
        security_version: int = SECURITY_VERSION,
    ) -> None:
        self._format = REPORT_FORMATS[identity.platform]
        self._identity = identity
        self._endorsements = (identity.certificate.public_bytes(Encoding.DER),)
        self._measurement = measurement
        self._security_version = security_version
        self._sealer = Sealer(sealing_secret, identity.platform, measurement, random_bytes)

    @property
    def name(self) -> PlatformName:
        return self._identity.platform

    @property
    def measurement(self) -> Measurement:
        return self._measurement

    def evidence(self, report_data: bytes) -> bytes:
        if len(report_data) != REPORT_DATA_SIZE:
            raise ValueError(f"report data is {REPORT_DATA_SIZE} bytes, not {len(report_data)}")
        report = self._format.encode(self._measurement, self._security_version, report_data)
        signature = sign_report(self._identity.private_key, report)
        return encode_evidence(Evidence(self.name, report, signature, self._endorsements))

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        return self._sealer.seal(plaintext, context)

    def unseal(self, sealed: bytes, context: bytes) -> bytes:
        return self._sealer.unseal(sealed, context)


def open_platform(
    name: PlatformName,
    machine: Machine,
    measurement: Measurement,
    random_bytes: RandomBytes,
    security_version: int = SECURITY_VERSION,
) -> Platform:
    """The backend `name` on `machine` (which must have been provisioned for it)."""
    identity = machine.identities.get(name)
    if identity is None:
        raise ValueError(f"machine {machine.name!r} has no {name} identity")
    return SimulatedPlatform(identity, machine.sealing_secret, measurement, random_bytes, security_version)
