"""Handshakes under a hostile network: frames dropped, duplicated, reordered, nodes restarting.

Whatever happened, only channel errors are raised; two ends that name the same session can talk; and
one clean handshake started by the lower node id (the runtime's retry) always brings them together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from enclave.runtime.channel_errors import ChannelError
from enclave.runtime.channels import Channel, ChannelState, SealedReceived
from tests.enclave.runtime.channel_world import channel, connect, frames_to_send, world

End = Literal["low", "high"]
ACTIONS = ["low initiates", "high initiates", "deliver", "duplicate", "drop", "restart low", "restart high"]


@dataclass
class Network:
    ends: dict[End, Channel] = field(
        default_factory=lambda: {
            "low": channel(world().low, world().high),
            "high": channel(world().high, world().low),
        }
    )
    in_flight: list[tuple[End, bytes]] = field(default_factory=list)
    restarts: int = 0

    def send(self, to: End, frames: list[bytes]) -> None:
        self.in_flight.extend((to, frame) for frame in frames)

    def deliver(self, index: int) -> None:
        to, frame = self.in_flight.pop(index)
        try:
            replies = frames_to_send(self.ends[to].receive(frame))
        except ChannelError:
            return
        self.send("high" if to == "low" else "low", replies)

    def restart(self, end: End) -> None:
        self.restarts += 1
        me, peer = (world().low, world().high) if end == "low" else (world().high, world().low)
        self.ends[end] = channel(me, peer, seed=self.restarts)


def assert_can_talk(low: Channel, high: Channel) -> None:
    assert high.receive(low.seal(b"ping")) == [SealedReceived(b"", b"ping")]
    assert low.receive(high.seal(b"pong")) == [SealedReceived(b"", b"pong")]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_after_any_schedule_a_clean_handshake_by_the_lower_id_converges(data: st.DataObject) -> None:
    network = Network()
    for action in data.draw(st.lists(st.sampled_from(ACTIONS), max_size=14), label="schedule"):
        match action:
            case "low initiates":
                network.send("high", [network.ends["low"].initiate()])
            case "high initiates":
                network.send("low", [network.ends["high"].initiate()])
            case "restart low":
                network.restart("low")
            case "restart high":
                network.restart("high")
            case "deliver" | "duplicate" | "drop" if network.in_flight:
                index = data.draw(st.integers(0, len(network.in_flight) - 1), label="which frame")
                if action == "duplicate":
                    network.in_flight.append(network.in_flight[index])
                if action == "drop":
                    network.in_flight.pop(index)
                else:
                    network.deliver(index)
        low, high = network.ends["low"], network.ends["high"]
        if low.state is high.state is ChannelState.ESTABLISHED and low.session_id == high.session_id:
            assert_can_talk(low, high)

    # The network drops what is still in flight; the runtime's retry starts one clean handshake.
    low, high = network.ends["low"], network.ends["high"]
    connect(low, high)
    assert (low.state, high.state) == (ChannelState.ESTABLISHED, ChannelState.ESTABLISHED)
    assert low.session_id == high.session_id
    assert_can_talk(low, high)
