"""Helpers for scenarios of one or a few real enclaves (the simulation's host and network, no faults)."""

from __future__ import annotations

import random

from enclave.crypto.keys import MIN_ENTROPY_BYTES, IdentityKey, identity_key_from_entropy
from enclave.platform.api import Measurement
from enclave.runtime import join_wire
from enclave.runtime import messages as m
from enclave.runtime.join import join_request
from tests.sim.simulation import MAP, Faults, Simulation
from tests.sim.world import (
    EPOCH_MS,
    MEASUREMENT,
    SETTINGS,
    Host,
    addresses,
    carry_out,
    new_enclave,
    platform_on,
    provisioned,
)

NO_FAULTS = Faults(drop=0, duplicate=0, max_delay=1, crash=0, restart=0, partition=0, heal=0)


def start_alone(seed: int = 1, index: int = 0) -> tuple[Host, random.Random]:
    """One node that started a network; ticked until it committed its genesis and signed."""
    rng = random.Random(seed)
    host = Host(index, new_enclave(index, rng))
    give(host, m.StartNetwork(EPOCH_MS, addresses(index), (), (provisioned().user_cert_pem,), SETTINGS))
    for tick in range(1, 5):
        give(host, m.Tick(EPOCH_MS + 10 * tick))
    return host, rng


def give(host: Host, message: m.HostInput) -> list[m.Effect]:
    assert host.enclave is not None
    effects = host.enclave.handle(message)
    carry_out(host, effects, lambda index, effect: None)
    return effects


def tick_for_a_while(host: Host, from_ms: int = EPOCH_MS + 1000) -> None:
    """Long enough for the signature policy (30 ms) to sign what is pending."""
    for tick in range(5):
        give(host, m.Tick(from_ms + 10 * tick))


def ledger_secret_of(host: Host) -> bytes:
    assert host.enclave is not None and host.enclave.node is not None
    return host.enclave.node.secrets.ledger_secrets.secret_for(1).key


def put(key: bytes, request_id: int, cert_der: bytes | None = None) -> m.ClientRequest:
    return m.ClientRequest(request_id, cert_der or provisioned().user_cert_der, m.Put(MAP, key, b"value"))


def open_service(host: Host) -> None:
    give(host, m.OpenService(999))
    assert host.answers.pop(999) == m.WriteResult(m.TxRef(2, 5), m.TxStatus.COMMITTED)


def three_nodes(seed: int = 11) -> Simulation:
    simulation = Simulation(seed, NO_FAULTS)
    simulation.setup()
    return simulation


def join_answer(service: Host, request: bytes) -> join_wire.JoinResponse:
    effects = give(service, m.JoinRequestReceived(7, request))
    answers = [e.response for e in effects if isinstance(e, m.RespondToJoin) and e.request_id == 7]
    assert len(answers) == 1
    assert ledger_secret_of(service) not in answers[0]
    return join_wire.decode_response(answers[0])


def joiner_key(seed: int) -> IdentityKey:
    return identity_key_from_entropy(random.Random(seed).randbytes(MIN_ENTROPY_BYTES))


def request_from(index: int, *, measurement: Measurement = MEASUREMENT, seed: int = 5) -> bytes:
    """A join request as the enclave on machine `index` would make it (key from `seed`)."""
    platform = platform_on(index, random.Random(seed).randbytes, measurement)
    return join_request(joiner_key(seed), platform, addresses(index).peer, addresses(index).client, b"n" * 32)


def start_join(service: Host) -> tuple[Host, bytes]:
    """Node 1 asks `service` to join: the joiner and the join request its enclave produced."""
    joiner = Host(1, new_enclave(1, random.Random(9)))
    assert service.service_cert_pem is not None
    effects = give(
        joiner, m.JoinNetwork(EPOCH_MS, addresses(1), addresses(0).peer, service.service_cert_pem, SETTINGS)
    )
    (request,) = [e.request for e in effects if isinstance(e, m.SendJoinRequest)]
    return joiner, request


def joiner_and_accepted_response(service: Host) -> tuple[Host, bytes]:
    joiner, request = start_join(service)
    responses = [
        e.response for e in give(service, m.JoinRequestReceived(3, request)) if isinstance(e, m.RespondToJoin)
    ]
    return joiner, responses[0]
