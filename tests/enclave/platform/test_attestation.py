"""Attestation scenarios on both backends: evidence for a key verifies; each way of cheating is named."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from enclave.platform.api import REPORT_DATA_SIZE, SECURITY_VERSION, Claims, PlatformName
from enclave.platform.backends import REPORT_FORMATS, open_platform
from enclave.platform.errors import (
    CertificateNotValidAt,
    ForeignEnclave,
    InvalidEndorsementChain,
    InvalidEvidenceSignature,
    MalformedEvidence,
    MeasurementNotAllowed,
    NonceMismatch,
    ReportDataMismatch,
    RootOfOtherPlatform,
    SecurityVersionTooLow,
    UnknownPlatform,
    UnsupportedEvidenceVersion,
    UntrustedRoot,
)
from enclave.platform.evidence import (
    EVIDENCE_MAGIC,
    Evidence,
    decode_evidence,
    encode_evidence,
    sign_report,
)
from enclave.platform.policy import TrustPolicy, report_data_for, verify_evidence
from enclave.platform.provisioning import (
    CLOCK_SKEW_ALLOWANCE,
    MACHINE_VALIDITY,
    AttestationIdentity,
    Machine,
    VendorRoot,
    certify_identity,
    create_vendor_root,
)
from enclave.platform.sgx_sim import SgxQuote, encode_quote
from enclave.platform.vbs_sim import IMAGE_ID, VbsReport, encode_vbs_report

from .conftest import OTHER_CODE, PROVISIONED_AT, TRUSTED_CODE, VERIFIED_AT, World


def verify(
    world: World,
    evidence: bytes,
    *,
    policy: TrustPolicy | None = None,
    key_der: bytes | None = None,
    nonce: bytes | None = None,
    at: datetime = VERIFIED_AT,
) -> Claims:
    """Verification as a node of `world` does it, for the node key unless told otherwise."""
    return verify_evidence(
        evidence,
        policy or world.policy,
        identity_public_key_der=key_der or world.node_key_der,
        nonce=nonce,
        at=at,
    )


def signed_by(
    identity: AttestationIdentity,
    platform: PlatformName,
    report: bytes,
    intermediates: tuple[x509.Certificate, ...] = (),
) -> bytes:
    """Evidence around any report, signed by a real provisioned key (the attacker controls the report)."""
    chain = tuple(cert.public_bytes(Encoding.DER) for cert in (identity.certificate, *intermediates))
    return encode_evidence(Evidence(platform, report, sign_report(identity.private_key, report), chain))


# Round trip


def test_evidence_for_a_key_verifies_and_yields_the_claims(world: World, backend: PlatformName) -> None:
    evidence = world.platform(backend).evidence(report_data_for(world.node_key_der))

    claims = verify_evidence(
        evidence, world.policy, identity_public_key_der=world.node_key_der, at=VERIFIED_AT
    )

    assert claims.platform == backend
    assert claims.measurement == TRUSTED_CODE
    assert claims.security_version == SECURITY_VERSION
    assert claims.report_data == report_data_for(world.node_key_der)


def test_evidence_with_the_verifiers_nonce_verifies(world: World, backend: PlatformName) -> None:
    evidence = world.platform(backend).evidence(report_data_for(world.node_key_der, b"challenge 7"))

    claims = verify(world, evidence, nonce=b"challenge 7")

    assert claims.report_data == report_data_for(world.node_key_der, b"challenge 7")


def test_the_two_backends_write_different_reports(world: World) -> None:
    report_data = report_data_for(world.node_key_der)
    sgx = decode_evidence(world.platform(PlatformName.SGX_SIM).evidence(report_data))
    vbs = decode_evidence(world.platform(PlatformName.VBS_SIM).evidence(report_data))

    assert (sgx.platform, vbs.platform) == (PlatformName.SGX_SIM, PlatformName.VBS_SIM)
    assert sgx.report != vbs.report
    assert sgx.endorsements != vbs.endorsements


def test_report_data_must_be_64_bytes(world: World, backend: PlatformName) -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        world.platform(backend).evidence(bytes(REPORT_DATA_SIZE - 1))


# Forged or modified evidence


def test_a_flipped_report_byte_breaks_the_signature(world: World, backend: PlatformName) -> None:
    decoded = decode_evidence(world.platform(backend).evidence(report_data_for(world.node_key_der)))
    report = bytearray(decoded.report)
    report[-1] ^= 0x01  # the last byte of the report data
    tampered = encode_evidence(dataclasses.replace(decoded, report=bytes(report)))

    with pytest.raises(InvalidEvidenceSignature):
        verify(world, tampered)


def test_a_report_signed_by_an_uncertified_key_is_rejected(world: World, backend: PlatformName) -> None:
    # The forger copies a genuine endorsement but signs with its own key.
    genuine = world.machine.identities[backend]
    forger = world.attacker_machine.identities[backend]
    report = REPORT_FORMATS[backend].encode(
        TRUSTED_CODE, SECURITY_VERSION, report_data_for(world.node_key_der)
    )
    forged = dataclasses.replace(genuine, private_key=forger.private_key)

    with pytest.raises(InvalidEvidenceSignature):
        verify(world, signed_by(forged, backend, report))


def test_a_chain_to_an_unknown_root_is_rejected(world: World, backend: PlatformName) -> None:
    evidence = world.platform(backend, world.attacker_machine).evidence(report_data_for(world.node_key_der))

    with pytest.raises(UntrustedRoot):
        verify(world, evidence)


def test_a_backend_without_a_pinned_root_is_rejected(world: World, backend: PlatformName) -> None:
    evidence = world.platform(backend).evidence(report_data_for(world.node_key_der))
    only_other = TrustPolicy(
        roots={name: root for name, root in world.policy.roots.items() if name != backend},
        allowed_measurements=world.policy.allowed_measurements,
    )

    with pytest.raises(UntrustedRoot, match="no vendor root"):
        verify(world, evidence, policy=only_other)


def test_a_key_certified_by_the_other_backends_root_is_rejected(world: World, backend: PlatformName) -> None:
    other_backend = next(name for name in PlatformName if name != backend)
    other_identity = world.machine.identities[other_backend]
    # The other TEE's key pretends to be this backend's attestation key.
    impostor = dataclasses.replace(other_identity, platform=backend)
    machine = Machine("machine0", {backend: impostor}, world.machine.sealing_secret)
    evidence = open_platform(backend, machine, TRUSTED_CODE, world.rng.randbytes).evidence(
        report_data_for(world.node_key_der)
    )

    with pytest.raises(RootOfOtherPlatform):
        verify(world, evidence)


def test_an_endorsement_not_issued_by_the_next_certificate_is_rejected(
    world: World, backend: PlatformName
) -> None:
    decoded = decode_evidence(world.platform(backend).evidence(report_data_for(world.node_key_der)))
    # Two leaves: the second is no CA and did not issue the first.
    second_leaf = world.other_machine.identities[backend].certificate.public_bytes(Encoding.DER)
    broken = dataclasses.replace(decoded, endorsements=(*decoded.endorsements, second_leaf))

    with pytest.raises(InvalidEndorsementChain):
        verify(world, encode_evidence(broken))


def intermediate_ca(world: World, backend: PlatformName, *, is_ca: bool) -> VendorRoot:
    """A CA below the vendor root (as SGX's platform CA sits between the root and the PCK certificates)."""
    root = world.roots[backend]
    own = create_vendor_root(backend, now=PROVISIONED_AT, random_bytes=world.rng.randbytes)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string(f"CN=sealchain {backend} platform CA"))
        .issuer_name(root.certificate.subject)
        .public_key(own.private_key.public_key())
        .serial_number(7)
        .not_valid_before(own.certificate.not_valid_before_utc)
        .not_valid_after(own.certificate.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .sign(root.private_key, hashes.SHA384())
    )
    return VendorRoot(backend, own.private_key, certificate)


