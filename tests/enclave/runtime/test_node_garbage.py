"""Whatever bytes a peer, a joiner or the host's network hands a running node, it answers with a refusal
and changes nothing (never an unhandled exception)."""

from __future__ import annotations

import functools

from hypothesis import given, settings
from hypothesis import strategies as st

from enclave.runtime import join_wire
from enclave.runtime import messages as m
from tests.enclave.runtime.node_helpers import give, start_alone
from tests.sim.world import Host

peer_ids = st.sampled_from(["ab" * 32, "not a node id", "", "AB" * 32])


@functools.cache
def service() -> Host:
    host, _ = start_alone(seed=21)
    return host


@settings(max_examples=200, deadline=None)
@given(peer_ids, st.binary(max_size=400))
def test_garbage_peer_frames_are_refused(sender: str, frame: bytes) -> None:
    host = service()
    before = list(host.written.ledger)
    effects = give(host, m.PeerMessage(sender, frame))
    assert [type(e) for e in effects] == [m.Log]
    assert host.written.ledger == before


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_garbage_join_requests_are_rejected(request: bytes) -> None:
    host = service()
    before = list(host.written.ledger)
    (answer,) = give(host, m.JoinRequestReceived(1, request))
    assert isinstance(answer, m.RespondToJoin)
    assert isinstance(join_wire.decode_response(answer.response), join_wire.JoinRejected)
    assert host.written.ledger == before
