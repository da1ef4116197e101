"""Node-to-node handshake scenarios: who may open a channel, and what a recorded handshake is worth."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from enclave.crypto.ids import NodeId
from enclave.crypto.keys import sign_digest
from enclave.runtime.channel_errors import (
    BadHandshakeSignature,
    CertificateNotEndorsed,
    ChannelUsageError,
    MalformedFrame,
    NotEstablished,
    StaleHandshake,
    UnexpectedHandshake,
    UnexpectedPeer,
    UnknownSession,
    UnsupportedVersion,
)
from enclave.runtime.channel_handshake import EphemeralShare, make_init, transcript_digest
from enclave.runtime.channel_wire import HandshakeInit, decode_frame
from enclave.runtime.channels import (
    Channel,
    ChannelState,
    SealedReceived,
    SendToPeer,
    SessionEstablished,
)
from tests.enclave.runtime.channel_world import channel, connect, connected_pair, frames_to_send, world


def test_a_handshake_gives_both_ends_the_same_session_and_a_two_way_channel() -> None:
    low, high = channel(world().low, world().high), channel(world().high, world().low)
    init = low.initiate()
    assert low.state is ChannelState.INITIATED

    [response] = frames_to_send(high.receive(init))
    # No session before the initiator proves that the handshake is fresh.
    assert (high.state, high.session_id) == (ChannelState.RESPONDED, None)

    [finish, opened] = low.receive(response)
    assert isinstance(finish, SendToPeer)
    assert isinstance(opened, SessionEstablished)
    assert (low.state, low.session_id) == (ChannelState.ESTABLISHED, opened.session_id)

    assert high.receive(finish.frame) == [opened]
    assert (high.state, high.session_id) == (ChannelState.ESTABLISHED, opened.session_id)

    assert high.receive(low.seal(b"append entries", header=b"raft")) == [
        SealedReceived(b"raft", b"append entries")
    ]
    assert low.receive(high.seal(b"ack")) == [SealedReceived(b"", b"ack")]


def test_sending_before_the_handshake_is_our_bug_and_receiving_data_before_it_is_rejected() -> None:
    low, _ = connected_pair()
    fresh_high = channel(world().high, world().low, seed=1)
    with pytest.raises(ChannelUsageError):
        fresh_high.seal(b"too early")
    with pytest.raises(NotEstablished):
        fresh_high.receive(low.seal(b"for the previous incarnation"))
    assert fresh_high.state is ChannelState.CLOSED


@pytest.mark.parametrize("low_init_arrives_first", [True, False])
def test_simultaneous_open_settles_on_the_lower_node_ids_handshake(low_init_arrives_first: bool) -> None:
    low, high = channel(world().low, world().high), channel(world().high, world().low)
    low_init, high_init = low.initiate(), high.initiate()

    def deliver_low_init() -> list[bytes]:
        return frames_to_send(high.receive(low_init))

    def deliver_high_init() -> list[bytes]:
        return frames_to_send(low.receive(high_init))

    if low_init_arrives_first:
        answers, ignored = deliver_low_init(), deliver_high_init()
    else:
        ignored, answers = deliver_high_init(), deliver_low_init()

    assert ignored == []  # low's own INIT wins; it does not answer high's
    assert high.state is ChannelState.RESPONDED
    [finish] = frames_to_send(low.receive(answers[0]))
    high.receive(finish)
    assert (low.state, high.state) == (ChannelState.ESTABLISHED, ChannelState.ESTABLISHED)
    assert low.session_id == high.session_id
    assert high.receive(low.seal(b"hello")) == [SealedReceived(b"", b"hello")]


def test_a_duplicated_init_gets_the_same_response_so_both_ends_agree() -> None:
    low, high = channel(world().low, world().high), channel(world().high, world().low)
    init = low.initiate()
    [response] = frames_to_send(high.receive(init))
    assert frames_to_send(high.receive(init)) == [response]
    high.receive(frames_to_send(low.receive(response))[0])
    assert low.session_id == high.session_id is not None
    assert high.receive(init) == []  # once more, after the session is open: ignored
    assert high.state is ChannelState.ESTABLISHED


def test_after_the_peer_restarts_a_new_handshake_replaces_the_session_and_old_frames_are_rejected() -> None:
    low, high = connected_pair()
    old_session = high.session_id
    sent_before_the_restart = low.seal(b"from the old session")

    restarted_low = channel(world().low, world().high, seed=1)
    events = high.receive(restarted_low.initiate())
    assert high.session_id == old_session  # still usable until the new handshake completes
    [finish] = frames_to_send(restarted_low.receive(frames_to_send(events)[0]))
    high.receive(finish)

    assert high.session_id == restarted_low.session_id != old_session
    with pytest.raises(UnknownSession):
        high.receive(sent_before_the_restart)
    assert high.receive(restarted_low.seal(b"new")) == [SealedReceived(b"", b"new")]
    assert restarted_low.receive(high.seal(b"welcome back")) == [SealedReceived(b"", b"welcome back")]


def test_the_current_session_keeps_working_while_a_new_handshake_is_in_progress() -> None:
    low, high = connected_pair()
    high.receive(channel(world().low, world().high, seed=1).initiate())  # a restarted low, never finished
    assert high.state is ChannelState.RESPONDED
    assert high.receive(low.seal(b"still here")) == [SealedReceived(b"", b"still here")]
    assert low.receive(high.seal(b"me too")) == [SealedReceived(b"", b"me too")]


def test_a_recorded_handshake_replayed_to_a_restarted_node_does_not_yield_a_session() -> None:
    low = channel(world().low, world().high)
    init, _, finish = connect(low, channel(world().high, world().low))

    restarted_high = channel(world().high, world().low, seed=1)
    assert len(frames_to_send(restarted_high.receive(init))) == 1  # it answers; only low could go on
    with pytest.raises(StaleHandshake):
        restarted_high.receive(finish)
    assert restarted_high.session_id is None
    assert restarted_high.state is ChannelState.RESPONDED


def test_a_recorded_response_does_not_complete_a_new_handshake() -> None:
    low = channel(world().low, world().high)
    _, response, _ = connect(low, channel(world().high, world().low))
    session = low.session_id

    with pytest.raises(UnexpectedHandshake):
        low.receive(response)  # no handshake of low's is waiting for one
    low.initiate()
    with pytest.raises(StaleHandshake):
        low.receive(response)
    assert low.state is ChannelState.INITIATED
    assert low.session_id == session


def test_a_finish_without_a_handshake_in_progress_is_rejected() -> None:
    low = channel(world().low, world().high)
    high = channel(world().high, world().low)
    _, _, finish = connect(low, high)
    with pytest.raises(UnexpectedHandshake):
        high.receive(finish)
    assert high.state is ChannelState.ESTABLISHED


def test_a_node_certified_by_another_service_is_rejected_as_initiator_and_as_responder() -> None:
    low = channel(world().low, world().high)
    impostor_initiator = channel(world().high_of_other_service, world().low)
    with pytest.raises(CertificateNotEndorsed):
        low.receive(impostor_initiator.initiate())
    assert low.state is ChannelState.CLOSED

    impostor_responder = channel(world().high_of_other_service, world().low)
    [response] = frames_to_send(impostor_responder.receive(low.initiate()))
    with pytest.raises(CertificateNotEndorsed):
        low.receive(response)
    assert (low.state, low.session_id) == (ChannelState.INITIATED, None)


def test_a_node_claiming_another_nodes_id_with_its_own_certificate_is_rejected() -> None:
    share = EphemeralShare.fresh(random.Random(7).randbytes)
    by_mallory = make_init(world().mallory, world().low.node_id, share)
    claiming_to_be_high = replace(by_mallory, sender=world().high.node_id)
    low = channel(world().low, world().high)
    with pytest.raises(UnexpectedPeer):
        low.receive(claiming_to_be_high.encode())
    with pytest.raises(UnexpectedPeer):
        low.receive(by_mallory.encode())  # mallory as herself: not the peer of this channel
    assert low.state is ChannelState.CLOSED


def test_a_node_presenting_another_nodes_certificate_cannot_sign_for_it() -> None:
    share = EphemeralShare.fresh(random.Random(7).randbytes)
    genuine = make_init(world().high, world().low.node_id, share)
    forged = replace(genuine, nonce=bytes(32))
    # Mallory signs the forged INIT with her own key: high's certificate does not verify it.
    forged = replace(
        forged, signature=sign_digest(world().mallory.key, transcript_digest(forged.signed_part()))
    )
    low = channel(world().low, world().high)
    with pytest.raises(BadHandshakeSignature):
        low.receive(forged.encode())
    with pytest.raises(BadHandshakeSignature):
        low.receive(replace(genuine, nonce=bytes(32)).encode())  # modified in transit
    assert low.state is ChannelState.CLOSED


def test_a_handshake_addressed_to_another_node_is_rejected() -> None:
    to_mallory = channel(world().low, world().mallory).initiate()
    high = channel(world().high, world().low)
    with pytest.raises(UnexpectedPeer):
        high.receive(to_mallory)
    assert high.state is ChannelState.CLOSED


def test_an_unknown_version_or_a_truncated_frame_is_rejected() -> None:
    init = channel(world().low, world().high).initiate()
    high = channel(world().high, world().low)
    with pytest.raises(UnsupportedVersion):
        high.receive(bytes([2]) + init[1:])
    with pytest.raises(MalformedFrame):
        high.receive(init[:-1])
    with pytest.raises(MalformedFrame):
        high.receive(init + b"\x00")
    with pytest.raises(MalformedFrame):
        high.receive(b"")
    assert isinstance(decode_frame(init), HandshakeInit)
    assert frames_to_send(high.receive(init))  # the genuine frame still works after all that
    assert isinstance(high.receive(init)[0], SendToPeer)


def test_a_channel_to_oneself_or_to_a_malformed_id_is_our_bug() -> None:
    with pytest.raises(ValueError, match="two different nodes"):
        channel(world().low, world().low)
    with pytest.raises(ValueError, match="hex"):
        Channel(
            world().low,
            NodeId(world().high.node_id.upper()),
            world().service.cert,
            random.Random(0).randbytes,
        )
