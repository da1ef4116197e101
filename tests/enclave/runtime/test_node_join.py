"""Joining with mutual attestation: what the service refuses, what the joiner refuses, and forwarding."""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace

from enclave.crypto.ids import node_id_of
from enclave.crypto.keys import sign_digest
from enclave.platform.api import Measurement, PlatformName
from enclave.platform.backends import open_platform
from enclave.runtime import join_wire
from enclave.runtime import messages as m
from enclave.runtime.join import join_request
from tests.enclave.runtime.node_helpers import (
    NO_FAULTS,
    give,
    join_answer,
    joiner_and_accepted_response,
    joiner_key,
    ledger_secret_of,
    open_service,
    pass_proposal,
    request_from,
    start_alone,
    start_join,
)
from tests.sim.simulation import Simulation
from tests.sim.world import (
    EPOCH_MS,
    MEASUREMENT,
    OTHER_MEASUREMENT,
    SETTINGS,
    Host,
    addresses,
    new_enclave,
    provisioned,
)


def test_a_genuine_joiner_is_accepted_before_the_service_opens() -> None:
    service, _ = start_alone()
    answer = join_answer(service, request_from(1))
    assert isinstance(answer, join_wire.JoinAccepted)
    assert ledger_secret_of(service) not in answer.encrypted_secrets


def test_forged_evidence_is_refused_and_nothing_is_recorded() -> None:
    service, _ = start_alone()
    request = join_wire.decode_request(request_from(1))
    evidence = bytearray(request.evidence)
    evidence[-5] ^= 1
    forged = join_wire.encode(replace(request, evidence=bytes(evidence)))
    last = len(service.written.ledger)
    answer = join_answer(service, forged)
    assert isinstance(answer, join_wire.JoinRejected)
    assert len(service.written.ledger) == last


def test_a_measurement_not_allowed_is_refused() -> None:
    service, _ = start_alone()
    answer = join_answer(service, request_from(1, measurement=OTHER_MEASUREMENT))
    assert isinstance(answer, join_wire.JoinRejected)
    assert "MeasurementNotAllowed" in answer.reason


def test_evidence_bound_to_another_key_is_refused() -> None:
    service, _ = start_alone()
    mine = join_wire.decode_request(request_from(1, seed=5))
    theirs = join_wire.decode_request(request_from(2, seed=6))
    # My key, signed by me, but the evidence of another enclave (bound to its key).
    unsigned = replace(mine, evidence=theirs.evidence, signature=b"")
    signed = replace(unsigned, signature=sign_digest(joiner_key(5), unsigned.signed_digest()))
    answer = join_answer(service, join_wire.encode(signed))
    assert isinstance(answer, join_wire.JoinRejected)
    assert "ReportDataMismatch" in answer.reason


def test_a_request_not_signed_by_its_key_is_refused() -> None:
    service, _ = start_alone()
    request = join_wire.decode_request(request_from(1))
    answer = join_answer(service, join_wire.encode(replace(request, nonce=b"m" * 32)))
    assert isinstance(answer, join_wire.JoinRejected)


def test_garbage_join_requests_are_refused_by_name() -> None:
    service, _ = start_alone()
    answer = join_answer(service, b"\x93garbage")
    assert isinstance(answer, join_wire.JoinRejected)


def test_a_joiner_takes_a_verified_response() -> None:
    service, _ = start_alone()
    joiner, response = joiner_and_accepted_response(service)
    effects = give(joiner, m.JoinResponseReceived(response))
    assert joiner.enclave is not None and joiner.enclave.state is m.LifecycleState.TRUSTED
    assert any(isinstance(e, m.StoreSealedSecrets) for e in effects)


