"""SmallBank against etcd (`scripts/bench --vs-etcd`): the client runs sealchain's SmallBank procedures on
the accounts it read and writes only if none changed meanwhile, so etcd gives the same answers, refuses
the same requests and conserves money under contention."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import grpc
import pytest

from node.rpc.tls import channel_credentials
from proto.etcd.etcdserverpb import kv_pb2, kv_pb2_grpc
from sealchain.benchmark.etcd_smallbank import run_procedure
from sealchain.benchmark.systems import EtcdCluster
from sealchain.benchmark.targets import CallFailed, EtcdSpec, EtcdTarget

ETCD = shutil.which("etcd")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(ETCD is None, reason="etcd is not installed (scripts/bench --vs-etcd installs it)"),
]


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdSpec]:
    assert ETCD is not None
    cluster = EtcdCluster(Path(tmp_path_factory.mktemp("etcd")), 3, ETCD)
    try:
        yield cluster.start()
    finally:
        cluster.close()


def _run(spec: EtcdSpec, scenario: Callable[[EtcdTarget], Awaitable[None]]) -> None:
    async def connected() -> None:
        target = spec.connect()
        try:
            await scenario(target)
        finally:
            await target.close()

    asyncio.run(connected())


async def _total(target: EtcdTarget, name: str) -> int:
    balance = await target.call(0, "smallbank.balance", {"name": name})
    assert isinstance(balance, dict)
    return int(balance["total"])


def test_the_procedures_answer_and_refuse_on_etcd_as_on_sealchain(etcd: EtcdSpec) -> None:
    async def scenario(target: EtcdTarget) -> None:
        for name in ("alice", "bob"):
            await target.call(0, "smallbank.create_account", {"name": name, "checking": 100, "savings": 50})
        with pytest.raises(CallFailed) as exists:
            await target.call(1, "smallbank.create_account", {"name": "bob", "checking": 1, "savings": 1})
        assert exists.value.code == "ProcedureFailed" and exists.value.message.startswith("AccountExists")
        assert await target.call(1, "smallbank.deposit_checking", {"name": "alice", "amount": 25}) == {
            "checking": 125
        }
        with pytest.raises(CallFailed) as refused:
            await target.call(2, "smallbank.send_payment", {"from": "bob", "to": "alice", "amount": 101})
        assert refused.value.code == "ProcedureFailed"
        assert refused.value.message.startswith("InsufficientFunds")
        assert await target.call(2, "smallbank.write_check", {"name": "bob", "amount": 200}) == {
            "charged": 201,
            "checking": -101,
        }
        assert await target.call(0, "smallbank.amalgamate", {"from": "bob", "to": "alice"}) == {"moved": -51}
        assert await target.call(1, "smallbank.balance", {"name": "alice"}) == {
            "checking": 74,
            "savings": 50,
            "total": 124,
        }
        assert await _total(target, "bob") == 0
        with pytest.raises(CallFailed) as unknown:
            await target.call(0, "smallbank.steal", {"name": "alice"})
        assert unknown.value.message.startswith("UnknownProcedure")

    _run(etcd, scenario)


def test_concurrent_transfers_on_the_same_accounts_are_retried_after_a_conflict_and_conserve_money(
    etcd: EtcdSpec,
) -> None:
    conflicts = 0

    async def scenario(target: EtcdTarget) -> None:
        nonlocal conflicts
        for name in ("carol", "dave"):
            await target.call(0, "smallbank.create_account", {"name": name, "checking": 1000, "savings": 0})
        credentials = channel_credentials(etcd.ca_cert_pem, (etcd.cert_pem, etcd.key_pem))
        async with grpc.aio.secure_channel(etcd.addresses[0], credentials) as channel:
            stub = kv_pb2_grpc.KVStub(channel)  # type: ignore[no-untyped-call]

            async def counting_txn(request: kv_pb2.TxnRequest) -> kv_pb2.TxnResponse:
                nonlocal conflicts
                response: kv_pb2.TxnResponse = await stub.Txn(request)
                conflicts += bool(request.compare) and not response.succeeded
                return response

            async def transfers(client: int) -> None:
                source, destination = ("carol", "dave") if client % 2 else ("dave", "carol")
                for _ in range(10):
                    arguments = {"from": source, "to": destination, "amount": 3}
                    await run_procedure(counting_txn, "smallbank.send_payment", arguments)

            await asyncio.gather(*(transfers(client) for client in range(8)))
        # 40 transfers of 3 cents each way: the balances end where they started.
        assert [await _total(target, name) for name in ("carol", "dave")] == [1000, 1000]

    _run(etcd, scenario)
    assert conflicts > 0, "the transfers never collided: the retry was not exercised"
