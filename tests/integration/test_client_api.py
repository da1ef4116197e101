"""The client API against a real 3-node network (issue 7): every verb of `sealchain.Client`, failover when
the node it talks to is killed, and SmallBank's conservation of money across a primary failover."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from sealchain.client import Client, ClientError, Consistency, TxStatus
from tests.integration.cluster import Cluster

pytestmark = pytest.mark.slow

StartCluster = Callable[..., Cluster]


def test_every_client_verb_and_failover_when_its_node_is_killed(start_cluster: StartCluster) -> None:
    cluster = start_cluster(nodes=3)
    follower = next(name for name in cluster.names if name != cluster.primary())
    # The client talks to a follower first; everything it writes is forwarded to the primary.
    order = [follower, *[name for name in cluster.names if name != follower]]
    with cluster.client(order, timeout=30.0) as client:
        created = client.put("records", b"k", b"v1", expected_version=0)
        assert created.status is TxStatus.COMMITTED
        read = client.get("records", b"k")
        assert (read.value, read.version) == (b"v1", created.txid.seqno)
        with pytest.raises(ClientError) as moved_on:
            client.put("records", b"k", b"v2", expected_version=0)
        assert moved_on.value.code == "VersionMismatch" and not moved_on.value.retryable
        swapped = client.put("records", b"k", b"v2", expected_version=read.version)
        for i in range(3):
            client.put("records", b"scan-%d" % i, b"%d" % i)
        scanned = client.scan("records", start=b"scan-", end=b"scan.", limit=2)
        assert [item.key for item in scanned.items] == [b"scan-0", b"scan-1"]
        local = client.get("records", b"k", consistency=Consistency.LOCAL)  # possibly stale, never made up
        assert local.value in (b"v1", b"v2")
        assert client.wait_for_commit(swapped.txid, timeout=10).status is TxStatus.COMMITTED
        assert client.status(swapped.txid).status is TxStatus.COMMITTED
        assert '"leaf_components"' in client.receipt(swapped.txid).receipt_json
        client.call("smallbank.create_account", {"name": "ann", "checking": 10, "savings": 5})
        balance = client.call("smallbank.balance", {"name": "ann"}, read_only=True)
        assert balance.result == {"checking": 10, "savings": 5, "total": 15}
        deleted = client.delete("records", b"k")
        assert client.get("records", b"k").value is None and deleted.status is TxStatus.COMMITTED

        cluster.kill(follower)
        try:
            after = client.put("records", b"after the kill", b"still served")
        except ClientError as unknown:
            # The write went down a connection the kill broke: it may have run, so it is not retried.
            assert not unknown.retryable and "outcome is unknown" in unknown.message, unknown
            after = client.put("records", b"after the kill", b"still served")  # now never connected: failover
        assert after.status is TxStatus.COMMITTED
        assert client.get("records", b"after the kill").value == b"still served"
    cluster.stop()
    cluster.check_ledgers([name for name in cluster.names if name != follower])


def test_an_unknown_certificate_gets_no_data(start_cluster: StartCluster) -> None:
    cluster = start_cluster(nodes=1)
    with cluster.client() as client:
        client.put("records", b"secret", b"for users only")
    stranger = cluster.workspace.root / "members" / "member0"
    # A member is not a user: the client API refuses it by name, with no data.
    with Client(
        [cluster.client_address("node0")],
        service_cert_pem=cluster.workspace.service_cert.read_bytes(),
        cert_pem=stranger.with_name("member0_cert.pem").read_bytes(),
        key_pem=stranger.with_name("member0_privk.pem").read_bytes(),
        timeout=5.0,
    ) as member:
        with pytest.raises(ClientError) as refused:
            member.get("records", b"secret")
        assert refused.value.code == "NotAUser"
        assert b"for users only" not in str(refused.value).encode()


@dataclass
class Bank:
    """SmallBank's books as the test keeps them: money in and out from committed results."""

    accounts: list[str]
    money_in: int = 0
    money_out: int = 0
    transfers: int = 0
    unknown: int = 0
    refusals: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def transfer_forever(bank: Bank, client: Client, seed: int, stop: threading.Event) -> None:
    """Transfers move money between accounts: whatever their outcome (even unknown), the total stays."""
    rng = random.Random(seed)
    while not stop.is_set():
        source, target = rng.sample(bank.accounts, 2)
        try:
            if rng.random() < 0.9:
                args = {"from": source, "to": target, "amount": rng.randint(1, 50)}
                client.call("smallbank.send_payment", args)
            else:
                client.call("smallbank.amalgamate", {"from": source, "to": target})
        except ClientError as error:
            with bank.lock:
                if error.code == "ProcedureFailed":
                    reason = error.message.split(":")[0]
                    bank.refusals[reason] = bank.refusals.get(reason, 0) + 1
                else:
                    bank.unknown += 1
            continue
        with bank.lock:
            bank.transfers += 1


