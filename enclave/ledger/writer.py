"""The ledger writer (CCF: the primary's history): turns committed write sets into entries, keeps the Merkle
tree, inserts signature transactions when the policy says so, and builds receipts.

Pure: the caller hands in write sets, terms and the time in milliseconds, and gets entry bytes back to
persist and replicate. A follower feeds the entries it receives to `record_replicated` so that it holds the
same tree and can sign and serve receipts once it leads.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
from dataclasses import dataclass

from enclave.crypto.certs import certificate_public_key, load_certificate_pem
from enclave.crypto.identity import NodeIdentity
from enclave.crypto.ids import NodeId
from enclave.crypto.keys import PublicKey, sign_digest, verify_digest
from enclave.kv.write_set import MapWrites, WriteSet
from enclave.ledger.entry import NO_CLAIMS, LedgerEntry, decode_entry, encode_entry
from enclave.ledger.ledger_secrets import LedgerSecrets
from enclave.ledger.merkle import ZERO_LEAF, MerkleTree, leaf_digest
from enclave.ledger.receipts import Receipt
from enclave.ledger.signatures import (
    PrimarySignature,
    SignaturePolicy,
    TreeCheckpoint,
    signature_write_set,
)
from enclave.ledger.tables import ENDORSED_NODE_CERTIFICATES, SIGNATURES, SINGLETON_KEY
from enclave.ledger.txid import TxId
from enclave.snapshots.tree import TreeState


class LedgerWriterError(ValueError):
    """A call that does not fit the ledger's state: a term going back, a seqno out of order, no signature."""


@dataclass(frozen=True, slots=True)
class AppendedEntry:
    """An entry to persist and replicate; `committable` marks a signature transaction (CCF's term)."""

    txid: TxId
    raw: bytes
    committable: bool


