"""Frames on an established channel: confidentiality, integrity, replay and reordering."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enclave.runtime.channel_errors import ReplayedFrame, TamperedFrame, UnknownSession
from enclave.runtime.channel_session import REPLAY_WINDOW
from enclave.runtime.channel_wire import DataFrame, SessionId, decode_frame
from enclave.runtime.channels import AuthenticatedReceived, SealedReceived
from tests.enclave.runtime.channel_world import HANDSHAKE_EXAMPLES, connected_pair


def data_frame(frame: bytes) -> DataFrame:
    decoded = decode_frame(frame)
    assert isinstance(decoded, DataFrame)
    return decoded


def test_an_authenticated_frame_carries_header_and_payload_in_the_clear_and_delivers_both() -> None:
    low, high = connected_pair()
    frame = low.authenticate(b"append_entries term=3", b"already encrypted ledger entry")
    assert b"append_entries term=3" in frame
    assert b"already encrypted ledger entry" in frame
    assert high.receive(frame) == [
        AuthenticatedReceived(b"append_entries term=3", b"already encrypted ledger entry")
    ]


@HANDSHAKE_EXAMPLES
@given(payload=st.binary(min_size=16, max_size=512))
def test_the_plaintext_of_a_sealed_payload_never_appears_in_the_frame(payload: bytes) -> None:
    low, high = connected_pair()
    frame = low.seal(payload, header=b"forwarded request")
    assert payload not in frame
    assert high.receive(frame) == [SealedReceived(b"forwarded request", payload)]


def test_a_replayed_frame_is_rejected_and_the_channel_keeps_working() -> None:
    low, high = connected_pair()
    first = low.seal(b"vote for me")
    high.receive(first)
    with pytest.raises(ReplayedFrame):
        high.receive(first)
    assert high.receive(low.seal(b"next")) == [SealedReceived(b"", b"next")]
    with pytest.raises(ReplayedFrame):
        high.receive(first)


def test_reordered_frames_inside_the_window_are_each_delivered_once() -> None:
    low, high = connected_pair()
    frames = [low.seal(f"entry {i}".encode()) for i in range(5)]
    for i in [4, 1, 0, 3, 2]:
        assert high.receive(frames[i]) == [SealedReceived(b"", f"entry {i}".encode())]
    for frame in frames:
        with pytest.raises(ReplayedFrame):
            high.receive(frame)


def test_a_frame_older_than_the_replay_window_is_rejected() -> None:
    low, high = connected_pair()
    late = low.seal(b"delayed too long")
    newer = [low.seal(b"newer") for _ in range(REPLAY_WINDOW)]
    high.receive(newer[-1])  # counter 1 + REPLAY_WINDOW: counter 1 has fallen out of the window
    with pytest.raises(ReplayedFrame):
        high.receive(late)
    assert high.receive(newer[0]) == [SealedReceived(b"", b"newer")]  # counter 2 is still inside


@HANDSHAKE_EXAMPLES
@given(order=st.lists(st.integers(min_value=1, max_value=3 * REPLAY_WINDOW), max_size=60))
def test_the_replay_window_accepts_exactly_the_fresh_frames(order: list[int]) -> None:
    """Model: a counter is accepted iff it was never accepted and is within the window of the highest."""
    low, high = connected_pair()
    frames = {counter: low.seal(counter.to_bytes(2, "big")) for counter in range(1, 3 * REPLAY_WINDOW + 1)}
    accepted: set[int] = set()
    for counter in order:
        highest = max(accepted, default=0)
        fresh = counter not in accepted and counter > highest - REPLAY_WINDOW
        if fresh:
            assert high.receive(frames[counter]) == [SealedReceived(b"", counter.to_bytes(2, "big"))]
            accepted.add(counter)
        else:
            with pytest.raises(ReplayedFrame):
                high.receive(frames[counter])


def test_a_frame_cannot_be_reflected_back_to_its_sender() -> None:
    low, _ = connected_pair()
    with pytest.raises(TamperedFrame):
        low.receive(low.seal(b"reflected"))  # same session, the other direction's key and IV


def flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda f: replace(f, body=flip_last_byte(f.body)), id="ciphertext"),
        pytest.param(lambda f: replace(f, header=b"term=99"), id="header"),
        pytest.param(lambda f: replace(f, counter=f.counter + 1), id="counter"),
        pytest.param(lambda f: replace(f, tag=flip_last_byte(f.tag)), id="tag"),
    ],
)
def test_a_tampered_sealed_frame_is_rejected_and_changes_nothing(tamper: object) -> None:
    low, high = connected_pair()
    genuine = data_frame(low.seal(b"secret request", header=b"term=3"))
    assert callable(tamper)
    with pytest.raises(TamperedFrame):
        high.receive(tamper(genuine).encode())
    # The forged counter was not recorded: the genuine frame, and the next one, still arrive.
    assert high.receive(genuine.encode()) == [SealedReceived(b"term=3", b"secret request")]
    assert high.receive(low.seal(b"next")) == [SealedReceived(b"", b"next")]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda f: replace(f, body=flip_last_byte(f.body)), id="payload"),
        pytest.param(lambda f: replace(f, header=b"commit=99"), id="header"),
        pytest.param(lambda f: replace(f, counter=f.counter + 7), id="counter"),
    ],
)
def test_a_tampered_authenticated_frame_is_rejected(tamper: object) -> None:
    low, high = connected_pair()
    genuine = data_frame(low.authenticate(b"commit=4", b"ledger entry"))
    assert callable(tamper)
    with pytest.raises(TamperedFrame):
        high.receive(tamper(genuine).encode())
    assert high.receive(genuine.encode()) == [AuthenticatedReceived(b"commit=4", b"ledger entry")]


def test_a_frame_of_another_session_is_rejected() -> None:
    low, high = connected_pair(seed=0)
    other_low, _ = connected_pair(seed=1)
    with pytest.raises(UnknownSession):
        high.receive(other_low.seal(b"from another session"))
    relabelled = replace(data_frame(other_low.seal(b"x")), session_id=high.session_id or SessionId(b""))
    with pytest.raises(TamperedFrame):
        high.receive(relabelled.encode())
    assert high.receive(low.seal(b"ours")) == [SealedReceived(b"", b"ours")]
