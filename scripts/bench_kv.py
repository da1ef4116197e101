"""Transaction path benchmark, one process on one core: transactions per second through KV execute +
serialise + encrypt + hash + append to ledger files (without fsync, with a group fsync per batch, with an
fsync per transaction), and receipt generation and verification per second. Prints throughput and latency
percentiles.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from enclave.crypto.identity import NodeIdentity, ServiceIdentity
from enclave.crypto.keys import identity_key_from_entropy
from enclave.kv.execute import execute
from enclave.kv.store import KvStore
from enclave.kv.transaction import Committed, Transaction
from enclave.kv.write_set import WriteSet
from enclave.ledger.ledger_secrets import LedgerSecret, LedgerSecrets
from enclave.ledger.receipts import verify_receipt
from enclave.ledger.signatures import SignaturePolicy
from enclave.ledger.tables import genesis_write_set
from enclave.ledger.writer import LedgerWriter
from node.ledger_files import FsyncPolicy, LedgerFiles

PRIVATE_VALUE_SIZE = 100
TERM = 2


def execute_put(store: KvStore, i: int) -> WriteSet:
    """One transaction: put a 100-byte value into a private map, executed (and validated) by the KV store."""
    key = f"account-{i:010d}".encode()
    value = (f"balance={i};" * 10).encode()[:PRIVATE_VALUE_SIZE].ljust(PRIVATE_VALUE_SIZE, b".")

    def put(tx: Transaction) -> None:
        tx.put("accounts", key, value)

    result = execute(store, put).result
    assert isinstance(result, Committed)
    return result.write_set


@dataclass(frozen=True)
class Identities:
    service: ServiceIdentity
    node: NodeIdentity
    secrets: LedgerSecrets


def make_identities() -> Identities:
    now = datetime.now(UTC)
    service = ServiceIdentity.create(os.urandom(64), not_before=now, not_after=now + timedelta(days=1))
    node = service.endorse(
        identity_key_from_entropy(os.urandom(64)),
        ["127.0.0.1"],
        not_before=now,
        not_after=now + timedelta(days=1),
    )
    return Identities(service, node, LedgerSecrets.single(LedgerSecret(os.urandom(32))))


def now_ms() -> int:
    return time.monotonic_ns() // 1_000_000


@dataclass(frozen=True)
class Result:
    label: str
    count: int
    seconds: float
    latencies_ns: list[int]

    def line(self) -> str:
        ordered = sorted(self.latencies_ns)

        def pct(p: float) -> str:
            return f"{ordered[min(len(ordered) - 1, int(p * len(ordered)))] / 1000:8.1f}"

        return (
            f"{self.label:<34} {self.count / self.seconds:>10,.0f}/s   "
            f"p50 {pct(0.50)}  p90 {pct(0.90)}  p99 {pct(0.99)}  max {ordered[-1] / 1000:8.1f} us"
        )


def run_ledger(
    ids: Identities, count: int, policy: SignaturePolicy, *, fsync: FsyncPolicy, group: int, label: str
) -> tuple[Result, LedgerWriter]:
    """Appends `count` transactions; with ON_FLUSH, a group fsync closes every batch of `group`."""
    with tempfile.TemporaryDirectory(prefix="bench-kv-") as directory:
        files = LedgerFiles(Path(directory), fsync=fsync)
        writer = LedgerWriter(ids.node, ids.secrets, policy, now_ms())
        store = KvStore()
        genesis_writes = genesis_write_set(ids.service.cert_pem, ids.node)
        genesis = writer.append(genesis_writes, TERM)
        store.apply(genesis_writes, genesis.txid.seqno)
        files.append(genesis.txid.seqno, genesis.raw, genesis.committable)
        latencies: list[int] = []
        started = time.perf_counter_ns()
        for i in range(count):
            t0 = time.perf_counter_ns()
            entry = writer.append(execute_put(store, i), TERM)
            files.append(entry.txid.seqno, entry.raw, entry.committable)
            signature = writer.maybe_sign(now_ms())
            if signature is not None:
                # The signature's writes are public bookkeeping the KV store never reads here; an empty
                # apply keeps KV versions equal to ledger seqnos, as the node runtime must.
                store.apply(WriteSet(), signature.txid.seqno)
                files.append(signature.txid.seqno, signature.raw, signature.committable)
            if fsync is FsyncPolicy.ON_FLUSH and (i + 1) % group == 0:
                files.flush()
                store.commit(store.version)
            latencies.append(time.perf_counter_ns() - t0)
        files.close()
        seconds = (time.perf_counter_ns() - started) / 1e9
    return Result(label, count, seconds, latencies), writer


def run_timed(label: str, count: int, action: Callable[[int], object]) -> Result:
    latencies: list[int] = []
    started = time.perf_counter_ns()
    for i in range(count):
        t0 = time.perf_counter_ns()
        action(i)
        latencies.append(time.perf_counter_ns() - t0)
    return Result(label, count, (time.perf_counter_ns() - started) / 1e9, latencies)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--transactions", type=int, default=20_000)
    parser.add_argument("--fsync-transactions", type=int, default=1_000, help="for the fsync-per-tx run")
    parser.add_argument("--group", type=int, default=100, help="transactions per group fsync")
    parser.add_argument("--receipts", type=int, default=2_000)
    parser.add_argument("--sig-tx-interval", type=int, default=5_000)
    parser.add_argument("--sig-ms-interval", type=int, default=1_000)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    ids = make_identities()
    policy = SignaturePolicy(args.sig_tx_interval, args.sig_ms_interval)
    print(
        f"KV execute + ledger path, {PRIVATE_VALUE_SIZE}-byte private values, a signature every "
        f"{policy.max_transactions} tx or {policy.max_interval_ms} ms; latencies per transaction"
    )
    results = []
    no_sync, writer = run_ledger(
        ids, args.transactions, policy, fsync=FsyncPolicy.NEVER, group=0, label="append, no fsync"
    )
    results.append(no_sync)
    grouped, _ = run_ledger(
        ids,
        args.transactions,
        policy,
        fsync=FsyncPolicy.ON_FLUSH,
        group=args.group,
        label=f"append, group fsync every {args.group}",
    )
    results.append(grouped)
    each, _ = run_ledger(
        ids,
        args.fsync_transactions,
        policy,
        fsync=FsyncPolicy.EVERY_APPEND,
        group=0,
        label="append, fsync every tx",
    )
    results.append(each)

    if writer.unsigned_transactions:
        writer.sign(now_ms())
    rng = random.Random(1)
    last = writer.last_signature_seqno - 1
    seqnos = [rng.randint(1, last) for _ in range(args.receipts)]
    receipts = [writer.receipt(s) for s in seqnos]
    results.append(run_timed("receipt generation", args.receipts, lambda i: writer.receipt(seqnos[i])))
    cert = ids.service.cert
    results.append(
        run_timed("receipt verification", args.receipts, lambda i: verify_receipt(receipts[i], cert))
    )

    for result in results:
        print(result.line())
    sizes = [len(writer.receipt(s).to_json()["proof"]) for s in seqnos[:100]]
    print(
        f"(receipt proofs: {statistics.mean(sizes):.1f} steps on average, "
        f"{writer.last_txid.seqno} entries in the tree)"
    )


if __name__ == "__main__":
    main()