def evidence_through(world: World, intermediate: VendorRoot) -> bytes:
    identity = certify_identity(
        intermediate, "machine9", now=PROVISIONED_AT, random_bytes=world.rng.randbytes
    )
    report = REPORT_FORMATS[intermediate.platform].encode(
        TRUSTED_CODE, SECURITY_VERSION, report_data_for(world.node_key_der)
    )
    return signed_by(identity, intermediate.platform, report, intermediates=(intermediate.certificate,))


def test_a_chain_through_an_intermediate_ca_verifies(world: World, backend: PlatformName) -> None:
    evidence = evidence_through(world, intermediate_ca(world, backend, is_ca=True))

    assert verify(world, evidence).measurement == TRUSTED_CODE


def test_an_intermediate_that_is_not_a_ca_is_rejected(world: World, backend: PlatformName) -> None:
    evidence = evidence_through(world, intermediate_ca(world, backend, is_ca=False))

    with pytest.raises(InvalidEndorsementChain):
        verify(world, evidence)


def test_nodes_on_different_backends_attest_each_other_with_fresh_nonces(world: World) -> None:
    """DESIGN.md section 4: the joiner checks the service's node, and the service checks the joiner."""
    joiner = world.platform(PlatformName.SGX_SIM, world.machine)
    responder = world.platform(PlatformName.VBS_SIM, world.other_machine)
    joiner_key, responder_key = world.node_key_der, world.other_key_der

    # Each side challenges the other with a nonce of its own and binds its own identity key.
    joiner_evidence = joiner.evidence(report_data_for(joiner_key, b"nonce from the responder"))
    responder_evidence = responder.evidence(report_data_for(responder_key, b"nonce from the joiner"))

    seen_by_responder = verify(world, joiner_evidence, key_der=joiner_key, nonce=b"nonce from the responder")
    seen_by_joiner = verify(world, responder_evidence, key_der=responder_key, nonce=b"nonce from the joiner")
    assert (seen_by_responder.platform, seen_by_joiner.platform) == (
        PlatformName.SGX_SIM,
        PlatformName.VBS_SIM,
    )
    # Played back to the other side, neither is accepted: wrong key and wrong nonce.
    with pytest.raises(ReportDataMismatch):
        verify(world, responder_evidence, key_der=joiner_key, nonce=b"nonce from the joiner")
    with pytest.raises(NonceMismatch):
        verify(world, joiner_evidence, key_der=joiner_key, nonce=b"nonce from the joiner")


