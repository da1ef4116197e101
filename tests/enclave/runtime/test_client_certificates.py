"""`ClientCertificates`: the users' and members' certificates the host's client TLS trusts, announced
after genesis, restart and join, and again whenever a commit changes them."""

from __future__ import annotations

import random

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from enclave.crypto.certs import certificate_pem
from enclave.runtime import messages as m
from tests.enclave.runtime.node_helpers import (
    give,
    joiner_and_accepted_response,
    open_service,
    pass_proposal,
    put,
    start_alone,
    three_nodes,
    tick_for_a_while,
)
from tests.sim.world import EPOCH_MS, SETTINGS, Host, addresses, new_enclave, provisioned


def announced(effects: list[m.Effect]) -> list[tuple[str, ...]]:
    return [effect.cert_pems for effect in effects if isinstance(effect, m.ClientCertificates)]


def member_pem() -> str:
    return certificate_pem(x509.load_der_x509_certificate(provisioned().stranger_cert_der))


def test_genesis_announces_exactly_its_users_and_members() -> None:
    user = provisioned().user_cert_pem
    host = Host(0, new_enclave(0, random.Random(3)))
    start = m.StartNetwork(EPOCH_MS, addresses(0), (m.MemberInfo(member_pem()),), (user,), SETTINGS)

    effects = give(host, start)

    assert announced(effects) == [tuple(sorted({user, member_pem()}))]


def test_a_restart_announces_them_again_and_quiet_commits_do_not() -> None:
    host, _ = start_alone()
    open_service(host)
    quiet = give(host, put(b"k", 1))
    quiet += tick_for_a_while(host)
    assert any(isinstance(effect, m.CommitLedger) for effect in quiet)
    assert announced(quiet) == []
    host.enclave = new_enclave(0, random.Random(8))

    effects = give(host, host.restart_input(EPOCH_MS + 2000, SETTINGS))

    world = provisioned()
    assert announced(effects) == [tuple(sorted({world.user_cert_pem, world.member_info.cert_pem}))]


def test_a_joiner_trusts_nobody_until_it_has_replicated_the_users() -> None:
    service, _ = start_alone()
    joiner, response = joiner_and_accepted_response(service)

    effects = give(joiner, m.JoinResponseReceived(response))

    assert announced(effects) == [()]
    simulation = three_nodes()
    world = provisioned()
    everyone = tuple(sorted({world.user_cert_pem, world.member_info.cert_pem}))
    assert {host.client_cert_pems for host in simulation.hosts} == {everyone}


def test_users_set_and_removed_by_governance_are_announced_once_committed() -> None:
    host, _ = start_alone()
    open_service(host)
    newcomer = member_pem()  # any certificate serves as the new user's
    world = provisioned()
    before = tuple(sorted({world.user_cert_pem, world.member_info.cert_pem}))
    assert host.client_cert_pems == before

    set_user = pass_proposal(host, ("set_user", {"cert": newcomer}))
    assert set_user.proposal_state == "Accepted"
    assert host.client_cert_pems == tuple(sorted({*before, newcomer}))

    user_id = x509.load_der_x509_certificate(world.stranger_cert_der).fingerprint(hashes.SHA256()).hex()
    removed = pass_proposal(host, ("remove_user", {"user_id": user_id}))
    assert removed.proposal_state == "Accepted"
    assert host.client_cert_pems == before
