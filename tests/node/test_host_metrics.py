"""A node's Prometheus metrics over HTTP (issue 5): the real host, enclave and servers in this process,
scraped the way Prometheus does (`GET /metrics` on the `[metrics]` endpoint) and parsed with
prometheus_client's own parser."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from enclave.runtime import messages as m
from node.config import LOOPBACK_ANY_PORT, Address, Endpoint, parse_config, render_config
from node.host import Host
from node.main import create_host
from node.network import NetworkFile, NodeRecord, is_primary
from node.rpc.servers import ListenError
from proto.sealchain.v1 import operator_pb2, operator_pb2_grpc
from sealchain.client import ClientError
from tests.node.governing import open_service, until, until_status
from tests.node.test_config import FILE, GENESIS_CONFIG
from tests.node.test_host_node import genesis_config, user_client

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(host: Host) -> str:
    """What Prometheus reads: `GET /metrics` on the address the node recorded in its config."""
    address = host.config.metrics.advertised
    assert address.port != 0, "the picked port is recorded in the config"
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as response:
        assert response.status == 200
        text: str = response.read().decode()
    return text


def samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def families(text: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(text)}


def value(parsed: Samples, name: str, **labels: str) -> float | None:
    return parsed.get((name, frozenset(labels.items())))


async def settled_scrape(host: Host) -> tuple[str, m.NodeStatusReport]:
    """A scrape taken while the node's term and commit did not move (equal statuses around it)."""

    async def probe() -> tuple[str, m.NodeStatusReport] | None:
        before = await host.node_status()
        text = await asyncio.to_thread(scrape, host)
        after = await host.node_status()
        same = (before.term, before.commit, before.last) == (after.term, after.commit, after.last)
        return (text, after) if same else None

    return await until("a scrape between two equal statuses", probe)


async def put(host: Host, root: Path, count: int) -> None:
    with user_client(root, host) as client:
        for i in range(count):
            await asyncio.to_thread(client.put, "records", b"k%d" % i, b"v")


def test_metrics_count_requests_commit_latency_term_commit_and_ledger_bytes(tmp_path: Path) -> None:
    config = genesis_config(tmp_path)
    writes = 3

    async def scenario() -> tuple[str, m.NodeStatusReport, str]:
        host = create_host(config)
        await host.start()
        try:
            await until_status(host, "genesis to lead", is_primary)
            with user_client(tmp_path, host) as client:
                with pytest.raises(ClientError):
                    await asyncio.to_thread(client.put, "records", b"k", b"too early")
                await open_service(host)
                await put(host, tmp_path, writes)
                await asyncio.to_thread(client.get, "records", b"k0")
            text, status = await settled_scrape(host)
            async with grpc.aio.insecure_channel(str(host.config.operator.bind)) as channel:
                operator = operator_pb2_grpc.OperatorStub(channel)  # type: ignore[no-untyped-call]
                grpc_text = (await operator.Metrics(operator_pb2.MetricsRequest())).prometheus_text
            return text, status, grpc_text
        finally:
            await host.close()

    text, status, grpc_text = asyncio.run(scenario())
    parsed = samples(text)
    requests = "sealchain_client_requests_total"
    assert value(parsed, requests, type="Put", outcome="ok") == writes
    assert value(parsed, requests, type="Put", outcome=m.ErrorCode.SERVICE_NOT_OPEN.value) == 1
    assert value(parsed, requests, type="Get", outcome="ok") == 1
    commits = value(parsed, "sealchain_commit_latency_seconds_count")
    assert commits is not None and commits >= writes
    assert value(parsed, "sealchain_commit_latency_seconds_bucket", le="+Inf") == commits
    assert value(parsed, "sealchain_raft_term") == status.term >= 1
    assert value(parsed, "sealchain_ledger_committed_seqno") == status.commit.seqno
    assert value(parsed, "sealchain_ledger_last_seqno") == status.last.seqno
    ledger_bytes = value(parsed, "sealchain_ledger_bytes")
    assert ledger_bytes is not None and ledger_bytes > 0
    assert value(parsed, "sealchain_queued_inputs") is not None
    assert value(parsed, "sealchain_peer_link_errors_total") == 0
    appended = value(parsed, "sealchain_effects_total", type="AppendLedger")
    assert appended is not None and appended >= status.last.seqno
    # The operator API's Metrics call serves the same families from the same registry.
    assert families(grpc_text) == families(text)


