"""The join protocol with mutual attestation (DESIGN.md section 4.3), both sides, as pure functions.

Service side (the primary): `verify_join_request` checks the request's signature by the joiner's identity
key and its evidence against the pinned vendor roots and the allowed measurements (the code ids in the
governance map); `accepted_response` answers a trusted node with the primary's own evidence, the
certificates and the secrets encrypted to the joiner's key.

Joiner side: `join_request` builds the request; `verify_join_response` trusts nothing in an accepted
response before the responder's evidence verifies (same vendor roots, the joiner's own measurement or one
its operator trusts, bound to the responder's key and the joiner's nonce) and both certificates are
endorsed by the service certificate the operator gave the joiner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509

from enclave.crypto.certs import (
    CertificateFormatError,
    certificate_pem,
    certificate_public_key,
    endorse_node_certificate,
    is_endorsed_by,
    load_certificate_pem,
)
from enclave.crypto.identity import NodeIdentity, ServiceIdentity
from enclave.crypto.ids import NodeId, node_id_of
from enclave.crypto.keys import (
    IdentityKey,
    KeyFormatError,
    PublicKey,
    load_private_key_pem,
    private_key_pem,
    public_key_der,
    sign_digest,
    verify_digest,
)
from enclave.ledger.ledger_secrets import LedgerSecret, LedgerSecrets
from enclave.platform.api import Measurement, Platform, PlatformName, RandomBytes
from enclave.platform.errors import EvidenceRejected
from enclave.platform.evidence import decode_evidence
from enclave.platform.policy import TrustPolicy, report_data_for, verify_evidence
from enclave.runtime import join_wire
from enclave.runtime.errors import JoinRefused
from enclave.runtime.join_crypto import decrypt_with, encrypt_to, load_public_key_der
from enclave.runtime.join_wire import JoinAccepted, JoinRequest, TransferredSecrets
from enclave.runtime.node_secrets import LedgerSecretVersion

NODE_CERT_VALIDITY = timedelta(days=365)
JOIN_NONCE_SIZE = 32


def subject_alt_name(address: str) -> str:
    """The host part of "host:port": the SAN of the node certificate (CCF: the node's IP or DNS name)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise JoinRefused(f"not a host:port address: {address!r}")
    return host


# -- service side -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerifiedJoin:
    request: JoinRequest
    public_key: PublicKey
    node_id: NodeId


def verify_join_request(
    data: bytes,
    roots: Mapping[PlatformName, x509.Certificate],
    allowed: Mapping[PlatformName, frozenset[Measurement]],
    at: datetime,
) -> VerifiedJoin:
    """The request, if signed by its identity key and attested by code governance allows on the
    evidence's platform; else `JoinRefused`."""
    request = join_wire.decode_request(data)
    key = load_public_key_der(request.identity_public_key_der)
    if not verify_digest(key, request.signed_digest(), request.signature):
        raise JoinRefused("the join request is not signed by the identity key it presents")
    subject_alt_name(request.peer_address)
    subject_alt_name(request.client_address)
    try:
        platform = decode_evidence(request.evidence).platform
        verify_evidence(
            request.evidence,
            TrustPolicy(roots, allowed.get(platform, frozenset())),
            identity_public_key_der=request.identity_public_key_der,
            at=at,
        )
    except EvidenceRejected as exc:
        raise JoinRefused(f"evidence rejected: {type(exc).__name__}: {exc}") from None
    return VerifiedJoin(request, key, node_id_of(key))


def endorse_joiner(joiner: VerifiedJoin, service: ServiceIdentity, at: datetime) -> str:
    """The joiner's node certificate, issued by the service key (CCF's endorsed node certificate)."""
    names = sorted(
        {subject_alt_name(joiner.request.peer_address), subject_alt_name(joiner.request.client_address)}
    )
    cert = endorse_node_certificate(
        joiner.public_key,
        service_key=service.key,
        service_cert=service.cert,
        subject_alt_names=names,
        not_before=at,
        not_after=at + NODE_CERT_VALIDITY,
    )
    return certificate_pem(cert)


def accepted_response(
    joiner: VerifiedJoin,
    node_cert_pem: str,
    *,
    responder: NodeIdentity,
    responder_peer_address: str,
    service: ServiceIdentity,
    ledger_secrets: LedgerSecrets,
    genesis_node_id: str,
    platform: Platform,
    random_bytes: RandomBytes,
) -> bytes:
    responder_der = public_key_der(responder.key.public_key())
    evidence = platform.evidence(report_data_for(responder_der, joiner.request.nonce))
    secrets = TransferredSecrets(
        service_key_pem=private_key_pem(service.key),
        ledger_secrets=tuple(LedgerSecretVersion(start, s.key) for start, s in ledger_secrets.versions()),
    )
    ephemeral, ciphertext = encrypt_to(
        joiner.public_key, join_wire.encode(secrets), responder_der, random_bytes
    )
    return join_wire.encode(
        JoinAccepted(
            responder_public_key_der=responder_der,
            responder_evidence=evidence,
            responder_cert_pem=responder.cert_pem,
            responder_peer_address=responder_peer_address,
            service_cert_pem=service.cert_pem,
            node_cert_pem=node_cert_pem,
            genesis_node_id=genesis_node_id,
            ephemeral_public_key_der=ephemeral,
            encrypted_secrets=ciphertext,
        )
    )


# -- joiner side ------------------------------------------------------------------------------------------


def join_request(
    key: IdentityKey, platform: Platform, peer_address: str, client_address: str, nonce: bytes
) -> bytes:
    der = public_key_der(key.public_key())
    unsigned = JoinRequest(
        der, platform.evidence(report_data_for(der)), peer_address, client_address, nonce, b""
    )
    signature = sign_digest(key, unsigned.signed_digest())
    return join_wire.encode(
        JoinRequest(der, unsigned.evidence, peer_address, client_address, nonce, signature)
    )


@dataclass(frozen=True, slots=True)
class JoinedService:
    """What a joiner learnt from an accepted, verified response."""

    node: NodeIdentity
    service: ServiceIdentity
    ledger_secrets: LedgerSecrets
    genesis_node_id: str
    responder_id: NodeId
    responder_peer_address: str


def verify_join_response(
    response: JoinAccepted,
    *,
    key: IdentityKey,
    nonce: bytes,
    expected_service_cert: x509.Certificate,
    roots: Mapping[PlatformName, x509.Certificate],
    measurements: frozenset[Measurement],
    at: datetime,
) -> JoinedService:
    """Trust the response only if the responder is attested genuine code of the expected service."""
    try:
        service_cert = load_certificate_pem(response.service_cert_pem.encode())
        responder_cert = load_certificate_pem(response.responder_cert_pem.encode())
        node_cert = load_certificate_pem(response.node_cert_pem.encode())
    except CertificateFormatError as exc:
        raise JoinRefused(f"a certificate in the response does not parse: {exc}") from None
    if service_cert != expected_service_cert:
        raise JoinRefused("the responder belongs to another service than the expected one")
    if not is_endorsed_by(responder_cert, expected_service_cert):
        raise JoinRefused("the responder's certificate is not endorsed by the expected service")
    responder_key = load_public_key_der(response.responder_public_key_der)
    if public_key_der(certificate_public_key(responder_cert)) != response.responder_public_key_der:
        raise JoinRefused("the responder's evidence key is not its certificate's key")
    try:
        verify_evidence(
            response.responder_evidence,
            TrustPolicy(roots, measurements),
            identity_public_key_der=response.responder_public_key_der,
            nonce=nonce,
            at=at,
        )
    except EvidenceRejected as exc:
        raise JoinRefused(f"the responder's evidence is rejected: {type(exc).__name__}: {exc}") from None
    if not is_endorsed_by(node_cert, expected_service_cert):
        raise JoinRefused("our node certificate is not endorsed by the expected service")
    if public_key_der(certificate_public_key(node_cert)) != public_key_der(key.public_key()):
        raise JoinRefused("the node certificate is for another key")
    plaintext = decrypt_with(
        key, response.ephemeral_public_key_der, response.encrypted_secrets, response.responder_public_key_der
    )
    secrets = join_wire.decode_secrets(plaintext)
    try:
        service_key = load_private_key_pem(secrets.service_key_pem.encode())
        ledger_secrets = LedgerSecrets()
        for version in secrets.ledger_secrets:
            ledger_secrets.add(version.from_seqno, LedgerSecret(version.key))
    except (KeyFormatError, ValueError) as exc:
        raise JoinRefused(f"the transferred secrets do not parse: {exc}") from None
    if public_key_der(service_key.public_key()) != public_key_der(certificate_public_key(service_cert)):
        raise JoinRefused("the transferred service key is not the service certificate's key")
    return JoinedService(
        NodeIdentity(key, node_cert),
        ServiceIdentity(service_key, service_cert),
        ledger_secrets,
        response.genesis_node_id,
        node_id_of(responder_key),
        response.responder_peer_address,
    )
