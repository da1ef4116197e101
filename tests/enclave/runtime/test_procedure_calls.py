"""Application procedures and conditional puts through the runtime, on one real enclave: a procedure runs
as one transaction answered once committed, a read-only one like a linearizable read, and a refusal
(by the procedure, or a version that moved on) writes nothing."""

from __future__ import annotations

import msgpack

from enclave.runtime import messages as m
from tests.enclave.runtime.node_helpers import ask, open_service, start_alone, tick_for_a_while
from tests.sim.world import Host


def procedure(host: Host, procedure_name: str, **args: object) -> m.CallResult:
    return ask(host, m.CallProcedure(procedure_name, msgpack.packb(args)))


def result_of(answer: m.CallResult) -> object:
    assert isinstance(answer, m.ProcedureResult) and answer.status is m.TxStatus.COMMITTED, answer
    return msgpack.unpackb(answer.result)


def ledger_length(host: Host) -> int:
    return len(host.written.ledger)


def test_smallbank_procedures_run_as_committed_transactions_and_refusals_write_nothing() -> None:
    host, _ = start_alone()
    open_service(host)
    result_of(procedure(host, "smallbank.create_account", name="alice", checking=100, savings=50))
    result_of(procedure(host, "smallbank.create_account", name="bob", checking=0, savings=0))
    result_of(procedure(host, "smallbank.send_payment", **{"from": "alice", "to": "bob", "amount": 70}))

    tick_for_a_while(host)
    before = ledger_length(host)
    refused = procedure(host, "smallbank.send_payment", **{"from": "alice", "to": "bob", "amount": 31})
    unknown = procedure(host, "smallbank.no_such_thing")
    assert ledger_length(host) == before  # refused at once, nothing appended
    balance = procedure(host, "smallbank.balance", name="alice")

    assert isinstance(refused, m.CallError) and refused.code is m.ErrorCode.PROCEDURE_FAILED
    assert refused.message.startswith("InsufficientFunds")
    assert isinstance(unknown, m.CallError) and unknown.message.startswith("UnknownProcedure")
    assert result_of(balance) == {"checking": 30, "savings": 50, "total": 80}
    assert ledger_length(host) == before  # a read-only procedure is a read


def test_a_conditional_put_writes_only_over_the_version_it_expects() -> None:
    host, _ = start_alone()
    open_service(host)
    created = ask(host, m.Put("records", b"k", b"v1", expected_version=0))
    assert isinstance(created, m.WriteResult) and created.status is m.TxStatus.COMMITTED
    read = ask(host, m.Get("records", b"k"))
    assert isinstance(read, m.GetResult) and read.version == created.txid.seqno

    stale = ask(host, m.Put("records", b"k", b"v2", expected_version=0))
    current = ask(host, m.Put("records", b"k", b"v3", expected_version=read.version))

    assert isinstance(stale, m.CallError) and stale.code is m.ErrorCode.VERSION_MISMATCH
    assert isinstance(current, m.WriteResult) and current.status is m.TxStatus.COMMITTED
    final = ask(host, m.Get("records", b"k"))
    assert isinstance(final, m.GetResult) and (final.value, final.version) == (b"v3", current.txid.seqno)