def test_a_joiner_refuses_a_service_whose_evidence_does_not_verify() -> None:
    service, _ = start_alone()
    joiner, response = joiner_and_accepted_response(service)
    accepted = join_wire.decode_response(response)
    assert isinstance(accepted, join_wire.JoinAccepted)
    evidence = bytearray(accepted.responder_evidence)
    evidence[-3] ^= 1
    tampered = join_wire.encode(replace(accepted, responder_evidence=bytes(evidence)))
    effects = give(joiner, m.JoinResponseReceived(tampered))
    assert joiner.enclave is not None and joiner.enclave.state is m.LifecycleState.JOINING
    assert [type(e) for e in effects] == [m.Log]
    assert "evidence is rejected" in effects[0].text  # type: ignore[union-attr]


def test_a_joiner_refuses_a_node_of_another_service() -> None:
    service, _ = start_alone(seed=1)
    other, _ = start_alone(seed=2, index=2)
    joiner, _ = joiner_and_accepted_response(service)
    _, their_response = joiner_and_accepted_response(other)
    effects = give(joiner, m.JoinResponseReceived(their_response))
    assert joiner.enclave is not None and joiner.enclave.state is m.LifecycleState.JOINING
    assert "another service" in effects[0].text  # type: ignore[union-attr]


def test_a_node_joining_an_open_service_is_pending_until_trusted() -> None:
    service, _ = start_alone()
    open_service(service)
    answer = join_answer(service, request_from(1))
    assert isinstance(answer, join_wire.JoinPending)
    node_id = node_id_of(joiner_key(5).public_key())
    trusted = pass_proposal(
        service, ("transition_node_to_trusted", {"node_id": node_id, "valid_from": "20260601000000Z"})
    )
    assert trusted.proposal_state == "Accepted"
    assert isinstance(join_answer(service, request_from(1)), join_wire.JoinAccepted)


def genesis_and_joining_node1() -> tuple[Simulation, str]:
    """Node 0 starts a network and node 1 asks it to join; the simulation and the service certificate."""
    simulation = Simulation(12, NO_FAULTS)
    simulation.give(0, m.StartNetwork(simulation.now_ms, addresses(0), (), (), SETTINGS))
    simulation.step()
    service_cert = simulation.hosts[0].service_cert_pem
    assert service_cert is not None
    simulation.give(
        1, m.JoinNetwork(simulation.now_ms, addresses(1), addresses(0).peer, service_cert, SETTINGS)
    )
    return simulation, service_cert


def test_a_join_sent_to_a_follower_is_forwarded_to_the_primary() -> None:
    simulation, service_cert = genesis_and_joining_node1()
    simulation.run_until(lambda: simulation.voters() == 2, 300, "node 1 voting")
    assert simulation.leader() == 0
    simulation.give(
        2, m.JoinNetwork(simulation.now_ms, addresses(2), addresses(1).peer, service_cert, SETTINGS)
    )
    simulation.run_until(lambda: simulation.voters() == 3, 300, "node 2 voting, having joined through node 1")
    joined = simulation.running(2)
    assert (
        joined.secrets.ledger_secrets.secret_for(1).key
        == simulation.running(0).secrets.ledger_secrets.secret_for(1).key
    )


def test_a_joining_node_reports_the_id_the_operator_trusts_it_under() -> None:
    joiner, request = start_join(start_alone()[0])
    announced_key = join_wire.decode_request(request).identity_public_key_der

    (report,) = give(joiner, m.NodeStatusQuery(77))

    assert isinstance(report, m.NodeStatusReport)
    assert report.state is m.LifecycleState.JOINING
    assert report.node_id == hashlib.sha256(announced_key).hexdigest()


