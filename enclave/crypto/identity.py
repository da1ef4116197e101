"""The identities an enclave holds: the service's (genesis node, or after recovery) and the node's own."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509

from enclave.crypto.certs import certificate_pem, endorse_node_certificate, service_certificate
from enclave.crypto.ids import NodeId, node_id_of
from enclave.crypto.keys import IdentityKey, identity_key_from_entropy


@dataclass(frozen=True, slots=True)
class ServiceIdentity:
    """The service key and its self-signed CA certificate: what receipts and node endorsements chain to."""

    key: IdentityKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> str:
        return certificate_pem(self.cert)

    @classmethod
    def create(cls, entropy: bytes, *, not_before: datetime, not_after: datetime) -> ServiceIdentity:
        key = identity_key_from_entropy(entropy)
        return cls(key, service_certificate(key, not_before=not_before, not_after=not_after))

    def endorse(
        self,
        node_key: IdentityKey,
        subject_alt_names: list[str],
        *,
        not_before: datetime,
        not_after: datetime,
    ) -> NodeIdentity:
        """A node identity whose certificate this service endorses."""
        cert = endorse_node_certificate(
            node_key.public_key(),
            service_key=self.key,
            service_cert=self.cert,
            subject_alt_names=subject_alt_names,
            not_before=not_before,
            not_after=not_after,
        )
        return NodeIdentity(node_key, cert)


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """A node's identity key and its service-endorsed certificate: what signs signature transactions."""

    key: IdentityKey
    cert: x509.Certificate
    node_id: NodeId = field(init=False)

    def __post_init__(self) -> None:
        # Derived once: every signature transaction names it (hashing the key's DER there was 1.6% of a
        # primary's enclave time under load, docs/performance.md).
        object.__setattr__(self, "node_id", node_id_of(self.key.public_key()))

    @property
    def cert_pem(self) -> str:
        return certificate_pem(self.cert)
