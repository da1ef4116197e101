"""Offline audit of a ledger (what `sealchain ledger verify` runs; CCF's `LedgerValidator` checks, and more).

Checked, entry by entry in seqno order: the framing (via `reading`), that terms never go back, the governance
tables (node status, endorsed certificates, legal service status transitions), and at every signature
transaction: the signing node is known and not Pending, its certificate is endorsed by the service
certificate, its signature covers the signed root, and that root is the Merkle root of every earlier entry.
When a root differs, the tree checkpoint in the signature entry (its leaves are covered by the signed root)
names the exact entry that was changed. Entries after the last signature are framed but not yet verifiable.
"""

from __future__ import annotations

import json
from collections.abc import Callable
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


@dataclass(frozen=True, slots=True)
class AuditFailure:
    seqno: int
    reason: str
    chunk: str | None = None


@dataclass(frozen=True, slots=True)
class AuditReport:
    entries: int
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


def audit_ledger(
    file_names: list[str],
    read_chunk: Callable[[str], bytes],
    service_cert: x509.Certificate | None = None,
    on_entry: Callable[[int], None] | None = None,
) -> AuditReport:
    """Audits the ledger chunks among `file_names` (open ones included); stops at the first bad entry.

    Node certificates must be endorsed by `service_cert` when given, else by the service certificate the
    ledger itself records in `public:ccf.gov.service.info`."""
    auditor = _Auditor(service_cert)
    failure: AuditFailure | None = None
    try:
        for item in read_entries(ledger_chunks(file_names), read_chunk):
            try:
                auditor.add(item.seqno, item.raw, item.last_in_chunk and item.chunk.end is not None)
            except _Rejected as exc:
                failure = AuditFailure(exc.seqno, exc.reason, str(item.chunk))
                break
            if on_entry is not None:
                on_entry(item.seqno)
    except LedgerReadError as exc:
        failure = AuditFailure(exc.seqno, exc.reason, exc.chunk)
    if failure is None and auditor.entries == 0:
        failure = AuditFailure(1, "no ledger chunks found")
    return AuditReport(
        entries=auditor.entries,
        signatures=auditor.signatures,
        last_verified=auditor.last_verified,
        unsigned_tail=auditor.entries - (auditor.last_verified.seqno if auditor.last_verified else 0),
        service_cert_pem=auditor.service_cert_pem(),
        failure=failure,
    )


class _Auditor:
    def __init__(self, service_cert: x509.Certificate | None) -> None:
        self._pinned_service_cert = service_cert
        self._ledger_service_cert: x509.Certificate | None = None
        self._service_status: ServiceStatus | None = None
        self._node_status: dict[NodeId, NodeStatus] = {}
        self._node_certs: dict[NodeId, x509.Certificate] = {}
        self._tree = CompactTree([], 0)
        self._tree.append(ZERO_LEAF)
        self._leaves_since_signature: list[bytes] = [ZERO_LEAF]
        self._last_view = 0
        self.entries = 0
        self.signatures = 0
        self.last_verified: TxId | None = None

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
        self._apply_governance(entry)
        is_signature = SIGNATURES in entry.public_maps
        if is_signature:
            self._check_signature(entry)
        elif ends_complete_chunk:
            raise _Rejected(seqno, "a complete chunk must end on a signature transaction")
        leaf = leaf_digest(entry.write_set_digest, entry.commit_evidence_digest, entry.claims_digest)
        self._tree.append(leaf)
        self._leaves_since_signature.append(leaf)
        self.entries += 1

    def _apply_governance(self, entry: LedgerEntry) -> None:
        seqno = entry.txid.seqno
        try:
            if NODES_INFO in entry.public_maps:
                nodes = entry.public_maps[NODES_INFO]
                for key, value in nodes.writes.items():
                    self._node_status[NodeId(key.decode())] = NodeStatus(json.loads(value)["status"])
                for key in nodes.removals:
                    self._node_status.pop(NodeId(key.decode()), None)
            if ENDORSED_NODE_CERTIFICATES in entry.public_maps:
                certs = entry.public_maps[ENDORSED_NODE_CERTIFICATES]
                for key, value in certs.writes.items():
                    self._node_certs[NodeId(key.decode())] = load_certificate_pem(value)
                for key in certs.removals:
                    self._node_certs.pop(NodeId(key.decode()), None)
            if SERVICE_INFO in entry.public_maps:
                info = json.loads(entry.public_maps[SERVICE_INFO].writes[SINGLETON_KEY])
                status = ServiceStatus(info["status"])
                if not is_legal_service_transition(self._service_status, status):
                    before = self._service_status
                    raise _Rejected(seqno, f"illegal service status change {before} -> {status}")
                self._service_status = status
                self._ledger_service_cert = load_certificate_pem(info["cert"].encode())
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
