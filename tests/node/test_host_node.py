"""One node in this process: the real host, enclave, gRPC servers with TLS and files, driven by the real
client. Genesis, writes, the files the host keeps, a clean restart from those files, the operator API,
and a joiner that cannot reach its target."""

from __future__ import annotations

import asyncio
import json
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from enclave.crypto.cose import GovMessageType
from enclave.crypto.identity import ServiceIdentity
from enclave.runtime import messages as m
from node.config import Address, ConsensusSettings, Endpoint, NodeConfig, NodeMode, load_config
from node.host import Host
from node.ledger_files import FsyncPolicy
from node.main import create_host
from node.network import LocalNetwork, is_open, is_primary
from node.rpc.servers import ListenError
from node.rpc.tls import channel_credentials
from proto.sealchain.v1 import governance_pb2, governance_pb2_grpc, operator_pb2, operator_pb2_grpc
from sealchain.client import Client, ClientError, TxStatus
from sealchain.workspace import Workspace, prepare_network_workspace
from tests.integration.proxies import free_port
from tests.node.governing import FirstMember, open_service, until_status

FAST = ConsensusSettings(
    tick_interval_ms=10, election_ticks=5, signature_interval_ms=10, fsync=FsyncPolicy.NEVER
)


def genesis_config(root: Path) -> NodeConfig:
    workspace = Workspace(root)
    identities = prepare_network_workspace(workspace, nodes=1, members=1, users=1)
    node = LocalNetwork(root).write_node_config("node0", NodeMode.START, identities, consensus=FAST)
    return load_config(node.config_file)


def user_client(root: Path, host: Host, identity: str = "users/user0") -> Client:
    return Client(
        [str(host.config.client.advertised)],
        service_cert_pem=(root / "service_cert.pem").read_bytes(),
        cert_pem=(root / f"{identity}_cert.pem").read_bytes(),
        key_pem=(root / f"{identity}_privk.pem").read_bytes(),
        timeout=10.0,
    )


def test_a_genesis_node_serves_writes_keeps_its_files_and_restarts_from_them(tmp_path: Path) -> None:
    config = genesis_config(tmp_path)

    async def first_life() -> m.WriteResult:
        host = create_host(config)
        await host.start()
        try:
            await until_status(host, "genesis to lead", is_primary)
            with user_client(tmp_path, host) as client:
                with pytest.raises(ClientError) as not_open:
                    await asyncio.to_thread(client.put, "records", b"k", b"too early")
                assert not_open.value.code == m.ErrorCode.SERVICE_NOT_OPEN.value
                await open_service(host)
                written = await asyncio.to_thread(client.put, "records", b"k", b"v")
                assert (await asyncio.to_thread(client.get, "records", b"k")).value == b"v"
            with user_client(tmp_path, host, "members/member0") as member:
                with pytest.raises(ClientError) as not_a_user:
                    await asyncio.to_thread(member.put, "records", b"k", b"by a member")
                assert not_a_user.value.code == m.ErrorCode.NOT_A_USER.value
                assert not not_a_user.value.retryable
            return written
        finally:
            await host.close()

    written = asyncio.run(first_life())
    assert written.status is TxStatus.COMMITTED

    secrets = config.path(config.sealed_secrets)
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert (tmp_path / "service_cert.pem").read_text().startswith("-----BEGIN CERTIFICATE")
    assert config.path(config.raft_state).exists()
    assert any(config.path(config.ledger_dir).iterdir())

    async def second_life() -> tuple[bytes | None, m.TxStatus]:
        host = create_host(config)  # same files: a Restart, not a second genesis
        await host.start()
        try:
            await until_status(host, "the restarted node to lead", is_open)
            with user_client(tmp_path, host) as client:
                value = (await asyncio.to_thread(client.get, "records", b"k")).value
                status = (await asyncio.to_thread(client.status, written.txid)).status
            return value, status
        finally:
            await host.close()

    assert asyncio.run(second_life()) == (b"v", TxStatus.COMMITTED)


async def listed_services(channel: grpc.aio.Channel) -> set[str]:
    """The services a server names through gRPC server reflection."""
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    async for response in stub.ServerReflectionInfo(iter([request])):
        return {service.name for service in response.list_services_response.service}
    raise AssertionError("no reflection answer")


def test_reflection_describes_the_client_and_governance_apis_on_the_client_port(tmp_path: Path) -> None:
    config = genesis_config(tmp_path)

    async def scenario() -> tuple[set[str], set[str]]:
        host = create_host(config)
        await host.start()
        try:
            await until_status(host, "genesis to lead", is_primary)
            credentials = channel_credentials(
                (tmp_path / "service_cert.pem").read_bytes(),
                (
                    (tmp_path / "users/user0_cert.pem").read_bytes(),
                    (tmp_path / "users/user0_privk.pem").read_bytes(),
                ),
            )
            async with grpc.aio.secure_channel(str(host.config.client.advertised), credentials) as channel:
                client_port = await listed_services(channel)
            async with grpc.aio.insecure_channel(str(host.config.operator.bind)) as channel:
                operator_port = await listed_services(channel)
            return client_port, operator_port
        finally:
            await host.close()

    client_port, operator_port = asyncio.run(scenario())
    assert {"sealchain.v1.Client", "sealchain.v1.Governance"} <= client_port
    assert {"sealchain.v1.Operator", "grpc.health.v1.Health"} <= operator_port


