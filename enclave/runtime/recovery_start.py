"""Disaster recovery, the first step (DESIGN.md 4.6, CCF's recovery): a node starts a new service from the
ledger of one that is gone for good.

- The old ledger is replayed up to its last signature (entries after it, e.g. a chunk cut mid-write by a
  crash, never committed and are dropped): the writer re-checks every signature against its own tree, the
  KV gets the public state. Private domains stay encrypted until the members' recovery shares rebuild the
  ledger secrets (`private_recovery.py`).
- The recovery transaction (the next seqno, a view after the old ones) gives the service a new identity
  that records the previous one, `Recovering`; the old nodes are Retired and this node is Trusted and the
  only Raft voter (the old entries enter Raft's log as committed entries without membership changes).
- Members then vote `transition_service_to_open` (`WaitingForRecoveryShares`) and submit their shares.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from consensus import Entry, Index, Term
from enclave.crypto.identity import NodeIdentity, ServiceIdentity
from enclave.kv.store import KvStore
from enclave.kv.transaction import Transaction
from enclave.kv.write_set import MapWrites, WriteSet
from enclave.ledger.entry import EntryFormatError, LedgerEntry, decode_entry
from enclave.ledger.tables import (
    NODES_INFO,
    SERVICE_INFO,
    SIGNATURES,
    SINGLETON_KEY,
    NodeStatus,
    ServiceStatus,
    node_writes,
)
from enclave.ledger.writer import LedgerWriter, LedgerWriterError
from enclave.runtime import messages as m
from enclave.runtime.errors import ReplayedLedgerInvalid
from enclave.runtime.service_maps import node_data

# What the recovery transaction records in the service info (besides CCF's fields).
RECOVERED_AT = "recovered_at"


@dataclass(frozen=True, slots=True)
class RecoveredLedger:
    """The old ledger up to its last signature, replayed: the writer (tree and signatures), the public
    state, Raft's entries for it, and the last view."""

    writer: LedgerWriter
    kv: KvStore
    entries: list[Entry]
    last_view: int
    dropped: int  # entries after the last signature, not recovered


def last_signature(decoded: list[LedgerEntry]) -> int:
    for position in range(len(decoded), 0, -1):
        if SIGNATURES in decoded[position - 1].public_maps:
            return position
    raise ReplayedLedgerInvalid("the ledger holds no signature: nothing of it was ever committed")


def replay_public(raw_entries: tuple[bytes, ...], writer: LedgerWriter) -> RecoveredLedger:
    """Replays the old ledger's public domains up to its last signature into `writer` (a new node's,
    empty) and a new KV store (`ReplayedLedgerInvalid` for a ledger that does not verify)."""
    decoded: list[LedgerEntry] = []
    for seqno, raw in enumerate(raw_entries, start=1):
        try:
            entry = decode_entry(raw)
        except EntryFormatError as exc:
            raise ReplayedLedgerInvalid(f"ledger entry {seqno}: {exc}") from None
        if entry.txid.seqno != seqno:
            raise ReplayedLedgerInvalid(f"entry {entry.txid} found at position {seqno}")
        decoded.append(entry)
    end = last_signature(decoded)
    kv = KvStore()
    entries = []
    for entry, raw in zip(decoded[:end], raw_entries[:end], strict=True):
        try:
            writer.record_replicated(raw, entry)
        except (LedgerWriterError, ValueError) as exc:
            raise ReplayedLedgerInvalid(f"ledger entry {entry.txid.seqno}: {exc}") from None
        kv.apply(WriteSet(dict(entry.public_maps)), entry.txid.seqno)
        committable = SIGNATURES in entry.public_maps
        entries.append(Entry(Term(entry.txid.view), Index(entry.txid.seqno), raw, committable=committable))
    return RecoveredLedger(writer, kv, entries, decoded[end - 1].txid.view, len(decoded) - end)


def recovery_write_set(
    tx: Transaction, service: ServiceIdentity, node: NodeIdentity, addresses: m.NodeAddresses, at_seqno: int
) -> WriteSet:
    """The new identity (recording the previous one), Recovering, the old nodes Retired, this one Trusted."""
    raw_info = tx.get(SERVICE_INFO, SINGLETON_KEY)
    old = json.loads(raw_info) if raw_info is not None else {}
    info = {
        **old,
        "cert": service.cert_pem,
        "status": ServiceStatus.RECOVERING.value,
        "previous_service_identity": old.get("cert"),
        "recovery_count": int(old.get("recovery_count") or 0) + 1,
        RECOVERED_AT: at_seqno,
    }
    retired = {}
    for key, raw in tx.scan(NODES_INFO):
        record = json.loads(raw)
        if record.get("status") != NodeStatus.RETIRED.value:
            retired[key] = json.dumps({**record, "status": NodeStatus.RETIRED.value}, sort_keys=True).encode()
    own = node_writes(node, NodeStatus.TRUSTED, node_data(addresses.peer, addresses.client))
    maps = {
        SERVICE_INFO: MapWrites(writes={SINGLETON_KEY: json.dumps(info, sort_keys=True).encode()}),
        NODES_INFO: MapWrites(writes={**retired, **own[NODES_INFO].writes}),
    }
    for name, writes in own.items():
        maps.setdefault(name, writes)
    return WriteSet(maps)


def recovered_at(kv: KvStore) -> int:
    """The last seqno of the ledger a recovered service inherited (0: a service never recovered)."""
    raw = kv.begin().get(SERVICE_INFO, SINGLETON_KEY)
    value = None if raw is None else json.loads(raw).get(RECOVERED_AT)
    return value if isinstance(value, int) else 0
