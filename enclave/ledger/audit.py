"""Offline audit of a ledger (what `sealchain ledger verify` runs; CCF's `LedgerValidator` checks, and more).

Checked, entry by entry in seqno order: the framing (via `reading`), that terms never go back, the governance
tables (node status, endorsed certificates, legal service status transitions), and at every signature
transaction: the signing node is known and not Pending, its certificate is endorsed by the service
certificate, its signature covers the signed root, and that root is the Merkle root of every earlier entry.
When a root differs, the tree checkpoint in the signature entry (its leaves are covered by the signed root)
names the exact entry that was changed. Entries after the last signature are framed but not yet verifiable.

A ledger that starts after seqno 1 (a node that started from a snapshot at S holds seqnos S+1 on) is audited
from that snapshot: its receipt must prove it, and the auditor then holds what it would hold right after
checking the signature transaction S of the whole ledger (the tree, the view, the governance tables), so
every check after S is the same as for a whole ledger.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography import x509

from enclave.crypto.certs import (
    CertificateFormatError,
    certificate_pem,
    certificate_public_key,
    is_endorsed_by,
    load_certificate_pem,
)
from enclave.crypto.ids import NodeId, node_id_of
from enclave.crypto.keys import verify_digest
from enclave.kv.committed_state import CommittedState, SnapshotFormatError, decode_snapshot
from enclave.kv.write_set import MapWrites
from enclave.ledger.chunks import ChunkName
from enclave.ledger.entry import EntryFormatError, LedgerEntry, decode_entry
from enclave.ledger.merkle import ZERO_LEAF, CompactTree, leaf_digest
from enclave.ledger.reading import LedgerReadError, ledger_chunks, read_entries
from enclave.ledger.signatures import PrimarySignature, SignatureFormatError, TreeCheckpoint
from enclave.ledger.tables import (
    ENDORSED_NODE_CERTIFICATES,
    NODES_INFO,
    SERVICE_INFO,
    SIGNATURES,
    SINGLETON_KEY,
    TREE,
    NodeStatus,
    ServiceStatus,
    is_legal_service_transition,
)
from enclave.ledger.txid import TxId
from enclave.snapshots.format import SnapshotBody, SnapshotFile
from enclave.snapshots.snapshot import SnapshotRejected, prove_snapshot

# The seqno of an `AuditFailure` of the snapshot itself: it comes before every entry of the ledger.
SNAPSHOT_FAILURE_SEQNO = 0


@dataclass(frozen=True, slots=True)
class AuditFailure:
    seqno: int
    reason: str
    chunk: str | None = None


@dataclass(frozen=True, slots=True)
class AuditReport:
    snapshot: TxId | None  # the snapshot's signature transaction the audit started from (None: seqno 1)
    entries: int  # entries read (after the snapshot, if any)
    signatures: int
    last_verified: TxId | None  # every entry up to this signature transaction is verified
    unsigned_tail: int  # entries after the last signature: framed, but no signature covers them yet
    service_cert_pem: str | None
    failure: AuditFailure | None

    @property
    def ok(self) -> bool:
        return self.failure is None


class _Rejected(Exception):
    def __init__(self, seqno: int, reason: str) -> None:
        super().__init__(reason)
        self.seqno = seqno
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Start:
    """What the auditor holds right after checking the signature transaction at `seqno`: the frontier
    of leaves [0, seqno), leaf `seqno` (a later signature covers it), the view, the service status and
    the public maps that set the governance tables. Genesis is the start at seqno 0, whose leaf is CCF's
    zero leaf; a snapshot starts at its signature transaction."""

    seqno: int
    view: int
    frontier: tuple[bytes, ...]
    leaf: bytes
    service_status: ServiceStatus | None
    public_maps: Mapping[str, MapWrites]


_GENESIS = _Start(0, 0, (), ZERO_LEAF, None, {})


def audit_ledger(
    file_names: list[str],
    read_chunk: Callable[[str], bytes],
    service_cert: x509.Certificate | None = None,
    on_entry: Callable[[int], None] | None = None,
    snapshot: bytes | None = None,
) -> AuditReport:
    """Audits the ledger chunks among `file_names` (open ones included); stops at the first bad entry.

    Node certificates must be endorsed by `service_cert` when given, else by the service certificate the
    ledger itself records in `public:ccf.gov.service.info`. A ledger that starts after seqno 1 needs the
    `snapshot` file it starts from; its receipt must verify against `service_cert` when given, else
    against the service certificate the snapshot records."""
    try:
        start = _GENESIS if snapshot is None else _snapshot_start(snapshot, service_cert)
        auditor = _Auditor(service_cert, start)
    except (SnapshotRejected, _Rejected) as exc:
        return AuditReport(
            snapshot=None,
            entries=0,
            signatures=0,
            last_verified=None,
            unsigned_tail=0,
            service_cert_pem=certificate_pem(service_cert) if service_cert is not None else None,
            failure=AuditFailure(SNAPSHOT_FAILURE_SEQNO, f"snapshot rejected: {exc}"),
        )
    chunks = ledger_chunks(file_names)
    if snapshot is None and chunks and chunks[0].start != 1:
        first = chunks[0]
        reason = f"the ledger starts at seqno {first.start}: give the snapshot it starts from (--snapshot)"
        return auditor.report(AuditFailure(1, reason, str(first)))
    return auditor.report(_audit_entries(auditor, chunks, read_chunk, on_entry, start.seqno + 1))


def _audit_entries(
    auditor: _Auditor,
    chunks: list[ChunkName],
    read_chunk: Callable[[str], bytes],
    on_entry: Callable[[int], None] | None,
    first_seqno: int,
) -> AuditFailure | None:
    try:
        for item in read_entries(chunks, read_chunk, first_seqno):
            try:
                auditor.add(item.seqno, item.raw, item.last_in_chunk and item.chunk.end is not None)
            except _Rejected as exc:
                return AuditFailure(exc.seqno, exc.reason, str(item.chunk))
            if on_entry is not None:
                on_entry(item.seqno)
    except LedgerReadError as exc:
        return AuditFailure(exc.seqno, exc.reason, exc.chunk)
    if auditor.entries == 0:
        return AuditFailure(first_seqno, "no ledger chunks found")
    return None


def _snapshot_start(snapshot: bytes, service_cert: x509.Certificate | None) -> _Start:
    """Where the audit starts when the ledger starts from `snapshot` (raises SnapshotRejected)."""
    if service_cert is None:
        _, service_cert = _snapshot_service_info(_unproven_public_state(snapshot))
    proven = prove_snapshot(snapshot, service_cert)
    status, _ = _snapshot_service_info(proven.public)
    # The snapshot's public state, written as one write set: what replaying the entries up to it leaves.
    public_maps = {
        name: MapWrites(writes={key: value.value for key, value in keys.items()})
        for name, keys in proven.public.maps.items()
    }
    body = proven.body
    return _Start(body.seqno, body.view, body.tree_frontier, body.last_leaf, status, public_maps)


def _unproven_public_state(snapshot: bytes) -> CommittedState:
    """The public state a snapshot claims, unproven: only to find the certificate that proves it."""
    try:
        return decode_snapshot(SnapshotBody.decode(SnapshotFile.decode(snapshot).body).public_state)
    except SnapshotFormatError as exc:
        raise SnapshotRejected(f"not a snapshot file: {exc}") from None


def _snapshot_service_info(state: CommittedState) -> tuple[ServiceStatus, x509.Certificate]:
    value = state.maps.get(SERVICE_INFO, {}).get(SINGLETON_KEY)
    if value is None:
        raise SnapshotRejected(f"the snapshot at {state.version} records no service information")
    try:
        return _service_info(value.value)
    except (ValueError, KeyError, TypeError, AttributeError, CertificateFormatError) as exc:
        raise SnapshotRejected(f"the snapshot's service information does not parse: {exc!r}") from None


def _service_info(value: bytes) -> tuple[ServiceStatus, x509.Certificate]:
    """The service status and certificate in a `public:ccf.gov.service.info` value."""
    info = json.loads(value)
    return ServiceStatus(info["status"]), load_certificate_pem(info["cert"].encode())


class _Auditor:
    def __init__(self, service_cert: x509.Certificate | None, start: _Start) -> None:
        self._pinned_service_cert = service_cert
        self._ledger_service_cert: x509.Certificate | None = None
        self._service_status = start.service_status
        self._node_status: dict[NodeId, NodeStatus] = {}
        self._node_certs: dict[NodeId, x509.Certificate] = {}
        self._apply_governance(start.seqno, start.public_maps)
        self._tree = CompactTree(list(start.frontier), start.seqno)
        self._tree.append(start.leaf)
        self._leaves_since_signature: list[bytes] = [start.leaf]
        self._last_view = start.view
        self.snapshot = TxId(start.view, start.seqno) if start.seqno else None
        self.entries = 0
        self.signatures = 0
        self.last_verified = self.snapshot

    def report(self, failure: AuditFailure | None) -> AuditReport:
        last_seqno = (self.snapshot.seqno if self.snapshot else 0) + self.entries
        return AuditReport(
            snapshot=self.snapshot,
            entries=self.entries,
            signatures=self.signatures,
            last_verified=self.last_verified,
            unsigned_tail=last_seqno - (self.last_verified.seqno if self.last_verified else 0),
            service_cert_pem=self.service_cert_pem(),
            failure=failure,
        )

    def service_cert_pem(self) -> str | None:
        cert = self._pinned_service_cert or self._ledger_service_cert
        return certificate_pem(cert) if cert is not None else None

    def add(self, seqno: int, raw: bytes, ends_complete_chunk: bool) -> None:
        try:
            entry = decode_entry(raw)
        except EntryFormatError as exc:
            raise _Rejected(seqno, f"entry does not parse: {exc}") from exc
        if entry.txid.view < self._last_view:
            raise _Rejected(seqno, f"term {entry.txid.view} goes back from {self._last_view}")
        self._last_view = entry.txid.view
        self._apply_governance(seqno, entry.public_maps)
        is_signature = SIGNATURES in entry.public_maps
        if is_signature:
            self._check_signature(entry)
        elif ends_complete_chunk:
            raise _Rejected(seqno, "a complete chunk must end on a signature transaction")
        leaf = leaf_digest(entry.write_set_digest, entry.commit_evidence_digest, entry.claims_digest)
        self._tree.append(leaf)
        self._leaves_since_signature.append(leaf)
        self.entries += 1

    def _apply_governance(self, seqno: int, public_maps: Mapping[str, MapWrites]) -> None:
        try:
            if NODES_INFO in public_maps:
                nodes = public_maps[NODES_INFO]
                for key, value in nodes.writes.items():
                    self._node_status[NodeId(key.decode())] = NodeStatus(json.loads(value)["status"])
                for key in nodes.removals:
                    self._node_status.pop(NodeId(key.decode()), None)
            if ENDORSED_NODE_CERTIFICATES in public_maps:
                certs = public_maps[ENDORSED_NODE_CERTIFICATES]
                for key, value in certs.writes.items():
                    self._node_certs[NodeId(key.decode())] = load_certificate_pem(value)
                for key in certs.removals:
                    self._node_certs.pop(NodeId(key.decode()), None)
            if SERVICE_INFO in public_maps:
                status, cert = _service_info(public_maps[SERVICE_INFO].writes[SINGLETON_KEY])
                if not is_legal_service_transition(self._service_status, status):
                    before = self._service_status
                    raise _Rejected(seqno, f"illegal service status change {before} -> {status}")
                self._service_status = status
                self._ledger_service_cert = cert
        except (ValueError, KeyError, TypeError, AttributeError, CertificateFormatError) as exc:
            raise _Rejected(seqno, f"governance table value does not parse: {exc!r}") from exc

    def _check_signature(self, entry: LedgerEntry) -> None:
        seqno = entry.txid.seqno
        try:
            signature = PrimarySignature.decode(entry.public_maps[SIGNATURES].writes[SINGLETON_KEY])
        except (SignatureFormatError, KeyError) as exc:
            raise _Rejected(seqno, f"signature value does not parse: {exc}") from exc
        if signature.txid != entry.txid:
            raise _Rejected(seqno, f"signature claims txid {signature.txid}, its entry is {entry.txid}")
        status = self._node_status.get(signature.node)
        if status is None or status is NodeStatus.PENDING:
            raise _Rejected(seqno, f"signed by node {signature.node}, which is not a trusted node")
        node_cert = self._node_certs.get(signature.node)
        if node_cert is None:
            raise _Rejected(seqno, f"no endorsed certificate for node {signature.node}")
        service_cert = self._pinned_service_cert or self._ledger_service_cert
        if service_cert is None:
            raise _Rejected(seqno, "no service certificate to check node endorsements against")
        if not is_endorsed_by(node_cert, service_cert):
            raise _Rejected(seqno, f"node {signature.node}'s certificate is not endorsed by the service")
        node_key = certificate_public_key(node_cert)
        if node_id_of(node_key) != signature.node:
            raise _Rejected(seqno, f"node {signature.node}'s certificate holds another node's key")
        if not verify_digest(node_key, signature.root, signature.sig):
            raise _Rejected(seqno, "signature does not verify against the signing node's certificate")
        checkpoint = self._checkpoint(entry)
        if self._tree.root() != signature.root:
            raise _Rejected(*self._locate_change(seqno, signature, checkpoint))
        if checkpoint is None or checkpoint.size != seqno or checkpoint.root() != signature.root:
            raise _Rejected(seqno, "the tree checkpoint does not match the signed root")
        self.signatures += 1
        self.last_verified = entry.txid
        self._leaves_since_signature = []

    @staticmethod
    def _checkpoint(entry: LedgerEntry) -> TreeCheckpoint | None:
        tree = entry.public_maps.get(TREE)
        if tree is None or SINGLETON_KEY not in tree.writes:
            return None
        try:
            return TreeCheckpoint.decode(tree.writes[SINGLETON_KEY])
        except SignatureFormatError:
            return None

    def _locate_change(
        self, seqno: int, signature: PrimarySignature, checkpoint: TreeCheckpoint | None
    ) -> tuple[int, str]:
        """Which entry differs from what the signature covers, when the checkpoint is authentic."""
        first = seqno - len(self._leaves_since_signature)
        if checkpoint is not None and checkpoint.size == seqno and checkpoint.root() == signature.root:
            for offset, leaf in enumerate(self._leaves_since_signature):
                if checkpoint.leaf(first + offset) not in (None, leaf):
                    changed = first + offset
                    return changed, f"entry differs from the one signed at seqno {seqno} (modified)"
        return seqno, "the signed Merkle root is not the root of the entries before it"
