"""Genesis, users and governance that does not fit the state, on one real enclave."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest

from enclave.crypto.certs import load_certificate_pem
from enclave.ledger.audit import audit_ledger
from enclave.ledger.receipts import Receipt, verify_receipt
from enclave.runtime import messages as m
from node.ledger_files import LedgerFiles
from tests.enclave.runtime.node_helpers import (
    give,
    open_service,
    pass_proposal,
    put,
    start_alone,
    tick_for_a_while,
)
from tests.sim.simulation import MAP
from tests.sim.world import EPOCH_MS, SETTINGS, addresses, new_enclave, provisioned


def test_genesis_writes_a_ledger_that_the_auditor_accepts(tmp_path: Path) -> None:
    enclave = new_enclave(0, random.Random(1))
    effects = enclave.handle(
        m.StartNetwork(EPOCH_MS, addresses(0), (), (provisioned().user_cert_pem,), SETTINGS)
    )
    files = LedgerFiles(tmp_path)
    for effect in effects:
        match effect:
            case m.AppendLedger():
                files.append(effect.seqno, effect.raw, effect.committable)
            case m.CommitLedger():
                files.commit(effect.seqno)
            case m.Flush():
                files.flush()
            case _:
                pass
    files.close()
    report = audit_ledger(
        sorted(p.name for p in tmp_path.iterdir()), lambda name: (tmp_path / name).read_bytes()
    )
    assert report.ok, report.failure
    assert report.last_verified is not None and report.last_verified.seqno >= 2
    (created,) = [e for e in effects if isinstance(e, m.ServiceCreated)]
    assert report.service_cert_pem == created.service_cert_pem


def test_writes_before_the_service_opens_are_refused() -> None:
    host, _ = start_alone()
    give(host, put(b"k", 1))
    assert host.answers[1] == m.CallError(
        m.ErrorCode.SERVICE_NOT_OPEN, "the service is not open to users yet"
    )


def test_a_caller_who_is_not_a_user_is_refused() -> None:
    host, _ = start_alone()
    open_service(host)
    give(host, put(b"k", 1, provisioned().stranger_cert_der))
    result = host.answers[1]
    assert isinstance(result, m.CallError) and result.code is m.ErrorCode.NOT_A_USER


def test_reserved_maps_are_refused() -> None:
    host, _ = start_alone()
    open_service(host)
    call = m.Put("public:ccf.gov.users.certs", b"k", b"v")
    give(host, m.ClientRequest(1, provisioned().user_cert_der, call))
    result = host.answers[1]
    assert isinstance(result, m.CallError) and result.code is m.ErrorCode.RESERVED_MAP


def test_a_user_writes_reads_and_gets_a_receipt() -> None:
    host, _ = start_alone()
    open_service(host)
    give(host, put(b"k", 1))
    tick_for_a_while(host)
    result = host.answers[1]
    assert isinstance(result, m.WriteResult) and result.status is m.TxStatus.COMMITTED
    user = provisioned().user_cert_der
    give(host, m.ClientRequest(2, user, m.Get(MAP, b"k")))
    give(host, m.ClientRequest(3, user, m.GetTxStatus(result.txid)))
    give(host, m.ClientRequest(4, user, m.GetReceipt(result.txid)))
    read = host.answers[2]
    assert read == m.GetResult(b"value", read.txid, version=result.txid.seqno)  # type: ignore[union-attr]
    assert host.answers[3] == m.TxStatusResult(result.txid, m.TxStatus.COMMITTED)
    receipt = host.answers[4]
    assert isinstance(receipt, m.ReceiptResult)
    assert host.service_cert_pem is not None
    service_cert = load_certificate_pem(host.service_cert_pem.encode())
    verified = verify_receipt(Receipt.from_json(json.loads(receipt.receipt_json)), service_cert)
    assert (verified.view, verified.seqno) == (result.txid.view, result.txid.seqno)


def test_governance_actions_that_do_not_fit_the_state_fail() -> None:
    service, _ = start_alone()
    open_service(service)
    unknown = pass_proposal(
        service, ("transition_node_to_trusted", {"node_id": "ab" * 32, "valid_from": "20260601000000Z"})
    )
    again = pass_proposal(service, ("transition_service_to_open", {}))
    assert [unknown.proposal_state, again.proposal_state] == ["Failed", "Failed"]
    assert "does not exist" in unknown.body_json and "cannot open from Open" in again.body_json


def test_the_node_reports_its_status() -> None:
    host, _ = start_alone()
    open_service(host)
    give(host, m.NodeStatusQuery(5))
    (status,) = host.statuses
    assert status.state is m.LifecycleState.TRUSTED
    assert status.role == "leader" and status.service_status == "Open"
    assert status.commit == status.last


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"max_inflight_appends": 0}, "max_inflight_appends must be positive, not 0"),
        ({"election_ticks": 1}, "election_ticks must exceed heartbeat_ticks"),
        ({"signature_interval_ms": -5}, "signature_interval_ms must be positive, not -5"),
    ],
)
def test_settings_no_node_could_run_with_are_refused_and_change_nothing(
    change: dict[str, int], reason: str
) -> None:
    enclave = new_enclave(0, random.Random(4))
    good = m.StartNetwork(EPOCH_MS, addresses(0), (), (provisioned().user_cert_pem,), SETTINGS)

    (refusal,) = enclave.handle(replace(good, settings=replace(SETTINGS, **change)))

    assert isinstance(refusal, m.Log) and refusal.level is m.LogLevel.ERROR
    assert "InvalidSettings" in refusal.text and reason in refusal.text
    assert enclave.state is m.LifecycleState.UNINITIALIZED
    assert isinstance(enclave.handle(good)[0], m.ServiceCreated)
