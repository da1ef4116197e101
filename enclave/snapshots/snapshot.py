"""Taking a snapshot on the primary and opening one on a node that starts from it (CCF's snapshots).

The primary takes a snapshot of the committed state at its ledger commit (always a signature
transaction), then writes an *evidence* transaction whose claims digest is SHA-256 of the snapshot body
(and which records that digest and seqno in `public:ccf.internal.snapshot_evidence`). Once the evidence
is committed, its receipt proves the body to anyone holding the service certificate: that is the
snapshot file a joining or far-behind node starts from. Opening checks, in order: the file's framing,
the receipt against the service certificate, that the receipt's claims digest is the body's digest,
the body's framing, that the evidence follows the snapshot, and the private state's GCM tag. Anything
else raises `SnapshotRejected` and nothing is restored.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace

from cryptography import x509
from cryptography.exceptions import InvalidTag

from consensus import Configuration
from enclave.governance.tables import SNAPSHOT_REQUESTS
from enclave.kv.committed_state import CommittedState, SnapshotFormatError, decode_snapshot, encode_snapshot
from enclave.kv.transaction import Transaction
from enclave.kv.write_set import MapWrites, WriteSet, is_public_map
from enclave.ledger.ledger_secrets import LedgerSecret, LedgerSecretError, LedgerSecrets
from enclave.ledger.receipts import Receipt, ReceiptFormatError, ReceiptInvalidError, verify_receipt
from enclave.ledger.tables import SINGLETON_KEY
from enclave.ledger.txid import TxId
from enclave.snapshots.format import SnapshotBody, SnapshotFile
from enclave.snapshots.tree import TreeState

# CCF's map: the digest and seqno of the last snapshot, written by its evidence transaction.
SNAPSHOT_EVIDENCE = "public:ccf.internal.snapshot_evidence"


class SnapshotRejected(ValueError):
    """A snapshot that must not be started from: malformed, unproven, forged, tampered or stale."""


@dataclass(frozen=True, slots=True)
class ProvenSnapshot:
    """A snapshot file whose receipt proves its body: the body, the evidence transaction, the public maps."""

    body: SnapshotBody
    evidence: TxId
    public: CommittedState


@dataclass(frozen=True, slots=True)
class OpenedSnapshot:
    """A snapshot that passed every check: its body, the evidence transaction proving it, the state."""

    body: SnapshotBody
    evidence: TxId
    state: CommittedState

    @property
    def tree(self) -> TreeState:
        return TreeState(self.body.tree_frontier, self.body.last_leaf, self.body.view_history)


def map_writes(state: CommittedState, map_name: str) -> MapWrites | None:
    """A map of a snapshot's state as the writes that would rebuild it (None: the map is empty)."""
    keys = state.maps.get(map_name)
    return None if keys is None else MapWrites(writes={key: value.value for key, value in keys.items()})


def take_snapshot(
    state: CommittedState, view: int, tree: TreeState, configuration: Configuration, secret: LedgerSecret
) -> SnapshotBody:
    """The body of a snapshot of `state` (committed at a signature transaction in `view`)."""
    public = {name: keys for name, keys in state.maps.items() if is_public_map(name)}
    private = {name: keys for name, keys in state.maps.items() if not is_public_map(name)}
    body = SnapshotBody(
        seqno=state.version,
        view=view,
        view_history=tree.view_history,
        voters=tuple(sorted(configuration.voters)),
        learners=tuple(sorted(configuration.learners)),
        tree_frontier=tree.frontier,
        last_leaf=tree.last_leaf,
        public_state=encode_snapshot(CommittedState(state.version, public)),
        private_state=b"",
    )
    plaintext = encode_snapshot(CommittedState(state.version, private))
    return replace(body, private_state=secret.aead.encrypt(body.private_iv(), plaintext, body.private_aad()))


