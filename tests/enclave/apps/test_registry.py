"""The registry: procedures by name, strict msgpack arguments, msgpack results."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enclave.apps import registry
from enclave.apps.api import ErrorCode, ProcedureError
from enclave.kv.store import KvStore
from tests.enclave.apps.calls import ALICE, call


def test_every_procedure_is_named_app_dot_procedure_and_documented() -> None:
    for name, procedure in registry.PROCEDURES.items():
        assert procedure.name == name
        app, _, verb = name.partition(".")
        assert app in {"kv", "smallbank"} and verb
        assert procedure.doc
    assert {"kv.put", "kv.get", "kv.delete", "kv.scan", "smallbank.send_payment"} <= set(registry.PROCEDURES)


def test_read_only_flags_match_the_apps() -> None:
    read_only = {name for name, procedure in registry.PROCEDURES.items() if procedure.read_only}
    assert read_only == {"kv.get", "kv.scan", "smallbank.balance"}


def test_an_unknown_procedure_is_refused_by_name() -> None:
    with pytest.raises(ProcedureError) as refused:
        registry.find("bank.steal")
    assert refused.value.code == "UnknownProcedure"
    assert "bank.steal" in refused.value.message


def test_error_codes_are_plain_text() -> None:
    error = ProcedureError(ErrorCode.BAD_AMOUNT, "no")
    assert type(error.code) is str and error.code == "BadAmount"


def test_empty_arguments_are_an_empty_map() -> None:
    assert registry.decode_args(b"") == {}


def test_a_map_with_text_keys_decodes_to_its_values() -> None:
    raw = msgpack.packb({"map": "m", "key": b"k", "limit": 3, "flag": True, "nothing": None})
    assert registry.decode_args(raw) == {"map": "m", "key": b"k", "limit": 3, "flag": True, "nothing": None}


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (msgpack.packb([1, 2]), "a list"),
        (msgpack.packb("map"), "a string"),
        (msgpack.packb(None), "nil"),
        (msgpack.packb({1: 2}), "an integer key"),
        (msgpack.packb({b"key": 2}), "a bytes key"),
        (msgpack.packb({"a": {(1,): 2}}), "a list as a nested key"),
        (msgpack.packb({"a": 1}) + b"\x00", "trailing bytes"),
        (msgpack.packb({"a": 1})[:-1], "truncated"),
        (b"\x82\xa1a\x01\xa1a\x02", "a repeated key"),
        (b"\x81\xa1a\xc1", "the reserved byte 0xc1"),
        (b"\x81\xa1a\xa2\xff\xfe", "text that is not UTF-8"),
        (msgpack.packb({"a": msgpack.ExtType(5, b"x")}), "an extension type"),
        (b"\x91" * 100_000, "nesting deeper than msgpack's stack"),
    ],
)
def test_malformed_arguments_are_invalid_arguments(raw: bytes, why: str) -> None:
    with pytest.raises(ProcedureError) as refused:
        registry.decode_args(raw)
    assert refused.value.code == "InvalidArguments", why


@given(st.binary(max_size=64))
def test_any_bytes_decode_to_a_text_keyed_map_or_invalid_arguments(raw: bytes) -> None:
    try:
        args = registry.decode_args(raw)
    except ProcedureError as refused:
        assert refused.code == "InvalidArguments"
    else:
        assert all(type(name) is str for name in args)


def test_run_decodes_runs_and_encodes() -> None:
    store = KvStore()
    assert call(store, "kv.put", {"map": "kv-map", "key": b"k", "value": b"v"}) == {}
    tx = store.begin()
    raw = registry.run(tx, "kv.get", msgpack.packb({"map": "kv-map", "key": b"k"}), ALICE)
    assert msgpack.unpackb(raw) == {"value": b"v"}
    assert not tx.has_writes()


def test_run_refuses_an_unknown_procedure_before_decoding_its_arguments() -> None:
    with pytest.raises(ProcedureError) as refused:
        registry.run(KvStore().begin(), "kv.nope", b"\xc1", ALICE)
    assert refused.value.code == "UnknownProcedure"


def test_encode_result_is_msgpack() -> None:
    assert msgpack.unpackb(registry.encode_result({"items": [[b"k", b"v"]]})) == {"items": [[b"k", b"v"]]}