def test_the_operator_api_reports_status_metrics_and_health(tmp_path: Path) -> None:
    config = genesis_config(tmp_path)

    async def scenario() -> tuple[operator_pb2.NodeStatusResponse, str, tuple[int, int]]:
        host = create_host(config)
        await host.start()
        try:
            await until_status(host, "genesis to lead", is_primary)
            async with grpc.aio.insecure_channel(str(host.config.operator.bind)) as channel:
                operator = operator_pb2_grpc.OperatorStub(channel)  # type: ignore[no-untyped-call]
                status = await operator.NodeStatus(operator_pb2.NodeStatusRequest())
                metrics = await operator.Metrics(operator_pb2.MetricsRequest())
                health = health_pb2_grpc.HealthStub(channel)
                process = await health.Check(health_pb2.HealthCheckRequest())
                client_api = await health.Check(health_pb2.HealthCheckRequest(service="sealchain.v1.Client"))
            return status, metrics.prometheus_text, (process.status, client_api.status)
        finally:
            await host.close()

    status, metrics, health = asyncio.run(scenario())
    assert (status.role, status.status, status.service_status) == ("leader", "Trusted", "Opening")
    assert status.commit.seqno >= 1
    assert 'sealchain_effects_total{type="AppendLedger"}' in metrics
    assert "sealchain_ledger_last_seqno" in metrics
    assert health == (health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.SERVING)


def test_a_node_that_cannot_reach_its_join_target_keeps_joining_and_serves_no_client(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    identities = prepare_network_workspace(workspace, nodes=1, members=1, users=1)
    now = datetime.now(UTC)
    service = ServiceIdentity.create(
        b"s" * 64, not_before=now - timedelta(hours=1), not_after=now + timedelta(days=1)
    )
    workspace.service_cert.write_text(service.cert_pem)
    nobody = Address("127.0.0.1", free_port())
    node = LocalNetwork(tmp_path).write_node_config(
        "node0", NodeMode.JOIN, identities, join_target=nobody, consensus=FAST
    )

    async def scenario() -> tuple[m.NodeStatusReport, int]:
        host = create_host(load_config(node.config_file))
        await host.start()
        try:
            for _ in range(20):  # let it try (and fail) to reach its target a few times
                await host.node_status()
            status = await host.node_status()
            async with grpc.aio.insecure_channel(str(host.config.operator.bind)) as channel:
                health = health_pb2_grpc.HealthStub(channel)
                client_api = await health.Check(health_pb2.HealthCheckRequest(service="sealchain.v1.Client"))
            return status, client_api.status
        finally:
            await host.close()

    status, client_api = asyncio.run(scenario())
    assert status.state is m.LifecycleState.JOINING
    assert client_api == health_pb2.HealthCheckResponse.NOT_SERVING
    assert not (tmp_path / "nodes" / "node0" / "sealed_secrets.bin").exists()


def test_a_node_cannot_share_a_port_another_node_listens_on(tmp_path: Path) -> None:
    first_config = genesis_config(tmp_path / "first")
    second_config = genesis_config(tmp_path / "second")

    async def scenario() -> None:
        first = create_host(first_config)
        await first.start()
        try:
            taken = first.config.client.bind
            second = create_host(replace(second_config, client=Endpoint(taken, taken)))
            try:
                with pytest.raises(ListenError, match=f"cannot listen on {taken}"):
                    await second.start()
            finally:
                await second.close()
        finally:
            await first.close()

    asyncio.run(scenario())


def test_governance_over_grpc_refuses_forgeries_and_keeps_the_last_node(tmp_path: Path) -> None:
    """The Governance API on the client port, with the member's certificate: a request whose signature
    does not verify is refused and changes nothing; removing the last node fails."""
    config = genesis_config(tmp_path)

    async def scenario() -> tuple[grpc.StatusCode, str, str, m.NodeStatusReport]:
        host = create_host(config)
        await host.start()
        try:
            await open_service(host)
            member = FirstMember(host)
            report = await host.node_status()
            assert report.node_id is not None
            credentials = channel_credentials(
                (tmp_path / "service_cert.pem").read_bytes(),
                (
                    (tmp_path / "members/member0_cert.pem").read_bytes(),
                    (tmp_path / "members/member0_privk.pem").read_bytes(),
                ),
            )
            async with grpc.aio.secure_channel(str(host.config.client.advertised), credentials) as channel:
                stub = governance_pb2_grpc.GovernanceStub(channel)  # type: ignore[no-untyped-call]
                before = await stub.Read(governance_pb2.GovernanceQuery(table="proposals"))
                proposal = {"actions": [{"name": "remove_node", "args": {"node_id": report.node_id}}]}
                signed = bytearray(member.sign(GovMessageType.PROPOSAL, proposal))
                signed[-1] ^= 1
                with pytest.raises(grpc.aio.AioRpcError) as forged:
                    await stub.Submit(governance_pb2.SignedRequest(cose_sign1=bytes(signed)))
                after = await stub.Read(governance_pb2.GovernanceQuery(table="proposals"))
                assert json.loads(after.rows_json) == json.loads(before.rows_json)
            removal = await member.pass_proposal(("remove_node", {"node_id": report.node_id}))
            return (
                forged.value.code(),
                forged.value.details() or "",
                removal.body_json,
                await host.node_status(),
            )
        finally:
            await host.close()

    code, details, removal, after = asyncio.run(scenario())
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "signature" in details
    assert "last Trusted node" in removal
    assert (after.state, after.role) == (m.LifecycleState.TRUSTED, "leader")