def evidence_write_set(body: bytes, seqno: int, request_key: bytes | None = None) -> tuple[WriteSet, bytes]:
    """The evidence transaction's write set and its claims digest (SHA-256 of the body); it removes
    the governance request (`trigger_snapshot`) the snapshot carries out, if any, so each request
    snapshots once."""
    digest = hashlib.sha256(body).digest()
    record = json.dumps({"hash": digest.hex(), "version": seqno}, sort_keys=True).encode()
    maps = {SNAPSHOT_EVIDENCE: MapWrites(writes={SINGLETON_KEY: record})}
    if request_key is not None:
        maps[SNAPSHOT_REQUESTS] = MapWrites(removals=frozenset({request_key}))
    return WriteSet(maps), digest


def pending_request(tx: Transaction) -> bytes | None:
    """The key of a committed `trigger_snapshot` request not yet carried out (oldest first)."""
    requests = tx.scan(SNAPSHOT_REQUESTS, limit=1)
    return requests[0][0] if requests else None


def last_snapshot_seqno(tx: Transaction) -> int:
    """The seqno of the last snapshot whose evidence `tx` sees (0: none)."""
    record = tx.get(SNAPSHOT_EVIDENCE, SINGLETON_KEY)
    if record is None:
        return 0
    version: int = json.loads(record)["version"]
    return version


def prove_snapshot(data: bytes, service_cert: x509.Certificate) -> ProvenSnapshot:
    """The body and public state of a snapshot file whose receipt proves it (checks up to the private
    state: what an auditor without ledger secrets can check)."""
    try:
        snapshot_file = SnapshotFile.decode(data)
        receipt = Receipt.from_json(json.loads(snapshot_file.receipt_json))
    except (SnapshotFormatError, ReceiptFormatError, ValueError) as exc:
        raise SnapshotRejected(f"not a snapshot file: {exc}") from None
    try:
        evidence = verify_receipt(receipt, service_cert)
    except ReceiptInvalidError as exc:
        raise SnapshotRejected(f"the snapshot's receipt does not verify: {exc}") from None
    if receipt.claims_digest != hashlib.sha256(snapshot_file.body).digest():
        raise SnapshotRejected(f"the receipt of {evidence} does not prove this snapshot: its digest differs")
    try:
        body = SnapshotBody.decode(snapshot_file.body)
        public = decode_snapshot(body.public_state)
    except SnapshotFormatError as exc:
        raise SnapshotRejected(f"the snapshot body is malformed: {exc}") from None
    if evidence.seqno <= body.seqno:
        raise SnapshotRejected(f"evidence {evidence} does not follow the snapshot at {body.seqno}")
    if public.version != body.seqno or not all(is_public_map(name) for name in public.maps):
        raise SnapshotRejected(f"the snapshot's public state is not the public maps at {body.seqno}")
    return ProvenSnapshot(body, evidence, public)


def open_snapshot(data: bytes, service_cert: x509.Certificate, secrets: LedgerSecrets) -> OpenedSnapshot:
    """The checked contents of a snapshot file, private state included (see the module docstring)."""
    return open_proven(prove_snapshot(data, service_cert), secrets)


def open_proven(proven: ProvenSnapshot, secrets: LedgerSecrets) -> OpenedSnapshot:
    """A proven snapshot with its private state decrypted and checked (a node may first learn the
    ledger secret of the snapshot's seqno from its public state: rekey.py)."""
    body = proven.body
    try:
        secret = secrets.secret_for(body.seqno)
        private = decode_snapshot(
            secret.aead.decrypt(body.private_iv(), body.private_state, body.private_aad())
        )
    except LedgerSecretError as exc:
        raise SnapshotRejected(f"no ledger secret opens the snapshot at {body.seqno}: {exc}") from None
    except InvalidTag:
        raise SnapshotRejected(f"the snapshot at {body.seqno}: its private state fails its GCM tag") from None
    except SnapshotFormatError as exc:
        raise SnapshotRejected(f"the snapshot's private state is malformed: {exc}") from None
    if private.version != body.seqno or any(is_public_map(name) for name in private.maps):
        raise SnapshotRejected(f"the snapshot's private state is not the private maps at {body.seqno}")
    return OpenedSnapshot(
        body, proven.evidence, CommittedState(body.seqno, {**proven.public.maps, **private.maps})
    )