# Policy


def test_a_measurement_not_on_the_allow_list_is_rejected(world: World, backend: PlatformName) -> None:
    evidence = world.platform(backend, measurement=OTHER_CODE).evidence(report_data_for(world.node_key_der))

    with pytest.raises(MeasurementNotAllowed):
        verify(world, evidence)


def test_the_allow_list_is_a_plain_value_governance_can_extend(world: World, backend: PlatformName) -> None:
    evidence = world.platform(backend, measurement=OTHER_CODE).evidence(report_data_for(world.node_key_der))
    extended = dataclasses.replace(world.policy, allowed_measurements=frozenset({TRUSTED_CODE, OTHER_CODE}))

    assert verify(world, evidence, policy=extended)


def test_a_security_version_below_the_minimum_is_rejected(world: World, backend: PlatformName) -> None:
    evidence = world.platform(backend).evidence(report_data_for(world.node_key_der))
    stricter = dataclasses.replace(world.policy, min_security_version=SECURITY_VERSION + 1)

    with pytest.raises(SecurityVersionTooLow):
        verify(world, evidence, policy=stricter)


def test_evidence_replayed_by_another_node_is_rejected(world: World, backend: PlatformName) -> None:
    # A node presents evidence it captured from the genuine node, while proving its own key.
    evidence = world.platform(backend).evidence(report_data_for(world.node_key_der))

    with pytest.raises(ReportDataMismatch):
        verify(world, evidence, key_der=world.other_key_der)


def test_evidence_for_another_nonce_is_rejected(world: World, backend: PlatformName) -> None:
    stale = world.platform(backend).evidence(report_data_for(world.node_key_der, b"yesterday's challenge"))

    with pytest.raises(NonceMismatch):
        verify(world, stale, nonce=b"today's challenge")


