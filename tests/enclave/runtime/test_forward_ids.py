"""Forward ids never repeat across restarts (forwarding.py): the primary answers a forward when the write
commits, possibly after the follower that forwarded it restarted; had the restarted follower counted from
zero again, it would take that late answer for one of its new forwards and give a client another
transaction's id (the whole-node simulation found this: tests/sim `_check_acknowledged_txids`)."""

from __future__ import annotations

import random

from enclave.runtime.forwarding import Forwarder
from tests.enclave.runtime.node_helpers import start_alone


def test_a_restarted_node_never_reuses_a_forward_id_of_its_previous_run() -> None:
    host, _ = start_alone()
    assert host.enclave is not None and host.enclave.node is not None
    peers = host.enclave.node.peers
    before_restart = Forwarder(peers, 30, random.Random(1).randbytes)
    after_restart = Forwarder(peers, 30, random.Random(2).randbytes)

    used_before = {before_restart.new_id() for _ in range(10_000)}
    used_after = {after_restart.new_id() for _ in range(10_000)}

    assert not used_before & used_after
    assert max(used_before | used_after) < 1 << 64  # they travel as msgpack integers
