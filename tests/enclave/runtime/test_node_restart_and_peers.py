"""Restart from sealed secrets and the ledger, what sealing hides, and frames a node must refuse."""

from __future__ import annotations

import random

from enclave.crypto.keys import private_key_pem
from enclave.runtime import messages as m
from enclave.runtime.enclave import Enclave
from tests.enclave.runtime.node_helpers import (
    give,
    open_service,
    put,
    start_alone,
    three_nodes,
    tick_for_a_while,
)
from tests.sim.world import EPOCH_MS, SETTINGS, Host, addresses, new_enclave


def test_restart_from_sealed_secrets_and_ledger_yields_the_same_state() -> None:
    host, rng = start_alone()
    open_service(host)
    for request_id in range(1, 6):
        give(host, put(f"k{request_id}".encode(), request_id))
    tick_for_a_while(host)
    assert len(host.answers) == 5
    node = host.enclave.node  # type: ignore[union-attr]
    assert node is not None
    state, root = node.rep.kv.committed_state(), node.rep.writer.merkle_root()
    host.crash()
    host.enclave = new_enclave(0, rng)
    give(host, host.restart_input(EPOCH_MS + 1000, SETTINGS))
    restarted = host.enclave.node
    assert restarted is not None
    assert restarted.rep.kv.committed_state() == state
    assert restarted.rep.writer.merkle_root() == root
    assert restarted.node_id == node.node_id


def test_sealed_secrets_hold_no_secret_in_the_clear() -> None:
    host, _ = start_alone()
    assert host.sealed_secrets is not None and host.enclave is not None and host.enclave.node is not None
    secrets = host.enclave.node.secrets
    blob = host.sealed_secrets
    assert secrets.ledger_secrets.secret_for(1).key not in blob
    assert secrets.state_key not in blob
    assert private_key_pem(secrets.node.key).encode() not in blob
    assert private_key_pem(secrets.service.key).encode() not in blob
    scalar = secrets.node.key.private_numbers().private_value.to_bytes(48, "big")
    assert scalar not in blob


def test_sealed_secrets_do_not_unseal_on_another_machine() -> None:
    host, rng = start_alone()
    moved = Host(1, new_enclave(1, rng))
    moved.sealed_secrets = host.sealed_secrets
    moved.durable = host.durable
    effects = give(moved, moved.restart_input(EPOCH_MS, SETTINGS))
    assert [type(e) for e in effects] == [m.Log]
    assert "SealedOnOtherMachine" in effects[0].text  # type: ignore[union-attr]
    assert moved.enclave is not None and moved.enclave.state is m.LifecycleState.UNINITIALIZED


def test_replayed_peer_frames_are_rejected() -> None:
    simulation = three_nodes()
    leader = simulation.leader()
    assert leader is not None
    effects = simulation.give(leader, put(b"x", 700))
    captured = [e for e in effects if isinstance(e, m.SendToPeer)]
    assert captured
    follower = simulation.node_ids.index(captured[0].node_id)
    frame = m.PeerMessage(simulation.node_ids[leader], captured[0].frame)
    simulation.give(follower, frame)
    replayed = simulation.give(follower, frame)
    assert [type(e) for e in replayed] == [m.Log]
    assert "Replay" in replayed[0].text  # type: ignore[union-attr]


def test_frames_from_an_unknown_peer_are_rejected() -> None:
    host, _ = start_alone()
    effects = give(host, m.PeerMessage("not-a-node", b"\x01\x02"))
    assert [type(e) for e in effects] == [m.Log]
    effects = give(host, m.PeerMessage("ab" * 32, b"\x01\x04" + bytes(40)))
    assert [type(e) for e in effects] == [m.Log]


def test_a_node_of_another_service_cannot_open_a_channel() -> None:
    service, _ = start_alone(seed=1)
    other, _ = start_alone(seed=2, index=2)
    assert other.enclave is not None and other.enclave.node is not None
    frames = other.enclave.node.peers.send(service.enclave.node.node_id, 1, b"")  # type: ignore[arg-type, union-attr]
    (init,) = frames
    assert isinstance(init, m.SendToPeer)
    effects = give(service, m.PeerMessage(other.enclave.node.node_id, init.frame))
    assert [type(e) for e in effects] == [m.Log]
    assert "CertificateNotEndorsed" in effects[0].text  # type: ignore[union-attr]


def test_inputs_that_do_not_fit_the_lifecycle_are_refused() -> None:
    enclave: Enclave = new_enclave(0, random.Random(3))
    assert enclave.handle(m.Tick(EPOCH_MS)) == []
    (log,) = enclave.handle(m.PeerMessage("ab" * 32, b""))
    assert isinstance(log, m.Log) and "WrongLifecycleState" in log.text
    (answer,) = enclave.handle(put(b"k", 1))
    assert answer == m.RespondToClient(1, m.CallError(m.ErrorCode.NOT_READY, answer.result.message))  # type: ignore[union-attr]
    host, _ = start_alone()
    (log,) = give(host, m.StartNetwork(EPOCH_MS, addresses(0), (), (), SETTINGS))
    assert isinstance(log, m.Log) and "cannot start a network while Trusted" in log.text


def test_garbage_from_a_peer_or_a_joiner_changes_nothing() -> None:
    host, _ = start_alone()
    before = list(host.written.ledger)
    for garbage in (b"", b"\x01", b"\x01\x01" + bytes(300), bytes(range(256))):
        effects = give(host, m.PeerMessage("ab" * 32, garbage))
        assert [type(e) for e in effects] == [m.Log]
    assert host.written.ledger == before
