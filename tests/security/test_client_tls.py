"""Who gets through the client port's mutual TLS (DESIGN.md section 2: users are authenticated by X.509
client certificates), against a real node: no certificate, a certificate issued by another CA in a user's
name, a look-alike naming the user as its issuer, and a user's certificate once expired. Each is refused at
the handshake (gRPC's UNAVAILABLE: no request reaches the enclave). A control shows the refusals are
about the certificate: the same key with a certificate valid today, once set as a user, is served.

A user removed by governance is refused too: tests/integration/test_governance.py
(`test_a_user_set_by_vote_may_transact_and_once_removed_is_refused`).
"""

from __future__ import annotations

import time

import grpc
import pytest
from cryptography import x509

from enclave.crypto.certs import load_certificate_pem
from enclave.crypto.ids import user_id_of
from node.network import wait_for
from node.rpc.tls import channel_credentials
from proto.sealchain.v1 import client_pb2, client_pb2_grpc
from tests.integration.cluster import Cluster
from tests.security.certificates import Credentials, certificate, common_name, key_pem, new_key, pem
from tests.security.grpc_calls import quiet_last_seqno, writes_after

pytestmark = pytest.mark.slow


def get(cluster: Cluster, credentials: Credentials | None) -> grpc.StatusCode:
    """A linearizable Get on node0's client port, presenting `credentials` (or no certificate)."""
    identity = None if credentials is None else (credentials.cert_pem, credentials.key_pem)
    tls = channel_credentials(cluster.workspace.service_cert.read_bytes(), identity)
    with grpc.secure_channel(cluster.client_address("node0"), tls) as channel:
        stub = client_pb2_grpc.ClientStub(channel)  # type: ignore[no-untyped-call]
        try:
            stub.Get(client_pb2.GetRequest(map="records", key=b"secret"), timeout=5)
        except grpc.RpcError as error:
            code: grpc.StatusCode = error.code()
            return code
    return grpc.StatusCode.OK


def user0(cluster: Cluster) -> tuple[x509.Certificate, bytes]:
    users = cluster.workspace.root / "users"
    return load_certificate_pem((users / "user0_cert.pem").read_bytes()), (
        users / "user0_privk.pem"
    ).read_bytes()


def test_no_certificate_and_certificates_in_a_users_name_from_elsewhere_are_refused(service: Cluster) -> None:
    before = quiet_last_seqno(service)
    user_cert, user_key = user0(service)
    ca_key, impostor_key = new_key(), new_key()
    other_ca = certificate(common_name("another CA"), ca_key, ca=True)
    from_other_ca = certificate(user_cert.subject, impostor_key, issuer=other_ca.subject, signer=ca_key)
    look_alike = certificate(user_cert.subject, impostor_key, issuer=user_cert.subject, signer=impostor_key)

    outcomes = {
        "user0": get(service, Credentials(pem(user_cert), user_key)),
        "no certificate": get(service, None),
        "another CA": get(service, Credentials(pem(from_other_ca) + pem(other_ca), key_pem(impostor_key))),
        "look-alike": get(service, Credentials(pem(look_alike), key_pem(impostor_key))),
    }
    assert outcomes == {
        "user0": grpc.StatusCode.OK,
        "no certificate": grpc.StatusCode.UNAVAILABLE,
        "another CA": grpc.StatusCode.UNAVAILABLE,
        "look-alike": grpc.StatusCode.UNAVAILABLE,
    }
    assert writes_after(service, before) == []
    with service.client(["node0"]) as client:  # the check sees a write that did happen
        written = client.put("records", b"served", b"to user0")
    assert writes_after(service, before) == [written.txid.seqno]


def test_an_expired_user_certificate_is_refused_and_a_current_one_for_the_same_key_is_served(
    service: Cluster,
) -> None:
    key = new_key()
    expired = Credentials(pem(certificate(common_name("user8"), key, valid_days=(-30, -1))), key_pem(key))
    current = Credentials(pem(certificate(common_name("user9"), key)), key_pem(key))
    for credentials in (expired, current):
        service.pass_proposal({"name": "set_user", "args": {"cert": credentials.cert_pem.decode()}})

    def served() -> bool | None:  # the node's trust list follows the users table as it commits
        return get(service, current) is grpc.StatusCode.OK or None

    wait_for("the current certificate to be served", served, time.monotonic() + 30.0)
    assert get(service, expired) is grpc.StatusCode.UNAVAILABLE
    for credentials in (expired, current):
        user_id = user_id_of(load_certificate_pem(credentials.cert_pem))
        service.pass_proposal({"name": "remove_user", "args": {"user_id": user_id}})


def test_a_renewed_certificate_is_served_while_the_expired_one_under_the_same_name_is_still_a_user(
    service: Cluster,
) -> None:
    key = new_key()
    expired, renewed = b"", b""
    while not expired < renewed:  # the order in which the node hands gRPC its roots
        expired = pem(certificate(common_name("user7"), key, valid_days=(-30, -1)))
        renewed = pem(certificate(common_name("user7"), key))
    user_ids = [user_id_of(load_certificate_pem(cert)) for cert in (expired, renewed)]
    try:
        for cert in (expired, renewed):
            service.pass_proposal({"name": "set_user", "args": {"cert": cert.decode()}})

        def served() -> bool | None:
            return get(service, Credentials(renewed, key_pem(key))) is grpc.StatusCode.OK or None

        wait_for("the renewed certificate to be served", served, time.monotonic() + 10.0)
    finally:
        for user_id in user_ids:
            service.pass_proposal({"name": "remove_user", "args": {"user_id": user_id}})
