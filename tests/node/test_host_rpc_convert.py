"""Protobuf conversion (node/rpc/convert.py): what a client sends is what the enclave gets, and back."""

from __future__ import annotations

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enclave.runtime import messages as m
from node.rpc import convert
from proto.sealchain.v1 import client_pb2

maps = st.text(min_size=1, max_size=20)
keys = st.binary(max_size=40)
txids = st.builds(m.TxRef, st.integers(0, 2**63), st.integers(0, 2**63))
statuses = st.sampled_from(m.TxStatus)
consistencies = st.sampled_from(m.Consistency)


@given(st.builds(m.Put, maps, keys, keys, st.booleans()))
def test_a_put_crosses_unchanged(call: m.Put) -> None:
    assert convert.put_call(convert.put_request(call)) == call


@given(st.builds(m.Delete, maps, keys, st.booleans()))
def test_a_delete_crosses_unchanged(call: m.Delete) -> None:
    assert convert.delete_call(convert.delete_request(call)) == call


@given(st.builds(m.Get, maps, keys, consistencies))
def test_a_get_crosses_unchanged(call: m.Get) -> None:
    assert convert.get_call(convert.get_request(call)) == call


@given(st.builds(m.Scan, maps, keys, st.none() | keys, st.integers(1, 10_000), consistencies))
def test_a_scan_crosses_unchanged(call: m.Scan) -> None:
    assert convert.scan_call(convert.scan_request(call)) == call


def test_a_scan_without_a_limit_gets_the_default_limit() -> None:
    assert convert.scan_call(client_pb2.ScanRequest(map="m")) == m.Scan("m")


@given(st.builds(m.WriteResult, txids, statuses))
def test_a_write_result_crosses_unchanged(result: m.WriteResult) -> None:
    assert convert.write_result(convert.write_response(result)) == result


@given(st.builds(m.GetResult, st.none() | keys, txids))
def test_a_get_result_crosses_unchanged_and_absent_is_not_empty(result: m.GetResult) -> None:
    assert convert.get_result(convert.get_response(result)) == result


@given(st.builds(m.ScanResult, st.lists(st.builds(m.KeyValue, keys, keys), max_size=5).map(tuple), txids))
def test_a_scan_result_crosses_unchanged(result: m.ScanResult) -> None:
    assert convert.scan_result(convert.scan_response(result)) == result


@given(st.builds(m.TxStatusResult, txids, statuses))
def test_a_status_result_crosses_unchanged(result: m.TxStatusResult) -> None:
    assert convert.tx_status_result(convert.tx_status_response(result)) == result


def test_a_receipt_crosses_unchanged() -> None:
    result = m.ReceiptResult('{"cert": "..."}')
    assert convert.receipt_result(convert.receipt_response(result)) == result


@given(
    st.builds(
        m.NodeStatusReport,
        st.just(0),
        st.none() | st.text(min_size=1),
        st.sampled_from(m.LifecycleState),
        st.none() | st.sampled_from(["leader", "follower"]),
        st.integers(0, 2**63),
        txids,
        txids,
        st.none() | st.text(min_size=1),
        st.none() | st.sampled_from(["Opening", "Open"]),
    )
)
def test_a_node_status_crosses_unchanged(report: m.NodeStatusReport) -> None:
    assert convert.node_status_report(convert.node_status_response(report)) == report


def test_a_result_of_the_wrong_kind_is_our_bug_not_the_callers() -> None:
    with pytest.raises(convert.UnexpectedResult, match="a write was answered with GetResult"):
        convert.write_response(m.GetResult(None, m.TxRef(1, 1)))


@pytest.mark.parametrize("code", list(m.ErrorCode))
def test_every_error_code_has_a_status_and_travels_in_metadata(code: m.ErrorCode) -> None:
    error = m.CallError(code, "why")
    assert isinstance(convert.status_code(code), grpc.StatusCode)
    assert convert.error_from_metadata(convert.error_metadata(error)) is code


def test_only_no_primary_not_ready_retired_and_unknown_outcomes_are_retryable() -> None:
    retryable = {
        m.ErrorCode.NO_PRIMARY,
        m.ErrorCode.NOT_READY,
        m.ErrorCode.NODE_RETIRED,
        m.ErrorCode.OUTCOME_UNKNOWN,
    }
    assert retryable == convert.RETRYABLE_ERRORS
    assert convert.status_code(m.ErrorCode.NO_PRIMARY) is grpc.StatusCode.UNAVAILABLE


def test_metadata_without_a_known_code_gives_none() -> None:
    assert convert.error_from_metadata(None) is None
    assert convert.error_from_metadata((("sealchain-error", "Frobnicated"),)) is None
    assert convert.error_from_metadata((("other", "NoPrimary"),)) is None