def deposits_and_withdrawals(bank: Bank, client: Client, seed: int, rounds: int) -> None:
    """Money in and out, each counted from its committed result."""
    rng = random.Random(seed)
    for _ in range(rounds):
        name = rng.choice(bank.accounts)
        match rng.randrange(3):
            case 0:
                amount = rng.randint(1, 100)
                client.call("smallbank.deposit_checking", {"name": name, "amount": amount})
                bank.money_in += amount
            case 1:
                amount = rng.randint(-30, 30) or 1
                try:
                    client.call("smallbank.transact_savings", {"name": name, "amount": amount})
                except ClientError as error:
                    assert error.message.startswith("InsufficientFunds"), error
                    continue
                bank.money_in += max(amount, 0)
                bank.money_out += max(-amount, 0)
            case _:
                outcome = client.call("smallbank.write_check", {"name": name, "amount": rng.randint(1, 40)})
                assert isinstance(outcome.result, dict)
                bank.money_out += int(outcome.result["charged"])


def total(client: Client, bank: Bank) -> int:
    balances = [client.call("smallbank.balance", {"name": name}, read_only=True) for name in bank.accounts]
    return sum(int(balance.result["total"]) for balance in balances if isinstance(balance.result, dict))


def test_smallbank_conserves_money_under_concurrency_and_a_primary_failover(
    start_cluster: StartCluster,
) -> None:
    cluster = start_cluster(nodes=3)
    bank = Bank([f"customer{i}" for i in range(8)])
    with cluster.client(timeout=30.0) as client:
        for name in bank.accounts:
            client.call("smallbank.create_account", {"name": name, "checking": 500, "savings": 500})
            bank.money_in += 1000
        deposits_and_withdrawals(bank, client, seed=1, rounds=40)
        assert total(client, bank) == bank.money_in - bank.money_out

    stop = threading.Event()
    clients = [cluster.client(timeout=30.0) for _ in range(4)]
    workers = [
        threading.Thread(target=transfer_forever, args=(bank, c, seed, stop), daemon=True)
        for seed, c in enumerate(clients)
    ]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 30
    while bank.transfers < 40 and time.monotonic() < deadline:
        time.sleep(0.05)  # load before the failover; progress is polled, not assumed
    old_primary = cluster.primary()
    cluster.kill(old_primary)
    new_primary = cluster.primary(among=[name for name in cluster.names if name != old_primary])
    before_restart = bank.transfers
    while bank.transfers < before_restart + 40 and time.monotonic() < deadline + 30:
        time.sleep(0.05)
    cluster.restart(old_primary)
    stop.set()
    for worker in workers:
        worker.join(timeout=60)
    for c in clients:
        c.close()

    with cluster.client(timeout=30.0) as client:
        deposits_and_withdrawals(bank, client, seed=2, rounds=40)
        assert total(client, bank) == bank.money_in - bank.money_out, bank
    assert bank.transfers >= before_restart + 40, (new_primary, bank)
    assert not any(worker.is_alive() for worker in workers)
    cluster.wait_until(old_primary, "the old primary to follow", lambda r: r.role == "follower")
    cluster.stop()
    cluster.check_ledgers()
