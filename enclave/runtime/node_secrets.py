"""What a node keeps across restarts without the network (DESIGN.md section 4.5): its identity key and
certificate, the service identity, the ledger secrets and the key of its sealed LMDB state, sealed with the
platform's sealing key (bound to this measurement on this machine) under the context `SEALING_CONTEXT`.

Encoded (before sealing) with the strict msgpack codec, versioned; the host only ever sees the sealed blob.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, cast

from enclave.crypto.certs import load_certificate_pem
from enclave.crypto.identity import NodeIdentity, ServiceIdentity
from enclave.crypto.keys import IdentityKey, KeyFormatError, load_private_key_pem, private_key_pem
from enclave.ledger.ledger_secrets import LedgerSecret, LedgerSecrets
from enclave.platform.api import Platform
from enclave.runtime.errors import MalformedSecrets
from enclave.runtime.wire_codec import MessageCodec, pack

SEALING_CONTEXT: Final = b"sealchain node secrets v1"
SECRETS_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class LedgerSecretVersion:
    from_seqno: int
    key: bytes


@dataclass(frozen=True, slots=True)
class _SecretsV1:
    node_key_pem: str
    node_cert_pem: str
    service_key_pem: str
    service_cert_pem: str
    ledger_secrets: tuple[LedgerSecretVersion, ...]
    state_key: bytes
    genesis_node_id: str


_CODEC: Final = MessageCodec((_SecretsV1, LedgerSecretVersion), MalformedSecrets)


@dataclass(frozen=True, slots=True)
class NodeSecrets:
    """Everything secret a node holds; `genesis_node_id` is the Raft configuration at index 0."""

    node: NodeIdentity
    service: ServiceIdentity
    ledger_secrets: LedgerSecrets
    state_key: bytes
    genesis_node_id: str

    def __repr__(self) -> str:
        return f"NodeSecrets(node={self.node.node_id}, <sealed>)"

    def seal(self, platform: Platform) -> bytes:
        plain = _SecretsV1(
            node_key_pem=private_key_pem(self.node.key),
            node_cert_pem=self.node.cert_pem,
            service_key_pem=private_key_pem(self.service.key),
            service_cert_pem=self.service.cert_pem,
            ledger_secrets=tuple(
                LedgerSecretVersion(start, secret.key) for start, secret in self.ledger_secrets.versions()
            ),
            state_key=self.state_key,
            genesis_node_id=self.genesis_node_id,
        )
        return platform.seal(pack([SECRETS_VERSION, _CODEC.encode(plain)]), SEALING_CONTEXT)

    @classmethod
    def unseal(cls, platform: Platform, blob: bytes) -> NodeSecrets:
        """Raises the platform's `UnsealError` (other machine, other code, tampered) or `MalformedSecrets`."""
        envelope = _CODEC.unpack(platform.unseal(blob, SEALING_CONTEXT))
        if not isinstance(envelope, list) or len(envelope) != 2 or envelope[0] != SECRETS_VERSION:
            raise MalformedSecrets(f"sealed secrets of another format (version {SECRETS_VERSION} expected)")
        plain = cast(_SecretsV1, _CODEC.decode(envelope[1], (_SecretsV1,), "secrets"))
        try:
            secrets = LedgerSecrets()
            for version in plain.ledger_secrets:
                secrets.add(version.from_seqno, LedgerSecret(version.key))
            return cls(
                NodeIdentity(_key(plain.node_key_pem), load_certificate_pem(plain.node_cert_pem.encode())),
                ServiceIdentity(
                    _key(plain.service_key_pem), load_certificate_pem(plain.service_cert_pem.encode())
                ),
                secrets,
                plain.state_key,
                plain.genesis_node_id,
            )
        except ValueError as exc:
            raise MalformedSecrets(f"sealed secrets do not parse: {exc}") from None


def _key(pem: str) -> IdentityKey:
    try:
        return load_private_key_pem(pem.encode())
    except KeyFormatError as exc:
        raise MalformedSecrets(str(exc)) from None
