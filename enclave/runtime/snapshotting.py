"""Snapshots in a running node (CCF; DESIGN.md section 4: a node catches up from a snapshot, then the
ledger).

The primary: once `snapshot_interval_txs` transactions have committed since the last snapshot, it takes
one at its ledger commit (a signature transaction) and writes the evidence transaction; once that commits,
the snapshot file (body and the evidence's receipt) goes to the host and Raft's log is compacted to the
snapshot, so Raft ships it (InstallSnapshot) to any node that needs entries before it: a joiner, or a
node that fell far behind. Only the primary snapshots (as in CCF); other nodes keep their whole log.

A node offered a snapshot checks it *before* Raft sees it (`open_offer`): the receipt against the service
certificate, the digest, the private state, and that it is the snapshot Raft says it is; a bad offer is
dropped and changes nothing. A rekey may have happened in the entries the snapshot replaces: the node
learns the ledger secret from the snapshot's public state first, as it would have from those entries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cryptography import x509

from consensus import Snapshot
from enclave.crypto.identity import NodeIdentity
from enclave.ledger.ledger_secrets import LedgerSecretError, LedgerSecrets
from enclave.ledger.txid import TxId
from enclave.ledger.writer import LedgerWriter
from enclave.runtime.rekey import LEDGER_SECRETS, RekeyRecordInvalid, learned_secret
from enclave.snapshots.format import SnapshotFile
from enclave.snapshots.snapshot import (
    OpenedSnapshot,
    SnapshotRejected,
    map_writes,
    open_proven,
    prove_snapshot,
)


@dataclass(frozen=True, slots=True)
class PendingSnapshot:
    """A snapshot taken at `seqno` whose evidence transaction has not committed yet."""

    evidence: TxId
    seqno: int
    body: bytes


def committed_file(pending: PendingSnapshot, writer: LedgerWriter) -> bytes:
    """The snapshot file once the evidence committed: the body and the evidence's receipt."""
    receipt = writer.receipt(pending.evidence.seqno)
    return SnapshotFile(pending.body, json.dumps(receipt.to_json(), sort_keys=True)).encode()


def open_for_node(
    data: bytes, service_cert: x509.Certificate, secrets: LedgerSecrets, node: NodeIdentity
) -> OpenedSnapshot:
    """The checked contents of a snapshot file this node starts from (`SnapshotRejected` otherwise).
    Learns into `secrets` the ledger secret a rekey in the replaced entries handed this node."""
    proven = prove_snapshot(data, service_cert)
    rekey = map_writes(proven.public, LEDGER_SECRETS)
    try:
        learned = None if rekey is None else learned_secret({LEDGER_SECRETS: rekey}, node)
        if learned is not None:
            secrets.learn(*learned)
    except (RekeyRecordInvalid, LedgerSecretError) as exc:
        raise SnapshotRejected(f"the ledger secret the snapshot hands this node: {exc}") from None
    return open_proven(proven, secrets)


def open_offer(
    snapshot: Snapshot, service_cert: x509.Certificate, secrets: LedgerSecrets, node: NodeIdentity
) -> OpenedSnapshot:
    """`open_for_node` for a snapshot Raft was offered, which must be the snapshot Raft says it is."""
    opened = open_for_node(snapshot.data, service_cert, secrets, node)
    body = opened.body
    if (body.seqno, body.view) != (snapshot.index, snapshot.term):
        raise SnapshotRejected(
            f"offered as {snapshot.term}.{snapshot.index}, the snapshot is {body.view}.{body.seqno}"
        )
    if body.configuration != snapshot.configuration:
        raise SnapshotRejected(f"the snapshot at {body.seqno} records another Raft configuration")
    return opened
