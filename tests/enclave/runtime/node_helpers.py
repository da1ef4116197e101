"""Helpers for scenarios of one or a few real enclaves (the simulation's host and network, no faults)."""

from __future__ import annotations

import itertools
import json
import random

from enclave.crypto.cose import GovMessageType
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
# The hosts' wall clock after their first ticks: it only moves forward (signatures are due by time, and
# each governance request is signed at its own second, so none is a replay of another).
_CLOCK_MS = itertools.count(EPOCH_MS + 1000, 1000)
_REQUEST_IDS = itertools.count(10_000)


def start_alone(seed: int = 1, index: int = 0) -> tuple[Host, random.Random]:
    """One node that started a network; ticked until it committed its genesis and signed."""
    rng = random.Random(seed)
    host = Host(index, new_enclave(index, rng))
    world = provisioned()
    give(
        host,
        m.StartNetwork(EPOCH_MS, addresses(index), (world.member_info,), (world.user_cert_pem,), SETTINGS),
    )
    for tick in range(1, 5):
        give(host, m.Tick(EPOCH_MS + 10 * tick))
    return host, rng


def give(host: Host, message: m.HostInput) -> list[m.Effect]:
    assert host.enclave is not None
    effects = host.enclave.handle(message)
    carry_out(host, effects, lambda index, effect: None)
    return effects


def tick_for_a_while(host: Host) -> list[m.Effect]:
    """Long enough for the signature policy (30 ms) to sign what is pending; the effects."""
    start_ms = next(_CLOCK_MS)
    effects: list[m.Effect] = []
    for tick in range(5):
        effects += give(host, m.Tick(start_ms + 10 * tick))
    return effects


def ledger_secret_of(host: Host) -> bytes:
    assert host.enclave is not None and host.enclave.node is not None
    return host.enclave.node.secrets.ledger_secrets.secret_for(1).key


def put(key: bytes, request_id: int, cert_der: bytes | None = None) -> m.ClientRequest:
    return m.ClientRequest(request_id, cert_der or provisioned().user_cert_der, m.Put(MAP, key, b"value"))


def govern(
    host: Host, msg_type: GovMessageType, payload: object, proposal_id: str | None = None
) -> m.CallResult:
    """The member's signed request given to `host` (alone, or the primary), ticked until answered."""
    now_ms = next(_CLOCK_MS)
    give(host, m.Tick(now_ms))
    call = provisioned().member_request(msg_type, payload, now_ms // 1000, proposal_id)
    return ask(host, call, provisioned().member_cert_der)


def ask(host: Host, call: m.ClientCall, caller_cert_der: bytes | None = None) -> m.CallResult:
    """`call` by the caller (default: the user) given to `host`, ticked until answered."""
    request_id = next(_REQUEST_IDS)
    give(host, m.ClientRequest(request_id, caller_cert_der or provisioned().user_cert_der, call))
    for _ in range(5):
        if request_id in host.answers:
            break
        tick_for_a_while(host)
    return host.answers.pop(request_id)


def committed(result: m.CallResult) -> m.GovernanceResult:
    assert isinstance(result, m.GovernanceResult) and result.status is m.TxStatus.COMMITTED, result
    return result


def pass_proposal(host: Host, *actions: tuple[str, dict[str, object]]) -> m.GovernanceResult:
    """The (Active) member proposes `actions` and votes for them: the ballot's result."""
    proposal = {"actions": [{"name": name, "args": args} for name, args in actions]}
    proposed = committed(govern(host, GovMessageType.PROPOSAL, proposal))
    return committed(govern(host, GovMessageType.BALLOT, {"vote": "accept"}, proposed.proposal_id))


def open_service(host: Host) -> None:
    """As `network up` does: the member activates (acks the state digest) and opens the service."""
    issued = committed(govern(host, GovMessageType.STATE_DIGEST, b""))
    committed(govern(host, GovMessageType.ACK, json.loads(issued.body_json)))
    assert pass_proposal(host, ("transition_service_to_open", {})).proposal_state == "Accepted"


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
