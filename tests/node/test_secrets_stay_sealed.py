"""Secrets stay sealed: one transaction pipeline, and every byte the host can see is searched.

The enclave executes transactions on its KV store, the ledger writer serialises and encrypts them, the host
appends the entries to ledger files and materialises committed state in LMDB. Private plaintext (keys and
values), the ledger secret and the state key must appear in none of the files nor in the logs; public
values must (they are meant to be auditable).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from enclave.kv.execute import execute
from enclave.kv.state_sealing import StateSealer
from enclave.kv.store import KvStore
from enclave.kv.transaction import Committed, Transaction
from enclave.kv.write_set import WriteSet
from enclave.ledger.signatures import SignaturePolicy
from enclave.ledger.tables import genesis_write_set
from node.ledger_files import FsyncPolicy, LedgerFiles
from node.state_store import StateStore
from tests.enclave.ledger.ledger_scenario import Service

PRIVATE_KEY_PLAINTEXT = b"PRIVATE-KEY-c41e"
PRIVATE_VALUE_PLAINTEXT = b"PRIVATE-VALUE-9b07"
PUBLIC_VALUE = b"PUBLIC-VALUE-3d55"
STATE_KEY = bytes.fromhex("a7" * 32)
TERM = 2


def run_pipeline(service: Service, ledger_dir: Path, state_dir: Path, transactions: int) -> None:
    store = KvStore()
    writer = service.writer(SignaturePolicy(max_transactions=4, max_interval_ms=10_000))
    files = LedgerFiles(ledger_dir, chunk_size=2_000, fsync=FsyncPolicy.ON_FLUSH)
    sealer = StateSealer(STATE_KEY)
    genesis_writes = genesis_write_set(service.service.cert_pem, service.node)
    genesis = writer.append(genesis_writes, TERM)
    store.apply(genesis_writes, genesis.txid.seqno)
    files.append(genesis.txid.seqno, genesis.raw, genesis.committable)

    with StateStore(state_dir) as state_store:
        for i in range(transactions):

            def write(tx: Transaction, i: int = i) -> None:
                tx.put("accounts", PRIVATE_KEY_PLAINTEXT + b"%d" % i, PRIVATE_VALUE_PLAINTEXT + b"%d" % i)
                tx.put("public:notices", b"n%d" % i, PUBLIC_VALUE)

            result = execute(store, write).result
            assert isinstance(result, Committed)
            entry = writer.append(result.write_set, TERM)
            files.append(entry.txid.seqno, entry.raw, entry.committable)
            signature = writer.maybe_sign(now_ms=i)
            if signature is not None:
                store.apply(WriteSet(), signature.txid.seqno)
                files.append(signature.txid.seqno, signature.raw, signature.committable)
                files.flush()
                files.commit(signature.txid.seqno)
                state_store.submit(sealer.seal(store.commit(signature.txid.seqno))).result(timeout=30)
    files.close()


def test_nothing_the_host_sees_holds_private_plaintext_or_keys(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service = Service.create(seed=7)
    with caplog.at_level(logging.DEBUG):
        run_pipeline(service, tmp_path / "ledger", tmp_path / "state", transactions=12)

    host_files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert {path.parent.name for path in host_files} == {"ledger", "state"}
    visible = b"".join(path.read_bytes() for path in host_files) + caplog.text.encode()

    ledger_key = service.secret.key
    for secret in (
        PRIVATE_KEY_PLAINTEXT,
        PRIVATE_VALUE_PLAINTEXT,
        ledger_key,
        ledger_key.hex().encode(),
        service.secret.commit_secret,
        STATE_KEY,
        STATE_KEY.hex().encode(),
    ):
        assert secret not in visible
    for folder in ("ledger", "state"):
        assert PUBLIC_VALUE in b"".join(p.read_bytes() for p in (tmp_path / folder).iterdir())
