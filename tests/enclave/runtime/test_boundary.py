"""The host/enclave byte boundary: every message round-trips; bad bytes get a specific error, no crash."""

from __future__ import annotations

import contextlib
import dataclasses
import random
import types
from enum import Enum
from typing import Any, Union, get_args, get_origin, get_type_hints

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enclave.runtime import messages as m
from enclave.runtime.boundary import (
    BOUNDARY_VERSION,
    EFFECT_TYPES,
    INPUT_TYPES,
    BoundaryError,
    EnclaveBoundary,
    MalformedMessage,
    UnsupportedBoundaryVersion,
    decode_effects,
    decode_input,
    encode_effects,
    encode_input,
)
from tests.sim.world import EPOCH_MS, SETTINGS, addresses, new_enclave, provisioned


def strategy_for(hint: Any) -> st.SearchStrategy[Any]:
    """Values of a declared field type, within what msgpack carries."""
    if get_origin(hint) is Union or isinstance(hint, types.UnionType):
        return st.one_of(*(strategy_for(option) for option in get_args(hint)))
    if get_origin(hint) is tuple:
        return st.lists(strategy_for(get_args(hint)[0]), max_size=3).map(tuple)
    if hint is type(None):
        return st.none()
    if hint is int:
        return st.integers(-(1 << 63), (1 << 64) - 1)
    if hint in (bool, str, bytes):
        return st.from_type(hint)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return st.sampled_from(hint)
    return message_of(hint)


def message_of(cls: type[Any]) -> st.SearchStrategy[Any]:
    hints = get_type_hints(cls)
    return st.builds(cls, **{f.name: strategy_for(hints[f.name]) for f in dataclasses.fields(cls)})


inputs = st.one_of(*(message_of(cls) for cls in INPUT_TYPES))
effects = st.lists(st.one_of(*(message_of(cls) for cls in EFFECT_TYPES)), max_size=4)


@given(inputs)
def test_every_input_round_trips(message: m.HostInput) -> None:
    assert decode_input(encode_input(message)) == message


@given(effects)
def test_every_effect_round_trips(batch: list[m.Effect]) -> None:
    assert decode_effects(encode_effects(batch)) == batch


@given(st.binary(max_size=200))
def test_garbage_gives_a_boundary_error(data: bytes) -> None:
    with contextlib.suppress(BoundaryError):
        decode_input(data)
    with contextlib.suppress(BoundaryError):
        decode_effects(data)


@given(inputs, st.data())
def test_truncated_input_is_malformed(message: m.HostInput, data: st.DataObject) -> None:
    encoded = encode_input(message)
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(MalformedMessage):
        decode_input(encoded[:cut])


@given(inputs, st.data())
def test_a_flipped_byte_decodes_or_gives_a_boundary_error(message: m.HostInput, data: st.DataObject) -> None:
    encoded = bytearray(encode_input(message))
    position = data.draw(st.integers(0, len(encoded) - 1))
    encoded[position] ^= data.draw(st.integers(1, 255))
    with contextlib.suppress(BoundaryError):
        decode_input(bytes(encoded))


@pytest.mark.parametrize(
    "message",
    [
        m.ClientRequest(7, b"cert", m.GovSubmit(b"\xd2\x84signed")),
        m.ClientRequest(0, b"", m.GovRead(m.GovTable.PROPOSALS, "ab" * 32)),
        m.ClientRequest(3, b"cert", m.GovRead(m.GovTable.MEMBERS)),
    ],
)
def test_governance_calls_round_trip(message: m.HostInput) -> None:
    assert decode_input(encode_input(message)) == message


@pytest.mark.parametrize(
    "result",
    [
        m.GovernanceResult(m.TxRef(2, 9), m.TxStatus.COMMITTED, "ab" * 32, "Open", "{}"),
        m.GovernanceResult(m.TxRef(2, 9), m.TxStatus.INVALID, None, None, '{"state_digest": "00"}'),
        m.GovernanceRows("[]", m.TxRef(3, 1)),
    ],
)
def test_governance_results_round_trip(result: m.CallResult) -> None:
    batch: list[m.Effect] = [m.RespondToClient(5, result)]
    assert decode_effects(encode_effects(batch)) == batch


@pytest.mark.parametrize(
    "batch",
    [
        [m.ClientCertificates(())],
        [m.ClientCertificates(("-----BEGIN CERTIFICATE-----\nA\n", "-----BEGIN CERTIFICATE-----\nB\n"))],
        [m.ClientCertificates(("x",)), m.PeerAddresses((m.PeerAddress("n", "127.0.0.1:1"),))],
    ],
)
def test_client_certificates_round_trip(batch: list[m.Effect]) -> None:
    assert decode_effects(encode_effects(batch)) == batch


def test_client_certificates_are_strings_only() -> None:
    body = [["ClientCertificates", [b"not text"]]]
    with pytest.raises(MalformedMessage, match="expected str"):
        decode_effects(msgpack.packb([BOUNDARY_VERSION, body], use_bin_type=True))


def test_another_version_is_refused_by_name() -> None:
    body = msgpack.unpackb(encode_input(m.Tick(5)))[1]
    with pytest.raises(UnsupportedBoundaryVersion):
        decode_input(msgpack.packb([BOUNDARY_VERSION + 1, body]))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (["Tick"], "fields"),
        (["Tick", 1, 2], "fields"),
        (["Tick", "5"], "expected int"),
        (["Tick", True], "expected int"),
        (["Nope", 1], "unexpected message type"),
        (["Flush"], "unexpected message type"),  # an effect is not an input
        (["PeerMessage", "n", "frame as str"], "expected bytes"),
        (["ClientRequest", 1, b"", ["Tick", 1]], "unexpected message type"),
        (["ClientRequest", 1, b"", ["Get", "m", b"k", "sideways"]], "not a Consistency"),
    ],
)
def test_wrong_shapes_are_malformed(body: list[object], reason: str) -> None:
    with pytest.raises(MalformedMessage, match=reason):
        decode_input(msgpack.packb([BOUNDARY_VERSION, body], use_bin_type=True))


def test_trailing_bytes_are_malformed() -> None:
    with pytest.raises(MalformedMessage):
        decode_input(encode_input(m.Tick(5)) + b"\x00")


def test_extension_types_are_malformed() -> None:
    data = msgpack.packb([BOUNDARY_VERSION, ["Tick", msgpack.ExtType(5, b"x")]])
    with pytest.raises(MalformedMessage, match="extension"):
        decode_input(data)


def test_the_boundary_carries_a_real_enclave_both_ways() -> None:
    boundary = EnclaveBoundary(new_enclave(0, random.Random(4)))
    start = m.StartNetwork(EPOCH_MS, addresses(0), (), (provisioned().user_cert_pem,), SETTINGS)
    effects = decode_effects(boundary.handle(encode_input(start)))
    assert isinstance(effects[0], m.ServiceCreated)
    assert any(isinstance(effect, m.AppendLedger) for effect in effects)


def test_the_boundary_refuses_garbage_before_the_enclave_sees_it() -> None:
    enclave = new_enclave(0, random.Random(4))
    with pytest.raises(MalformedMessage):
        EnclaveBoundary(enclave).handle(b"\xc1")
    assert enclave.state is m.LifecycleState.UNINITIALIZED
