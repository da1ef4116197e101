"""Joiners with forged or replayed evidence, on a real node's join port (DESIGN.md section 4.3: the
evidence binds the joiner's identity key through its report data, and the request is signed by that key).

The attacker holds a provisioned machine (the host side of a simulated TEE: its platform files), so it can
get genuine evidence for a key, as a compromised host could capture a genuine joiner's. It tries that
evidence under its own key (replayed), its own evidence with one byte changed (forged), and a genuine
request with the signature of another key. Each gets JoinRejected with the reason, and the service
records no node. (tests/enclave/runtime/test_node_join.py checks the same refusals in the enclave alone;
tests/integration/test_rejected_joins.py refuses joiners of another vendor, other code or another service.)
"""

from __future__ import annotations

import os
from dataclasses import replace

import grpc
import pytest

from enclave.crypto.keys import IdentityKey, identity_key_from_entropy, public_key_der, sign_digest
from enclave.platform.api import Platform
from enclave.platform.policy import report_data_for
from enclave.runtime import join_wire
from node.platform_files import open_machine_platform
from node.rpc.tls import channel_credentials
from proto.sealchain.v1 import node_pb2, node_pb2_grpc
from tests.integration.cluster import Cluster

pytestmark = pytest.mark.slow

SPARE_MACHINE = "node1"


def spare_platform(cluster: Cluster) -> Platform:
    config = cluster.local.nodes["node0"].config()
    return open_machine_platform(config.path(config.platform_dir), SPARE_MACHINE, config.backend)


def signed_request(key: IdentityKey, evidence: bytes) -> join_wire.JoinRequest:
    unsigned = join_wire.JoinRequest(
        public_key_der(key.public_key()), evidence, "127.0.0.1:1", "127.0.0.1:2", os.urandom(32), b""
    )
    return replace(unsigned, signature=sign_digest(key, unsigned.signed_digest()))


def evidence_for(platform: Platform, key: IdentityKey) -> bytes:
    return platform.evidence(report_data_for(public_key_der(key.public_key())))


def join(cluster: Cluster, request: join_wire.JoinRequest) -> join_wire.JoinResponse:
    config = cluster.local.nodes["node0"].config()
    credentials = channel_credentials(cluster.workspace.service_cert.read_bytes())
    with grpc.secure_channel(str(config.join_api.advertised), credentials) as channel:
        stub = node_pb2_grpc.PeerStub(channel)  # type: ignore[no-untyped-call]
        answer = stub.Join(node_pb2.JoinRequest(body=join_wire.encode(request)), timeout=10)
    return join_wire.decode_response(answer.body)


def test_replayed_or_forged_evidence_and_a_foreign_signature_are_rejected(service: Cluster) -> None:
    platform = spare_platform(service)
    genuine, attacker = (identity_key_from_entropy(os.urandom(64)) for _ in range(2))
    with service.governance() as governance:
        nodes_before = governance.nodes()

    replayed = signed_request(attacker, evidence_for(platform, genuine))
    evidence = bytearray(evidence_for(platform, attacker))
    evidence[len(evidence) // 2] ^= 0x01
    forged = signed_request(attacker, bytes(evidence))
    foreign_signature = replace(
        signed_request(genuine, evidence_for(platform, genuine)),
        signature=signed_request(attacker, b"").signature,
    )
    answers = {
        "replayed": join(service, replayed),
        "forged": join(service, forged),
        "foreign signature": join(service, foreign_signature),
    }

    rejected = {
        name: answer for name, answer in answers.items() if isinstance(answer, join_wire.JoinRejected)
    }
    assert rejected.keys() == answers.keys(), answers
    assert "ReportDataMismatch" in rejected["replayed"].reason  # genuine evidence, for another key
    assert "evidence rejected" in rejected["forged"].reason
    assert "not signed by the identity key" in rejected["foreign signature"].reason
    with service.governance() as governance:
        assert governance.nodes() == nodes_before
