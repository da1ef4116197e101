"""A small service's ledger with a snapshot and its committed evidence, built with the real writer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from consensus import Configuration
from consensus import NodeId as RaftNodeId
from enclave.kv.store import KvStore
from enclave.kv.write_set import WriteSet
from enclave.ledger.entry import decode_entry
from enclave.ledger.signatures import SignaturePolicy
from enclave.ledger.writer import AppendedEntry, LedgerWriter
from enclave.snapshots.format import SnapshotFile
from enclave.snapshots.snapshot import evidence_write_set, take_snapshot
from node.ledger_files import FsyncPolicy, LedgerFiles
from tests.enclave.ledger.ledger_scenario import Service, build_entries, transaction

POLICY = SignaturePolicy(5, 10**9)


@dataclass
class SnapshotLedger:
    """`entries` 1..last; the snapshot is taken at `snapshot_seqno` (a signature), its evidence follows,
    and a signature after the evidence ends the ledger. `file` is the committed snapshot file."""

    writer: LedgerWriter
    entries: list[AppendedEntry]
    snapshot_seqno: int
    evidence_seqno: int
    file: bytes
    state: KvStore


def replay(service: Service, entries: list[AppendedEntry]) -> KvStore:
    """The KV state the entries write, every version committed."""
    kv = KvStore()
    for entry in entries:
        decoded = decode_entry(entry.raw)
        maps = {**decoded.public_maps, **decoded.decrypt_private(service.secret)}
        kv.apply(WriteSet(maps), entry.txid.seqno)
    kv.commit(kv.version)
    return kv


def snapshot_ledger(service: Service, transactions: int = 12, after: int = 6) -> SnapshotLedger:
    """A ledger of `transactions` writes ending on a signature, a snapshot there, its evidence and a
    signature, then `after` more writes and a closing signature."""
    writer, entries = build_entries(service, transactions, POLICY)
    kv = replay(service, entries)
    seqno = writer.last_txid.seqno
    configuration = Configuration(frozenset({RaftNodeId(service.node.node_id)}))
    body = take_snapshot(
        kv.committed_state(), writer.view_at(seqno), writer.tree_state(seqno), configuration, service.secret
    ).encode()
    write_set, digest = evidence_write_set(body, seqno)
    term = writer.last_txid.view
    evidence = writer.append(write_set, term, claims_digest=digest)
    entries += [evidence, writer.sign(now_ms=0)]
    receipt = writer.receipt(evidence.txid.seqno)
    file = SnapshotFile(body, json.dumps(receipt.to_json())).encode()
    entries += [writer.append(transaction(1000 + i), term) for i in range(after)]
    entries.append(writer.sign(now_ms=0))
    return SnapshotLedger(writer, entries, seqno, evidence.txid.seqno, file, kv)


def write_ledger_after(directory: Path, entries: list[AppendedEntry], seqno: int) -> dict[str, bytes]:
    """The chunk files of a node that started from a snapshot at `seqno` (from `seqno` + 1 on, each
    chunk ending on a signature), by name."""
    files = LedgerFiles(directory, chunk_size=1, fsync=FsyncPolicy.NEVER)  # a chunk per signature
    files.reset(seqno)
    for entry in entries[seqno:]:
        files.append(entry.txid.seqno, entry.raw, entry.committable)
    files.commit(files.last_seqno)
    files.close()
    return {path.name: path.read_bytes() for path in directory.iterdir()}


def flip(data: bytes, at: int) -> bytes:
    """`data` with one bit of byte `at` flipped."""
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]