class LedgerWriter:
    """`append(write_set, term)` and `maybe_sign(now_ms)` give entries to persist and replicate;
    `receipt(seqno)` proves a signed transaction; `truncate(seqno)` rolls back an uncommitted suffix."""

    def __init__(
        self, node: NodeIdentity, secrets: LedgerSecrets, policy: SignaturePolicy, now_ms: int
    ) -> None:
        self._node = node
        self._secrets = secrets
        self._policy = policy
        self._tree = MerkleTree()
        self._tree.append(ZERO_LEAF)
        self._terms: list[int] = [0]  # by seqno; seqno 0 is the zero leaf
        self._write_set_digests: list[bytes] = [ZERO_LEAF]
        self._claims: dict[int, bytes] = {}  # only the seqnos that carry claims
        self._signature_seqnos: list[int] = []
        self._signatures: dict[int, PrimarySignature] = {}
        self._node_certs: dict[NodeId, str] = {node.node_id: node.cert_pem}
        self._last_signature_ms = now_ms
        # Seqnos up to here came from a snapshot: their tree is known only by its frontier.
        self._snapshot_seqno = 0

    @classmethod
    def from_snapshot(
        cls,
        node: NodeIdentity,
        secrets: LedgerSecrets,
        policy: SignaturePolicy,
        now_ms: int,
        *,
        seqno: int,
        tree: TreeState,
        node_certs: MapWrites | None,
    ) -> LedgerWriter:
        """A writer that continues a ledger from a snapshot at the signature transaction `seqno`: it
        appends, signs and checks signatures as the writer of the whole ledger would, and proves the
        transactions after `seqno` (`node_certs`: the snapshot's endorsed node certificates)."""
        writer = cls(node, secrets, policy, now_ms)
        writer._tree = MerkleTree.from_frontier(list(tree.frontier), seqno)
        writer._tree.append(tree.last_leaf)
        history = tree.view_history
        if not history or history[0][1] != 1:
            raise LedgerWriterError(f"the view history does not start at seqno 1: {history[:1]}")
        ends = [first for _, first in history[1:]] + [seqno + 1]
        terms = [0]
        for (view, first), end in zip(history, ends, strict=True):
            terms += [view] * (end - first)
        if len(terms) != seqno + 1:
            raise LedgerWriterError(f"the view history does not cover seqnos 1..{seqno}")
        writer._terms = terms
        # Placeholders: receipts before the snapshot are refused, so these are never read.
        writer._write_set_digests = [ZERO_LEAF] * (seqno + 1)
        writer._signature_seqnos = [seqno]
        writer._snapshot_seqno = seqno
        writer._learn_node_certs(node_certs)
        return writer

    @property
    def policy(self) -> SignaturePolicy:
        return self._policy

    @property
    def last_txid(self) -> TxId:
        return TxId(self._terms[-1], len(self._terms) - 1)

    @property
    def last_signature_seqno(self) -> int:
        return self._signature_seqnos[-1] if self._signature_seqnos else 0

    @property
    def unsigned_transactions(self) -> int:
        return self.last_txid.seqno - self.last_signature_seqno

    def view_at(self, seqno: int) -> int:
        """The view (term) of the entry at `seqno` (0 for seqno 0)."""
        if not 0 <= seqno <= self.last_txid.seqno:
            raise LedgerWriterError(f"no entry at seqno {seqno}: last seqno is {self.last_txid.seqno}")
        return self._terms[seqno]

    def last_signature_at_or_before(self, seqno: int) -> int:
        """The seqno of the last signature transaction at or before `seqno` (0: none). CCF: a
        transaction is committed once a signature after it is."""
        index = bisect.bisect_right(self._signature_seqnos, seqno)
        return self._signature_seqnos[index - 1] if index else 0

    def merkle_root(self) -> bytes:
        """The root over every entry so far: what the next signature would sign."""
        return self._tree.root()

    def append(self, write_set: WriteSet, term: int, claims_digest: bytes = NO_CLAIMS) -> AppendedEntry:
        """CCF: serialise and encrypt the write set at the next seqno, with its commit evidence digest."""
        txid = self._next_txid(term)
        secret = self._secrets.secret_for(txid.seqno)
        evidence_digest = hashlib.sha256(secret.commit_evidence(txid).encode()).digest()
        raw = encode_entry(txid, write_set, secret, evidence_digest, claims_digest=claims_digest)
        self._add(txid, raw, evidence_digest, claims_digest)
        self._learn_node_certs(write_set.maps.get(ENDORSED_NODE_CERTIFICATES))
        return AppendedEntry(txid, raw, committable=False)

    def signature_due(self, now_ms: int) -> bool:
        """Whether the policy asks for a signature now (N transactions or T ms since the last)."""
        return self._policy.is_due(self.unsigned_transactions, now_ms - self._last_signature_ms)

    def maybe_sign(self, now_ms: int, term: int | None = None) -> AppendedEntry | None:
        """A signature transaction if the policy says one is due (N transactions or T ms since the last)."""
        if not self.signature_due(now_ms):
            return None
        return self.sign(now_ms, term)

    def sign(self, now_ms: int, term: int | None = None) -> AppendedEntry:
        """CCF: the node key signs the root of every earlier leaf; the entry records signature and tree."""
        txid = self._next_txid(self.last_txid.view if term is None else term)
        root = self._tree.root()
        signature = PrimarySignature(txid, self._node.node_id, root, sign_digest(self._node.key, root))
        first_listed = self.last_signature_seqno
        checkpoint = TreeCheckpoint(
            size=txid.seqno,
            first_listed=first_listed,
            frontier=tuple(self._tree.frontier(first_listed)),
            leaves=tuple(self._tree.leaf(i) for i in range(first_listed, txid.seqno)),
        )
        appended = self.append(signature_write_set(signature, checkpoint), txid.view)
        self._record_signature(signature)
        self._last_signature_ms = now_ms
        return AppendedEntry(appended.txid, appended.raw, committable=True)

    def record_replicated(self, raw: bytes, decoded: LedgerEntry | None = None) -> AppendedEntry:
        """A follower's copy of an entry the primary wrote. CCF: a backup checks each signature against its
        own tree before accepting it (`EntryFormatError`, `SignatureFormatError`, `LedgerWriterError`).
        `decoded`: `decode_entry(raw)` if the caller already has it (followers decode once)."""
        entry = decode_entry(raw) if decoded is None else decoded
        self._next_txid(entry.txid.view, expect_seqno=entry.txid.seqno)
        signatures = entry.public_maps.get(SIGNATURES)
        signature = None
        if signatures is not None:
            signature = PrimarySignature.decode(signatures.writes.get(SINGLETON_KEY, b""))
            self._check_replicated_signature(signature, entry.txid)
        self._add(entry.txid, raw, entry.commit_evidence_digest, entry.claims_digest)
        self._learn_node_certs(entry.public_maps.get(ENDORSED_NODE_CERTIFICATES))
        if signature is not None:
            self._record_signature(signature)
        return AppendedEntry(entry.txid, raw, committable=signature is not None)

    def truncate(self, seqno: int) -> None:
        """Raft: drop the uncommitted entries after `seqno` (the caller never truncates committed ones)."""
        if not self._snapshot_seqno <= seqno <= self.last_txid.seqno:
            raise LedgerWriterError(f"cannot truncate to {seqno}: last seqno is {self.last_txid.seqno}")
        self._tree.truncate(seqno + 1)
        del self._terms[seqno + 1 :]
        del self._write_set_digests[seqno + 1 :]
        self._claims = {s: c for s, c in self._claims.items() if s <= seqno}
        while self._signature_seqnos and self._signature_seqnos[-1] > seqno:
            del self._signatures[self._signature_seqnos.pop()]

    def receipt(self, seqno: int) -> Receipt:
        """CCF's receipt for the transaction at `seqno`, proven by the first signature after it.

        Reveals the commit evidence: call it only for committed transactions."""
        if seqno <= self._snapshot_seqno:
            raise LedgerWriterError(f"seqno {seqno} is before the snapshot this node started from")
        index = bisect.bisect_right(self._signature_seqnos, seqno)
        if not 1 <= seqno <= self.last_txid.seqno or index == len(self._signature_seqnos):
            raise LedgerWriterError(f"no signature covers seqno {seqno} yet")
        signature = self._signatures[self._signature_seqnos[index]]
        txid = TxId(self._terms[seqno], seqno)
        return Receipt(
            cert_pem=self._node_certs[signature.node],
            node_id=signature.node,
            write_set_digest=self._write_set_digests[seqno],
            commit_evidence=self._secrets.secret_for(seqno).commit_evidence(txid),
            claims_digest=self._claims.get(seqno, NO_CLAIMS),
            proof=tuple(self._tree.path(seqno, signature.txid.seqno)),
            signature=signature.sig,
        )

    def tree_state(self, seqno: int) -> TreeState:
        """The tree and view history at the signature transaction `seqno` (what a snapshot carries)."""
        if seqno not in self._signature_seqnos or seqno < self._snapshot_seqno:
            raise LedgerWriterError(f"seqno {seqno} is not a signature transaction")
        history: list[tuple[int, int]] = []
        for at, view in enumerate(self._terms[1 : seqno + 1], start=1):
            if not history or history[-1][0] != view:
                history.append((view, at))
        return TreeState(tuple(self._tree.frontier(seqno)), self._tree.leaf(seqno), tuple(history))

    def _next_txid(self, term: int, expect_seqno: int | None = None) -> TxId:
        last = self.last_txid
        if term < last.view:
            raise LedgerWriterError(f"term {term} is before the last entry's term {last.view}")
        if expect_seqno is not None and expect_seqno != last.seqno + 1:
            raise LedgerWriterError(f"entry at seqno {expect_seqno} does not follow {last.seqno}")
        return TxId(term, last.seqno + 1)

    def _add(self, txid: TxId, raw: bytes, evidence_digest: bytes, claims_digest: bytes) -> None:
        write_set_digest = hashlib.sha256(raw).digest()
        self._tree.append(leaf_digest(write_set_digest, evidence_digest, claims_digest))
        self._terms.append(txid.view)
        self._write_set_digests.append(write_set_digest)
        if claims_digest != NO_CLAIMS:
            self._claims[txid.seqno] = claims_digest

    def _check_replicated_signature(self, signature: PrimarySignature, txid: TxId) -> None:
        cert_pem = self._node_certs.get(signature.node)
        if signature.txid != txid or signature.root != self._tree.root() or cert_pem is None:
            raise LedgerWriterError(f"signature at {txid} does not sign this ledger's tree")
        if not verify_digest(_node_key(cert_pem), signature.root, signature.sig):
            raise LedgerWriterError(f"signature at {txid} does not verify")

    def _record_signature(self, signature: PrimarySignature) -> None:
        self._signature_seqnos.append(signature.txid.seqno)
        self._signatures[signature.txid.seqno] = signature

    def _learn_node_certs(self, certs: MapWrites | None) -> None:
        if certs is not None:
            for key, pem in certs.writes.items():
                self._node_certs[NodeId(key.decode())] = pem.decode()


# Every replicated signature is checked against its node's key: parse each certificate once, not per
# signature (keyed by the PEM itself, so a node's renewed certificate is simply another entry).
@functools.lru_cache(maxsize=64)
def _node_key(cert_pem: str) -> PublicKey:
    return certificate_public_key(load_certificate_pem(cert_pem.encode()))