def test_two_nodes_in_one_process_keep_their_own_metrics(tmp_path: Path) -> None:
    first_config = genesis_config(tmp_path / "first")
    second_config = genesis_config(tmp_path / "second")

    async def scenario() -> tuple[tuple[str, m.NodeStatusReport], tuple[str, m.NodeStatusReport]]:
        first, second = create_host(first_config), create_host(second_config)
        await first.start()
        await second.start()
        try:
            assert first.config.metrics.bind != second.config.metrics.bind
            await open_service(first)
            await put(first, tmp_path / "first", 2)
            await until_status(second, "the second genesis to lead", is_primary)
            return await settled_scrape(first), await settled_scrape(second)
        finally:
            await second.close()
            await first.close()

    (first_text, first_status), (second_text, second_status) = asyncio.run(scenario())
    first_samples, second_samples = samples(first_text), samples(second_text)
    requests = "sealchain_client_requests_total"
    assert value(first_samples, requests, type="Put", outcome="ok") == 2
    assert not [name for name, _ in second_samples if name == requests]
    assert value(second_samples, "sealchain_commit_latency_seconds_count") == 0
    assert value(first_samples, "sealchain_ledger_last_seqno") == first_status.last.seqno
    assert value(second_samples, "sealchain_ledger_last_seqno") == second_status.last.seqno
    assert first_status.last.seqno > second_status.last.seqno


def test_a_metrics_port_in_use_is_a_listen_error_and_the_host_still_closes(tmp_path: Path) -> None:
    config = genesis_config(tmp_path)

    async def scenario() -> None:
        with socket.create_server(("127.0.0.1", 0)) as holder:
            taken = Address("127.0.0.1", holder.getsockname()[1])
            host = create_host(replace(config, metrics=Endpoint(taken, taken)))
            try:
                with pytest.raises(ListenError, match=f"cannot listen on {taken}"):
                    await host.start()
            finally:
                await host.close()

    asyncio.run(scenario())


def record(metrics_address: str | None) -> NodeRecord:
    return NodeRecord(
        "node0", "ab" * 32, "127.0.0.1:4100", 1234, "nodes/node0/config.toml", "ledger", metrics_address
    )


def test_network_json_records_a_metrics_address_and_reads_files_without_one() -> None:
    with_metrics = NetworkFile("service_cert.pem", (record("127.0.0.1:4109"),), (), ())
    without = NetworkFile("service_cert.pem", (record(None),), (), ())

    assert '"metrics_address": "127.0.0.1:4109"' in with_metrics.to_json()
    assert NetworkFile.from_json(with_metrics.to_json()) == with_metrics
    assert "metrics_address" not in without.to_json()
    assert NetworkFile.from_json(without.to_json()) == without


def test_the_metrics_endpoint_is_configured_like_the_others_and_defaults_to_a_picked_loopback_port() -> None:
    metrics = '[metrics]\nbind = "127.0.0.1:0"\nadvertised = "10.0.0.5:9464"\n'
    configured = parse_config(GENESIS_CONFIG + metrics, FILE)

    assert configured.metrics == Endpoint(Address("127.0.0.1", 0), Address("10.0.0.5", 9464))
    assert parse_config(GENESIS_CONFIG, FILE).metrics == LOOPBACK_ANY_PORT
    bound = configured.with_bound_ports(4100, 4101, 4102, metrics=4103)
    assert bound.metrics == Endpoint(Address("127.0.0.1", 4103), Address("10.0.0.5", 9464))
    assert parse_config(render_config(bound), FILE) == bound
