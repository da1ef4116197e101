"""The benchmark's etcd cluster asks every client and peer for a certificate of its own CA, as sealchain's
nodes do, so `scripts/bench --vs-etcd` compares like with like (docs/performance.md)."""

from __future__ import annotations

import asyncio
import shutil
import stat
from pathlib import Path

import grpc
import pytest

from proto.etcd.etcdserverpb import kv_pb2, kv_pb2_grpc
from sealchain.benchmark.systems import EtcdCluster
from sealchain.benchmark.targets import EtcdSpec

ETCD = shutil.which("etcd")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(ETCD is None, reason="etcd is not installed (scripts/bench --vs-etcd installs it)"),
]


async def _refused(address: str, credentials: grpc.ChannelCredentials | None) -> grpc.StatusCode:
    channel = (
        grpc.aio.insecure_channel(address)
        if credentials is None
        else grpc.aio.secure_channel(address, credentials)
    )
    async with channel:
        stub = kv_pb2_grpc.KVStub(channel)  # type: ignore[no-untyped-call]
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Range(kv_pb2.RangeRequest(key=b"k"), timeout=5)
    return refused.value.code()


async def _scenario(spec: EtcdSpec) -> None:
    target = spec.connect()
    try:
        await target.put(0, b"bench-key", b"value")
        assert await target.get(1, b"bench-key") == b"value"  # through another member
    finally:
        await target.close()
    address = spec.addresses[0]
    assert await _refused(address, None) is grpc.StatusCode.UNAVAILABLE
    without_identity = grpc.ssl_channel_credentials(root_certificates=spec.ca_cert_pem)
    assert await _refused(address, without_identity) is grpc.StatusCode.UNAVAILABLE


def test_the_etcd_cluster_serves_only_clients_with_a_certificate_of_its_ca(tmp_path: Path) -> None:
    assert ETCD is not None
    cluster = EtcdCluster(tmp_path / "etcd", 3, ETCD)
    try:
        spec = cluster.start()
        key_file = tmp_path / "etcd" / "tls" / "member.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        asyncio.run(_scenario(spec))
    finally:
        cluster.close()
