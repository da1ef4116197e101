"""A small service's ledger built with the real writer (shared by ledger, file, CLI and CCF tests)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from enclave.crypto.identity import NodeIdentity, ServiceIdentity
from enclave.crypto.keys import identity_key_from_entropy
from enclave.kv.write_set import MapWrites, WriteSet
from enclave.ledger.ledger_secrets import LedgerSecret, LedgerSecrets
from enclave.ledger.signatures import SignaturePolicy
from enclave.ledger.tables import ServiceStatus, genesis_write_set, service_info_writes
from enclave.ledger.writer import AppendedEntry, LedgerWriter
from node.ledger_files import FsyncPolicy, LedgerFiles

PUBLIC_MAP = "public:records"
PRIVATE_MAP = "records"
# Validity around the real time: CCF's check_cert_chain verifies certificates at the current time.
NOT_BEFORE = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
NOT_AFTER = NOT_BEFORE + timedelta(days=365)


def secret_value(i: int) -> bytes:
    """A 100-byte private value whose plaintext must never appear in ledger files."""
    return f"TOP-SECRET-{i:06d}-".encode().ljust(100, b"#")


def public_value(i: int) -> bytes:
    return f"public-value-{i:06d}".encode()


def transaction(i: int) -> WriteSet:
    key = f"key-{i:06d}".encode()
    return WriteSet(
        {
            PUBLIC_MAP: MapWrites(writes={key: public_value(i)}),
            PRIVATE_MAP: MapWrites(writes={key: secret_value(i)}),
        }
    )


@dataclass
class Service:
    """One service identity, one node it endorses, one ledger secret."""

    service: ServiceIdentity
    node: NodeIdentity
    secret: LedgerSecret
    secrets: LedgerSecrets = field(init=False)

    def __post_init__(self) -> None:
        self.secrets = LedgerSecrets.single(self.secret)

    @classmethod
    def create(cls, seed: int) -> Service:
        rng = random.Random(seed)
        service = ServiceIdentity.create(rng.randbytes(64), not_before=NOT_BEFORE, not_after=NOT_AFTER)
        node_key = identity_key_from_entropy(rng.randbytes(64))
        node = service.endorse(node_key, ["127.0.0.1"], not_before=NOT_BEFORE, not_after=NOT_AFTER)
        return cls(service, node, LedgerSecret(rng.randbytes(32)))

    def writer(self, policy: SignaturePolicy) -> LedgerWriter:
        return LedgerWriter(self.node, self.secrets, policy, now_ms=0)


def build_entries(
    service: Service, transactions: int, policy: SignaturePolicy, term: int = 2
) -> tuple[LedgerWriter, list[AppendedEntry]]:
    """Genesis (Opening), a signature, the service opening, then `transactions` application writes with
    signatures as the policy asks (time advancing 1 ms per transaction), ending on a signature."""
    writer = service.writer(policy)
    entries = [writer.append(genesis_write_set(service.service.cert_pem, service.node), term)]
    entries.append(writer.sign(now_ms=0))
    entries.append(
        writer.append(WriteSet(service_info_writes(service.service.cert_pem, ServiceStatus.OPEN)), term)
    )
    for i in range(transactions):
        entries.append(writer.append(transaction(i), term))
        signature = writer.maybe_sign(now_ms=i + 1)
        if signature is not None:
            entries.append(signature)
    if writer.unsigned_transactions:
        entries.append(writer.sign(now_ms=transactions + 1))
    return writer, entries


def write_files(directory: Path, entries: list[AppendedEntry], chunk_size: int, commit: bool = True) -> None:
    files = LedgerFiles(directory, chunk_size=chunk_size, fsync=FsyncPolicy.NEVER)
    for entry in entries:
        files.append(entry.txid.seqno, entry.raw, entry.committable)
    if commit:
        files.commit(files.last_seqno)
    files.close()
