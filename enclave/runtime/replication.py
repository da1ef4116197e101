"""Replication glue: Raft's log, the ledger writer and the KV store, kept at the same index.

Invariant (checked): after every `drain`, Raft's last index == the writer's last seqno == the KV version.
Raft index == ledger seqno, Raft term == view, `Entry.data` == the raw ledger entry (DESIGN.md section 5).

- The primary executes a transaction on its KV, the writer appends its entry, and the batch is proposed
  to Raft with one `propose` (`propose_batch`); signature transactions are proposed committable.
- For every entry in `Ready.entries` that this node did not propose itself: if its index is at or below
  the last seqno held, a new leader overwrote an uncommitted tail: roll back the KV, truncate the writer
  and emit `TruncateLedger` first. Then the writer records the entry (checking any signature against its
  own tree), the private domain is decrypted with the ledger secret and the KV applies the write set; a
  rekey's new secret for this node is learnt from it (rekey.py).
- CCF: a transaction is committed once a signature transaction after it is. Raft may commit a
  committable entry that is not a signature (a membership change, an election entry), so the *ledger*
  commit is the last signature at or below Raft's commit; that is what `CommitLedger`, the KV commit,
  the sealed state and client answers follow. The primary signs at the policy's interval and, besides,
  whenever it holds unsigned entries and no signature is in flight (`_signature_idle`), so a write
  waits for one signature round, not for the interval.
- Durability order (consensus/ready.py): `messages`, then truncate/append/persist, `Flush`, then
  `messages_after_persist`, then commits.

Elections: an elected Raft leader appends an *empty* committable entry (etcd's rule, so commit can reach
its term). Every node turns that entry into the same ledger entry (`service_maps.election_write_set(term)`;
encryption and commit evidence are deterministic), so ledgers agree byte for byte and a restart recognises
it as committable from its `ELECTION` map; the leader then proposes a signature at once, as CCF's new
primary does. (Letting the application write the election entry instead would need Raft to report a bare
truncation in `Ready`; this keeps the core etcd-shaped.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cryptography import x509

from consensus import ConfChange, Entry, Index, InMemoryStorage, Raft, ReadState, Ready, Role, Snapshot
from consensus.messages import InstallSnapshot, Message
from enclave.crypto.identity import NodeIdentity
from enclave.kv.state_sealing import StateSealer
from enclave.kv.store import KvStore
from enclave.kv.write_set import WriteSet
from enclave.ledger.entry import decode_entry
from enclave.ledger.ledger_secrets import LedgerSecrets
from enclave.ledger.tables import ENDORSED_NODE_CERTIFICATES, NODES_INFO, SIGNATURES
from enclave.ledger.writer import AppendedEntry, LedgerWriter
from enclave.runtime import messages as m
from enclave.runtime.rekey import learned_secret
from enclave.runtime.service_maps import ELECTION, MEMBERSHIP, election_write_set
from enclave.runtime.snapshotting import PendingSnapshot, committed_file, open_offer
from enclave.snapshots.snapshot import (
    OpenedSnapshot,
    evidence_write_set,
    last_snapshot_seqno,
    map_writes,
    take_snapshot,
)
from enclave.snapshots.snapshot import pending_request as pending_snapshot_request

SendRaft = Callable[[Message], list[m.Effect]]


@dataclass(slots=True)
class DrainOutcome:
    """What a drain did beyond its effects: the lowest truncation point, the new ledger commit, the
    linearizable reads now servable, and whether the nodes table changed."""

    effects: list[m.Effect] = field(default_factory=list)
    truncated_to: int | None = None
    committed_to: int | None = None
    read_states: list[ReadState] = field(default_factory=list)
    nodes_changed: bool = False


def is_raft_committable(public_maps: Sequence[str]) -> bool:
    """Which ledger entries are committable Raft entries: signatures, membership changes, elections."""
    return any(name in public_maps for name in (SIGNATURES, MEMBERSHIP, ELECTION))


class Replicator:
    __slots__ = (
        "_ledger_commit",
        "_node",
        "_offer",
        "_pending_snapshot",
        "_proposed",
        "_sealer",
        "_secrets",
        "_service_cert",
        "_signed_term",
        "_snapshot_interval",
        "_storage",
        "kv",
        "raft",
        "writer",
    )

    def __init__(
        self,
        raft: Raft,
        storage: InMemoryStorage,
        writer: LedgerWriter,
        kv: KvStore,
        *,
        secrets: LedgerSecrets,
        sealer: StateSealer,
        node: NodeIdentity,
        service_cert: x509.Certificate,
        snapshot_interval: int,
        ledger_commit: int = 0,
    ) -> None:
        self.raft = raft
        self._node = node  # whose copy of a rekey's secret to take
        # Raft's view of its log: the ledger, in memory (the host holds the durable copy)
        self._storage = storage
        self.writer = writer
        self.kv = kv
        self._secrets = secrets
        self._sealer = sealer
        self._ledger_commit = ledger_commit
        # index -> term of entries this node proposed that Raft has not handed back in a Ready yet
        self._proposed: dict[int, int] = {}
        self._signed_term = raft.term if raft.role is Role.LEADER else -1
        self._service_cert = service_cert  # what a snapshot's receipt must chain to
        self._snapshot_interval = snapshot_interval
        self._pending_snapshot: PendingSnapshot | None = None
        # The last snapshot the leader offered that passed `open_offer` (what Raft may install next).
        self._offer: OpenedSnapshot | None = None

    @property
    def ledger_commit(self) -> int:
        return self._ledger_commit

    def can_propose(self) -> bool:
        return self.raft.role is Role.LEADER and self.raft.lead_transferee is None

    # -- the primary -------------------------------------------------------------------------------

    def append_local(self, write_set: WriteSet, version: int) -> AppendedEntry:
        """The writer's entry for a write set the KV just committed at `version` (not proposed yet)."""
        appended = self.writer.append(write_set, self.raft.term)
        assert appended.txid.seqno == version, f"KV version {version} != ledger seqno {appended.txid.seqno}"
        return appended

    def propose_batch(self, appended: list[AppendedEntry]) -> None:
        """Propose entries appended locally (KV and writer hold them); one Raft proposal."""
        if not appended:
            return
        last = self.raft.propose([entry.raw for entry in appended], committable=False)
        assert last == appended[-1].txid.seqno, f"Raft index {last} != ledger seqno {appended[-1].txid.seqno}"
        for entry in appended:
            self._proposed[entry.txid.seqno] = entry.txid.view

    def sign(self, now_ms: int) -> None:
        """A signature transaction now (CCF: the primary signs the Merkle root)."""
        signature = self.writer.sign(now_ms, self.raft.term)
        entry = decode_entry(signature.raw)
        self.kv.apply(WriteSet(dict(entry.public_maps)), signature.txid.seqno)
        self.raft.propose([signature.raw], committable=True)
        self._proposed[signature.txid.seqno] = signature.txid.view

    def _signature_idle(self) -> bool:
        """Sign as soon as no signature is in flight (DESIGN.md section 9: one signature per batch window):
        entries wait at most one round for the signature that commits them, instead of the policy's
        interval, and under load one signature covers all that arrived while the last one committed."""
        if not self.can_propose() or self.writer.unsigned_transactions == 0:
            return False
        return self.writer.last_signature_at_or_before(self.writer.last_txid.seqno) <= self._ledger_commit

    def maybe_sign(self, now_ms: int) -> None:
        if self.can_propose() and self.writer.signature_due(now_ms):
            self.sign(now_ms)

    def maybe_snapshot(self) -> None:
        """The primary snapshots its committed state once `snapshot_interval` transactions committed
        since the last snapshot, or governance asked for one (snapshotting.py), unless a snapshot waits
        for its evidence to commit."""
        commit = self._ledger_commit
        if not self.can_propose() or self._pending_snapshot is not None or commit == 0:
            return
        committed = self.kv.begin_committed()
        request = pending_snapshot_request(committed)
        if request is None and commit - last_snapshot_seqno(committed) < self._snapshot_interval:
            return
        body = take_snapshot(
            self.kv.committed_state(),
            self.writer.view_at(commit),
            self.writer.tree_state(commit),
            self.raft.log.configuration_at(Index(commit)),
            self._secrets.secret_for(commit),
        ).encode()
        write_set, digest = evidence_write_set(body, commit, request)
        evidence = self.writer.append(write_set, self.raft.term, claims_digest=digest)
        self.kv.apply(write_set, evidence.txid.seqno)
        self.propose_batch([evidence])
        self._pending_snapshot = PendingSnapshot(evidence.txid, commit, body)

    def check_offer(self, message: InstallSnapshot) -> None:
        """Checks a snapshot the leader offers before Raft sees it; `SnapshotRejected` if it must not
        be installed (nothing changed then)."""
        snapshot = message.snapshot
        if snapshot.index <= self._ledger_commit:
            return  # Raft acknowledges what this node holds already and installs nothing
        self._offer = open_offer(snapshot, self._service_cert, self._secrets, self._node)

    def propose_membership(self, change: ConfChange, write_set: WriteSet, version: int) -> None:
        """Propose a membership change carried by the entry of `write_set` (committed in the KV at
        `version`); on refusal (Raft's rules) the KV and writer are rolled back and Raft raises."""
        appended = self.append_local(write_set, version)
        try:
            self.raft.propose_conf_change(change, data=appended.raw)
        except Exception:
            self.kv.rollback(version - 1)
            self.writer.truncate(version - 1)
            raise
        self._proposed[version] = appended.txid.view

    def raw_entries(self, through: int) -> list[bytes]:
        """The ledger entries 1..`through`, as Raft holds them."""
        return [entry.data for entry in self._storage.entries(Index(1), Index(through + 1))]

    # -- every node --------------------------------------------------------------------------------

    def drain(self, send: SendRaft, now_ms: int) -> DrainOutcome:
        """Handle every Ready Raft has, in the durability order; a new leader signs at once."""
        outcome = DrainOutcome()
        while True:
            if self.raft.has_ready():
                ready = self.raft.ready()
                self._handle(ready, send, outcome, now_ms)
                self.raft.advance(ready)
            elif self.raft.role is Role.LEADER and self._signed_term != self.raft.term and self.can_propose():
                self._signed_term = self.raft.term
                self.sign(now_ms)
            elif self._signature_idle():
                self.sign(now_ms)
            else:
                break
        last = self.raft.log.last_index()
        assert last == self.writer.last_txid.seqno == self.kv.version, (
            f"raft {last}, ledger {self.writer.last_txid.seqno}, kv {self.kv.version} out of step"
        )
        return outcome

    def _handle(self, ready: Ready, send: SendRaft, outcome: DrainOutcome, now_ms: int) -> None:
        effects = outcome.effects
        for message in ready.messages:
            effects += send(message)
        if ready.snapshot is not None:
            self._install(ready.snapshot, outcome, now_ms)
        for entry in ready.entries:
            self._persist_entry(entry, outcome)
        if ready.hard_state is not None:
            hard = ready.hard_state
            effects.append(m.PersistRaftState(hard.term, hard.vote, hard.commit))
        if ready.entries or ready.hard_state is not None:
            effects.append(m.Flush())
        self._storage.persist(ready)
        for message in ready.messages_after_persist:
            effects += send(message)
        if ready.committed_entries:
            self._commit(ready.committed_entries[-1].index, outcome)
        outcome.read_states += ready.read_states

    def _persist_entry(self, entry: Entry, outcome: DrainOutcome) -> None:
        if self._proposed.pop(entry.index, None) == entry.term:
            raw = entry.data  # proposed here: the KV and the writer already hold it
            assert entry.index <= self.writer.last_txid.seqno
            committable = entry.committable and entry.change is None
        else:
            if entry.index <= self.writer.last_txid.seqno:
                self._truncate(entry.index - 1, outcome)
            raw, committable = self._ingest(entry, outcome)
        outcome.effects.append(m.AppendLedger(entry.index, raw, committable))

    def _ingest(self, entry: Entry, outcome: DrainOutcome) -> tuple[bytes, bool]:
        """Record an entry this node did not write; returns its bytes and whether it is a signature."""
        if not entry.data:
            write_set = election_write_set(entry.term)
            appended = self.writer.append(write_set, entry.term)
            self.kv.apply(write_set, entry.index)
            return appended.raw, False
        decoded = decode_entry(entry.data)
        assert (decoded.txid.view, decoded.txid.seqno) == (entry.term, entry.index), (
            f"entry {decoded.txid} replicated at {entry.term}.{entry.index}"
        )
        recorded = self.writer.record_replicated(entry.data, decoded)
        maps = dict(decoded.public_maps)
        if self._secrets.covers(entry.index):  # not: a recovered service's inherited ledger
            maps.update(decoded.decrypt_private(self._secrets.secret_for(entry.index)))
        self.kv.apply(WriteSet(maps), entry.index)
        learned = learned_secret(decoded.public_maps, self._node)
        if learned is not None:
            self._secrets.learn(*learned)
        if NODES_INFO in maps:
            outcome.nodes_changed = True
        return entry.data, recorded.committable

    def _install(self, snapshot: Snapshot, outcome: DrainOutcome, now_ms: int) -> None:
        """Raft installed a snapshot `check_offer` passed: the KV, the ledger writer and the ledger
        files start over from it (the host keeps the file, and the ledger continues after it)."""
        opened, self._offer = self._offer, None
        assert opened is not None and opened.body.seqno == snapshot.index, (
            "Raft installed an unchecked snapshot"
        )
        self.kv = KvStore.from_committed_state(opened.state)
        self.writer = LedgerWriter.from_snapshot(
            self._node,
            self._secrets,
            self.writer.policy,
            now_ms,
            seqno=snapshot.index,
            tree=opened.tree,
            node_certs=map_writes(opened.state, ENDORSED_NODE_CERTIFICATES),
        )
        self._ledger_commit = snapshot.index
        self._proposed.clear()
        self._pending_snapshot = None
        outcome.effects.append(m.SnapshotInstalled(snapshot.index, opened.evidence.seqno, snapshot.data))
        outcome.committed_to = snapshot.index
        outcome.nodes_changed = True

    def _truncate(self, keep: int, outcome: DrainOutcome) -> None:
        assert keep >= self._ledger_commit, f"truncation to {keep} below the commit {self._ledger_commit}"
        self.kv.rollback(keep)
        self.writer.truncate(keep)
        self._secrets.rollback(keep)
        self._proposed = {i: t for i, t in self._proposed.items() if i <= keep}
        if self._pending_snapshot is not None and self._pending_snapshot.evidence.seqno > keep:
            self._pending_snapshot = None
        outcome.effects.append(m.TruncateLedger(keep))
        outcome.truncated_to = keep if outcome.truncated_to is None else min(outcome.truncated_to, keep)
        outcome.nodes_changed = True

    def _commit(self, raft_commit: Index, outcome: DrainOutcome) -> None:
        commit = self.writer.last_signature_at_or_before(raft_commit)
        if commit <= self._ledger_commit:
            return
        delta = self.kv.commit(commit)
        self._ledger_commit = commit
        outcome.effects.append(m.CommitLedger(commit))
        if not delta.is_empty():
            outcome.effects.append(m.MaterialiseState(self._sealer.seal(delta)))
        outcome.committed_to = commit
        pending = self._pending_snapshot
        if pending is not None and pending.evidence.seqno <= commit:
            self._pending_snapshot = None
            file = committed_file(pending, self.writer)
            configuration = self.raft.log.configuration_at(Index(pending.seqno))
            self._storage.compact(Index(pending.seqno), configuration, file)
            outcome.effects.append(m.StoreSnapshot(pending.seqno, pending.evidence.seqno, file))