def upgraded_joiner(service: Host, service_measurements: tuple[bytes, ...]) -> tuple[Host, list[m.Effect]]:
    """Node 1 running other code (`OTHER_MEASUREMENT`, always the same key) asks `service`; the joiner
    and the effects of the answer."""
    joiner = Host(1, new_enclave(1, random.Random(9), OTHER_MEASUREMENT))
    assert service.service_cert_pem is not None
    join = m.JoinNetwork(
        EPOCH_MS, addresses(1), addresses(0).peer, service.service_cert_pem, SETTINGS, service_measurements
    )
    (request,) = [e.request for e in give(joiner, join) if isinstance(e, m.SendJoinRequest)]
    answered = give(service, m.JoinRequestReceived(3, request))
    (response,) = [e.response for e in answered if isinstance(e, m.RespondToJoin)]
    return joiner, give(joiner, m.JoinResponseReceived(response))


def test_new_code_allowed_by_governance_joins_old_code_its_operator_trusts() -> None:
    """A code upgrade: members allow the new measurement; the new node trusts the service's old code only
    when its operator lists that measurement."""
    service, _ = start_alone()
    open_service(service)
    allowed = pass_proposal(
        service, ("add_measurement", {"platform": "sgx-sim", "measurement": OTHER_MEASUREMENT.hex()})
    )
    assert allowed.proposal_state == "Accepted"
    pending, _ = upgraded_joiner(service, ())
    give(pending, m.NodeStatusQuery(1))
    node_id = pending.statuses[-1].node_id
    assert pending.statuses[-1].state is m.LifecycleState.PENDING and node_id is not None
    trusted = pass_proposal(
        service, ("transition_node_to_trusted", {"node_id": node_id, "valid_from": "20260601000000Z"})
    )
    assert trusted.proposal_state == "Accepted"

    cautious, effects = upgraded_joiner(service, ())
    assert cautious.enclave is not None and cautious.enclave.state is m.LifecycleState.JOINING
    assert "MeasurementNotAllowed" in effects[0].text  # type: ignore[union-attr]
    upgraded, _ = upgraded_joiner(service, (MEASUREMENT,))
    assert upgraded.enclave is not None and upgraded.enclave.state is m.LifecycleState.TRUSTED


def vbs_request(measurement: Measurement) -> bytes:
    """A join request from machine 1 running the vbs-sim backend."""
    platform = open_platform(
        PlatformName.VBS_SIM, provisioned().machines[1], measurement, random.Random(5).randbytes
    )
    return join_request(joiner_key(5), platform, addresses(1).peer, addresses(1).client, b"n" * 32)


def test_the_allow_list_is_per_platform() -> None:
    """A measurement allowed on sgx-sim does not let the same code join on vbs-sim, and the other way."""
    service, _ = start_alone()
    open_service(service)
    refused = join_answer(service, vbs_request(MEASUREMENT))
    assert isinstance(refused, join_wire.JoinRejected) and "MeasurementNotAllowed" in refused.reason

    allowed = pass_proposal(
        service, ("add_measurement", {"platform": "vbs-sim", "measurement": MEASUREMENT.hex()})
    )
    assert allowed.proposal_state == "Accepted"
    assert isinstance(join_answer(service, vbs_request(MEASUREMENT)), join_wire.JoinPending)
    other = join_answer(service, request_from(2, measurement=OTHER_MEASUREMENT, seed=6))
    assert isinstance(other, join_wire.JoinRejected)


def test_a_joiner_reports_itself_a_voter_only_once_its_promotion_commits() -> None:
    simulation, _ = genesis_and_joining_node1()
    seen: list[tuple[m.LifecycleState, bool]] = []

    def reported() -> tuple[m.LifecycleState, bool]:
        simulation.give(1, m.NodeStatusQuery(len(seen)))
        report = simulation.hosts[1].statuses[-1]
        seen.append((report.state, report.voter))
        return seen[-1]

    simulation.run_until(lambda: reported() == (m.LifecycleState.TRUSTED, True), 300, "node 1 voting")
    # Trusted (a learner) first, then a voter once the promotion committed, which node 0 knows by then.
    assert (m.LifecycleState.TRUSTED, False) in seen
    node0 = simulation.running(0).rep.raft
    assert simulation.running(1).rep.raft.id in node0.log.configuration_at(node0.commit_index).voters
