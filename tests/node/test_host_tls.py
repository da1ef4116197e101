"""The node's TLS (node/rpc/tls.py) over real gRPC on loopback: a server listens before its enclave has
an identity, switches to the service-endorsed certificate without restarting, and accepts exactly the
client certificates it is told to (the peer port, which is not gRPC: test_peer_transport.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from enclave.crypto.certs import certificate_pem, service_certificate
from enclave.crypto.keys import identity_key_from_entropy
from node.rpc.tls import ServerTls, channel_credentials, client_roots, roots_valid_at
from sealchain.identities import GeneratedIdentity, generate_identity
from tests.node.node_identities import node, pem_pair, service


def pair(identity: GeneratedIdentity) -> tuple[bytes, bytes]:
    return identity.cert_pem, identity.private_key_pem


@asynccontextmanager
async def health_server(tls: ServerTls) -> AsyncIterator[str]:
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(HealthServicer(), server)
    port = server.add_secure_port("127.0.0.1:0", tls.credentials())
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(0)


async def check(address: str, credentials: grpc.ChannelCredentials) -> grpc.StatusCode:
    async with grpc.aio.secure_channel(address, credentials) as channel:
        try:
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        except grpc.aio.AioRpcError as error:
            return error.code()
    return grpc.StatusCode.OK


def test_the_server_is_trusted_only_once_it_has_the_endorsed_identity() -> None:
    service_identity = service()
    trusting_the_service = channel_credentials(service_identity.cert_pem.encode())

    async def scenario() -> tuple[grpc.StatusCode, grpc.StatusCode]:
        tls = ServerTls(require_client_auth=False)
        async with health_server(tls) as address:
            before = await check(address, trusting_the_service)
            tls.set_identity(*pem_pair(node(service_identity, b"n")))
            after = await check(address, trusting_the_service)
        return before, after

    before, after = asyncio.run(scenario())
    assert before is grpc.StatusCode.UNAVAILABLE  # the placeholder certificate is trusted by nobody
    assert after is grpc.StatusCode.OK


def test_a_node_of_another_service_is_not_trusted() -> None:
    ours, theirs = service(), service(b"t")

    async def scenario() -> grpc.StatusCode:
        tls = ServerTls(require_client_auth=False)
        tls.set_identity(*pem_pair(node(theirs, b"n")))
        async with health_server(tls) as address:
            return await check(address, channel_credentials(ours.cert_pem.encode()))

    assert asyncio.run(scenario()) is grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_accepts_exactly_the_listed_client_certificates() -> None:
    service_identity = service()
    user, stranger = (generate_identity(name, with_encryption_key=False) for name in ("user0", "stranger"))
    service_cert = service_identity.cert_pem.encode()

    async def scenario() -> list[grpc.StatusCode]:
        tls = ServerTls(require_client_auth=True, client_roots=user.cert_pem)
        tls.set_identity(*pem_pair(node(service_identity, b"n")))
        async with health_server(tls) as address:
            outcomes = [
                await check(address, channel_credentials(service_cert, pair(user))),
                await check(address, channel_credentials(service_cert, pair(stranger))),
                await check(address, channel_credentials(service_cert)),
            ]
            tls.set_client_roots(user.cert_pem + stranger.cert_pem)
            outcomes.append(await check(address, channel_credentials(service_cert, pair(stranger))))
        return outcomes

    assert asyncio.run(scenario()) == [
        grpc.StatusCode.OK,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.OK,
    ]


def test_only_certificates_valid_now_are_client_roots_the_longest_lived_first() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)

    def user_cert(seed: bytes, days: tuple[int, int]) -> str:
        key = identity_key_from_entropy(seed * 64)
        start, end = (now + timedelta(days=d) for d in days)
        return certificate_pem(service_certificate(key, not_before=start, not_after=end, common_name="user7"))

    expired = user_cert(b"a", (-30, -1))
    current = user_cert(b"b", (-1, 30))
    renewed = user_cert(b"c", (-1, 365))
    future = user_cert(b"d", (10, 400))
    roots = client_roots([expired, current, renewed, future])

    assert roots_valid_at(roots, now) == (renewed + current).encode()
    assert roots_valid_at(roots, now + timedelta(days=100)) == (future + renewed).encode()
    assert roots_valid_at(roots, now + timedelta(days=1000)) == b""
