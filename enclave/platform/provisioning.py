"""Provisioning for local use: simulated vendor roots and each machine's attestation identity.

Real TEEs get these from the vendor (Intel's PCK certificates, the hypervisor's signing key); the
simulation makes them here, as pure functions of an injected time and randomness: certificates are
signed with RFC 6979 deterministic ECDSA, so a seeded `random.Random` gives the same roots every time.
The host writes them to disk (node/platform_files.py); `sealchain platform init` and `provision` drive it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from enclave.crypto.keys import MIN_ENTROPY_BYTES, identity_key_from_entropy
from enclave.platform.api import PlatformName, RandomBytes
from enclave.platform.sealing import SEALING_SECRET_SIZE

ROOT_VALIDITY = timedelta(days=10 * 365)
MACHINE_VALIDITY = timedelta(days=2 * 365)
# Certificates start this long before `now`, so a verifier whose clock is a little behind accepts them.
CLOCK_SKEW_ALLOWANCE = timedelta(minutes=10)
# A machine name becomes a directory name and part of a certificate subject: keep it plain.
MACHINE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
MACHINE_NAME_RULE = "letters, digits, '.', '_' or '-', starting with a letter or digit, at most 63"
_ORGANIZATION = "sealchain simulation"
_KEY_ROLE = {
    PlatformName.SGX_SIM: "attestation key",
    PlatformName.VBS_SIM: "hypervisor signing key",
}


@dataclass(frozen=True, slots=True)
class VendorRoot:
    """A simulated TEE vendor's root CA (Intel's SGX root, the hypervisor vendor's root)."""

    platform: PlatformName
    private_key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


@dataclass(frozen=True, slots=True)
class AttestationIdentity:
    """One machine's report-signing key for one platform, certified by that platform's vendor root."""

    platform: PlatformName
    private_key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


@dataclass(frozen=True, slots=True)
class Machine:
    """A simulated machine: an identity per platform and the secret its sealing keys derive from."""

    name: str
    identities: Mapping[PlatformName, AttestationIdentity]
    sealing_secret: bytes


def create_vendor_root(
    platform: PlatformName, *, now: datetime, random_bytes: RandomBytes, validity: timedelta = ROOT_VALIDITY
) -> VendorRoot:
    key = identity_key_from_entropy(random_bytes(MIN_ENTROPY_BYTES))
    name = _name(f"sealchain {platform} simulated vendor root CA")
    builder = (
        _builder(name, name, key.public_key(), now=now, validity=validity, random_bytes=random_bytes)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(certificate_signing=True), critical=True)
    )
    return VendorRoot(platform, key, builder.sign(key, hashes.SHA384(), ecdsa_deterministic=True))


def create_vendor_roots(*, now: datetime, random_bytes: RandomBytes) -> dict[PlatformName, VendorRoot]:
    """One root per backend (`sealchain platform init`)."""
    return {name: create_vendor_root(name, now=now, random_bytes=random_bytes) for name in PlatformName}


def certify_identity(
    root: VendorRoot,
    machine_name: str,
    *,
    now: datetime,
    random_bytes: RandomBytes,
    validity: timedelta = MACHINE_VALIDITY,
) -> AttestationIdentity:
    """A new report-signing key for `machine_name`, with a certificate from `root`."""
    key = identity_key_from_entropy(random_bytes(MIN_ENTROPY_BYTES))
    subject = _name(f"{machine_name} {root.platform} {_KEY_ROLE[root.platform]}")
    builder = (
        _builder(
            subject,
            root.certificate.subject,
            key.public_key(),
            now=now,
            validity=validity,
            random_bytes=random_bytes,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(certificate_signing=False), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root.private_key.public_key()), critical=False
        )
    )
    return AttestationIdentity(
        root.platform, key, builder.sign(root.private_key, hashes.SHA384(), ecdsa_deterministic=True)
    )


def provision_machine(
    name: str,
    roots: Mapping[PlatformName, VendorRoot],
    *,
    now: datetime,
    random_bytes: RandomBytes,
    validity: timedelta = MACHINE_VALIDITY,
) -> Machine:
    """A machine's identity for every platform in `roots`, and its sealing secret."""
    if not MACHINE_NAME.fullmatch(name):
        raise ValueError(f"machine name {name!r}: {MACHINE_NAME_RULE}")
    identities = {
        platform: certify_identity(root, name, now=now, random_bytes=random_bytes, validity=validity)
        for platform, root in roots.items()
    }
    return Machine(name, identities, random_bytes(SEALING_SECRET_SIZE))


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANIZATION),
        ]
    )


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    *,
    now: datetime,
    validity: timedelta,
    random_bytes: RandomBytes,
) -> x509.CertificateBuilder:
    if now.tzinfo is None:
        raise ValueError("certificate times must be timezone-aware")
    # RFC 5280 4.1.2.2: a positive serial of at most 20 bytes; 127 random bits, never zero.
    serial = (int.from_bytes(random_bytes(16), "big") >> 1) | 1
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(now - CLOCK_SKEW_ALLOWANCE)
        .not_valid_after(now + validity)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(*, certificate_signing: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not certificate_signing,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=certificate_signing,
        crl_sign=certificate_signing,
        encipher_only=False,
        decipher_only=False,
    )
