"""Service and node identities carry what CCF's certificate checks need."""

from __future__ import annotations

import hashlib
import random

import ccf.receipt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from enclave.crypto.certs import (
    CertificateFormatError,
    certificate_pem,
    is_endorsed_by,
    load_certificate_pem,
)
from enclave.crypto.identity import ServiceIdentity
from enclave.crypto.ids import member_id_of, node_id_of
from enclave.crypto.keys import (
    IdentityKey,
    KeyFormatError,
    identity_key_from_entropy,
    load_private_key_pem,
    private_key_pem,
    public_key_der,
    sign_digest,
    verify_digest,
)
from tests.enclave.ledger.ledger_scenario import NOT_AFTER, NOT_BEFORE


def service(seed: int) -> ServiceIdentity:
    return ServiceIdentity.create(
        random.Random(seed).randbytes(64), not_before=NOT_BEFORE, not_after=NOT_AFTER
    )


def node_key(seed: int) -> IdentityKey:
    return identity_key_from_entropy(random.Random(seed).randbytes(64))


def test_keys_are_p384_and_derived_from_the_entropy_given() -> None:
    entropy = random.Random(7).randbytes(64)
    key = identity_key_from_entropy(entropy)
    assert key.curve.name == "secp384r1"
    assert public_key_der(identity_key_from_entropy(entropy).public_key()) == public_key_der(key.public_key())
    assert load_private_key_pem(private_key_pem(key).encode()).private_numbers() == key.private_numbers()


def test_too_little_entropy_is_refused() -> None:
    with pytest.raises(KeyFormatError):
        identity_key_from_entropy(bytes(32))


def test_service_certificate_is_a_self_signed_ca() -> None:
    cert = service(1).cert
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and usage.digital_signature
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert cert.signature_hash_algorithm is not None and cert.signature_hash_algorithm.name == "sha384"
    assert is_endorsed_by(cert, cert)


def test_node_certificate_is_endorsed_by_its_service_and_passes_ccf_chain_checks() -> None:
    svc = service(1)
    node = svc.endorse(
        node_key(2), ["127.0.0.1", "node0.example"], not_before=NOT_BEFORE, not_after=NOT_AFTER
    )
    assert not node.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    san = node.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(n.value) for n in san] == ["127.0.0.1", "node0.example"]
    assert is_endorsed_by(node.cert, svc.cert)
    ccf.receipt.check_endorsements(node.cert, svc.cert, [])
    ccf.receipt.check_cert_chain(node.cert, svc.cert, [])


def test_a_node_of_another_service_is_not_endorsed() -> None:
    node = service(1).endorse(node_key(2), ["127.0.0.1"], not_before=NOT_BEFORE, not_after=NOT_AFTER)
    assert not is_endorsed_by(node.cert, service(3).cert)


def test_ids_are_ccf_digests() -> None:
    svc = service(1)
    node = svc.endorse(node_key(2), ["127.0.0.1"], not_before=NOT_BEFORE, not_after=NOT_AFTER)
    spki = node.key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert node.node_id == node_id_of(node.key.public_key()) == hashlib.sha256(spki).hexdigest()
    der = svc.cert.public_bytes(serialization.Encoding.DER)
    assert member_id_of(svc.cert) == hashlib.sha256(der).hexdigest()


def test_root_signatures_verify_only_for_the_signed_digest() -> None:
    key = identity_key_from_entropy(random.Random(5).randbytes(64))
    root = hashlib.sha256(b"root").digest()
    signature = sign_digest(key, root)
    assert verify_digest(key.public_key(), root, signature)
    assert not verify_digest(key.public_key(), hashlib.sha256(b"other").digest(), signature)


def test_certificate_pem_round_trips_and_garbage_is_a_format_error() -> None:
    cert = service(1).cert
    assert load_certificate_pem(certificate_pem(cert).encode()) == cert
    with pytest.raises(CertificateFormatError):
        load_certificate_pem(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")


def test_a_certificate_whose_key_algorithm_is_corrupted_is_a_format_error() -> None:
    der = service(1).cert.public_bytes(serialization.Encoding.DER)
    ec_public_key_oid = bytes.fromhex("06072a8648ce3d0201")  # id-ecPublicKey
    assert ec_public_key_oid in der
    corrupted = der.replace(ec_public_key_oid, ec_public_key_oid[:-1] + b"\x09", 1)
    pem = x509.load_der_x509_certificate(corrupted).public_bytes(serialization.Encoding.PEM)
    with pytest.raises(CertificateFormatError):
        load_certificate_pem(pem)