def test_evidence_without_a_nonce_fails_a_verifier_that_sent_one(world: World, backend: PlatformName) -> None:
    evidence = world.platform(backend).evidence(report_data_for(world.node_key_der))

    with pytest.raises(NonceMismatch):
        verify(world, evidence, nonce=b"challenge")


# Certificate validity


@pytest.mark.parametrize(
    "at",
    [
        PROVISIONED_AT - CLOCK_SKEW_ALLOWANCE - timedelta(seconds=1),
        PROVISIONED_AT + MACHINE_VALIDITY + timedelta(seconds=1),
    ],
    ids=["not-yet-valid", "expired"],
)
def test_a_certificate_outside_its_validity_is_rejected(
    world: World, backend: PlatformName, at: datetime
) -> None:
    evidence = world.platform(backend).evidence(report_data_for(world.node_key_der))

    with pytest.raises(CertificateNotValidAt):
        verify(world, evidence, at=at)


def test_the_verification_time_must_be_timezone_aware(world: World, backend: PlatformName) -> None:
    evidence = world.platform(backend).evidence(report_data_for(world.node_key_der))

    with pytest.raises(ValueError, match="timezone-aware"):
        verify(world, evidence, at=VERIFIED_AT.replace(tzinfo=None))


# Formats and versions


def test_an_unknown_evidence_version_is_rejected(world: World, backend: PlatformName) -> None:
    evidence = world.platform(backend).evidence(report_data_for(world.node_key_der))
    version_2 = EVIDENCE_MAGIC + (2).to_bytes(2, "big") + evidence[len(EVIDENCE_MAGIC) + 2 :]

    with pytest.raises(UnsupportedEvidenceVersion):
        verify(world, version_2)


def test_an_unknown_report_version_is_rejected_even_when_signed(world: World, backend: PlatformName) -> None:
    report = bytearray(
        REPORT_FORMATS[backend].encode(TRUSTED_CODE, SECURITY_VERSION, report_data_for(world.node_key_der))
    )
    version_field = {PlatformName.SGX_SIM: 1, PlatformName.VBS_SIM: 4}[backend]  # last byte of the version
    report[version_field] = 2

    with pytest.raises(UnsupportedEvidenceVersion):
        verify(world, signed_by(world.machine.identities[backend], backend, bytes(report)))


def test_an_unknown_platform_name_is_rejected(world: World) -> None:
    evidence = world.platform(PlatformName.SGX_SIM).evidence(report_data_for(world.node_key_der))
    renamed = evidence.replace(b"sgx-sim", b"tdx-sim", 1)

    with pytest.raises(UnknownPlatform):
        verify(world, renamed)


def test_trailing_bytes_are_rejected(world: World, backend: PlatformName) -> None:
    evidence = world.platform(backend).evidence(report_data_for(world.node_key_der))

    with pytest.raises(MalformedEvidence, match="trailing"):
        verify(world, evidence + b"\0")


def test_truncated_evidence_is_rejected(world: World, backend: PlatformName) -> None:
    evidence = world.platform(backend).evidence(report_data_for(world.node_key_der))

    with pytest.raises(MalformedEvidence, match="truncated"):
        verify(world, evidence[:-1])


def test_a_signed_sgx_quote_of_another_enclave_author_is_rejected(world: World) -> None:
    other_author = bytes(32)
    quote = SgxQuote(1, SECURITY_VERSION, TRUSTED_CODE, other_author, report_data_for(world.node_key_der))
    identity = world.machine.identities[PlatformName.SGX_SIM]

    with pytest.raises(ForeignEnclave):
        verify(world, signed_by(identity, PlatformName.SGX_SIM, encode_quote(quote)))


def test_a_signed_vbs_report_from_the_normal_world_is_rejected(world: World) -> None:
    report = VbsReport(0, SECURITY_VERSION, TRUSTED_CODE, IMAGE_ID, report_data_for(world.node_key_der))
    identity = world.machine.identities[PlatformName.VBS_SIM]

    with pytest.raises(ForeignEnclave, match="VTL 0"):
        verify(world, signed_by(identity, PlatformName.VBS_SIM, encode_vbs_report(report)))
