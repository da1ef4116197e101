"""Whatever bytes the untrusted host delivers, a channel raises one of its own errors and stays usable."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enclave.runtime.channel_errors import ChannelError
from enclave.runtime.channel_wire import PROTOCOL_VERSION
from enclave.runtime.channels import AuthenticatedReceived, Channel, ChannelEvent, SealedReceived
from tests.enclave.runtime.channel_world import (
    HANDSHAKE_EXAMPLES,
    channel,
    connected_pair,
    frames_to_send,
    world,
)


def closed() -> Channel:
    return channel(world().high, world().low)


def initiated() -> Channel:
    high = channel(world().high, world().low)
    high.initiate()
    return high


def established() -> Channel:
    return connected_pair()[1]


STATES = [
    pytest.param(closed, id="closed"),
    pytest.param(initiated, id="initiated"),
    pytest.param(established, id="established"),
]


# Pure noise stops at the version byte; noise behind a valid version and kind reaches every decoder.
GARBAGE = st.one_of(
    st.binary(max_size=400),
    st.builds(
        lambda kind, rest: bytes([PROTOCOL_VERSION, kind]) + rest,
        st.integers(min_value=0, max_value=7),
        st.binary(max_size=400),
    ),
)


@pytest.mark.parametrize("make", STATES)
@HANDSHAKE_EXAMPLES
@given(garbage=GARBAGE)
def test_garbage_raises_a_channel_error_and_changes_nothing(
    make: Callable[[], Channel], garbage: bytes
) -> None:
    receiver = make()
    before = (receiver.state, receiver.session_id)
    with pytest.raises(ChannelError):
        receiver.receive(garbage)
    assert (receiver.state, receiver.session_id) == before


@HANDSHAKE_EXAMPLES
@given(
    step=st.integers(min_value=0, max_value=4),
    position=st.integers(min_value=0),
    mask=st.integers(min_value=1, max_value=255),
)
def test_a_flipped_byte_anywhere_in_any_frame_is_rejected_and_the_genuine_frame_still_works(
    step: int, position: int, mask: int
) -> None:
    """Every byte of every frame counts: at one step of a handshake and two data frames, the host flips
    one byte; the receiver refuses it, is unchanged, and then accepts the genuine frame."""
    low, high = channel(world().low, world().high), channel(world().high, world().low)

    def deliver(receiver: Channel, frame: bytes, this_step: int) -> list[ChannelEvent]:
        if this_step == step:
            flipped = bytearray(frame)
            flipped[position % len(frame)] ^= mask
            before = (receiver.state, receiver.session_id)
            with pytest.raises(ChannelError):
                receiver.receive(bytes(flipped))
            assert (receiver.state, receiver.session_id) == before
        return receiver.receive(frame)

    [response] = frames_to_send(deliver(high, low.initiate(), 0))
    [finish] = frames_to_send(deliver(low, response, 1))
    deliver(high, finish, 2)
    assert deliver(high, low.seal(b"sealed", header=b"h"), 3) == [SealedReceived(b"h", b"sealed")]
    assert deliver(low, high.authenticate(b"header", b"payload"), 4) == [
        AuthenticatedReceived(b"header", b"payload")
    ]
