"""A primary paused longer than an election timeout (SIGSTOP, as a long GC pause or a frozen VM would)
and resumed (DESIGN.md section 5: no clock-based lease, since a paused primary must never serve a stale
read).

While it is paused the others elect a new primary and overwrite a key. Calls queued at the paused node
(their bytes reached its socket through a client-side proxy before it resumed) are then answered by a
node that still believes it leads, and cannot hear the others yet (its inbound peer proxy stays cut):
the read must not return the overwritten value, and the write must never commit. Once it hears the
others again it follows the new primary and every ledger agrees.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import pytest

from node.config import Address
from node.network import wait_for
from sealchain.client import Client, ClientError, GetResult, TxStatus, WriteResult
from tests.integration.cluster import Cluster
from tests.integration.proxies import ProxyThread, proxied_peers

pytestmark = pytest.mark.slow

T = TypeVar("T")

# Long enough for the paused node's own election timeout to pass after it resumes (it cannot confirm its
# leadership, so it must step down rather than answer), short enough to keep the scenario quick.
STALE_CALL_TIMEOUT_SECONDS = 4.0


def user0_client(cluster: Cluster, address: Address) -> Client:
    """user0's client of the one node behind `address` (a proxy in front of its client port)."""
    users = cluster.workspace.root / "users"
    return Client(
        [str(address)],
        service_cert_pem=cluster.workspace.service_cert.read_bytes(),
        cert_pem=(users / "user0_cert.pem").read_bytes(),
        key_pem=(users / "user0_privk.pem").read_bytes(),
        timeout=STALE_CALL_TIMEOUT_SECONDS,
    )


def outcome(call: Callable[[], T]) -> T | ClientError:
    try:
        return call()
    except ClientError as error:
        return error


def test_a_resumed_primary_serves_no_stale_read_and_commits_nothing(
    start_cluster: Callable[..., Cluster],
) -> None:
    with ProxyThread() as proxies:
        inbound, peers = proxied_peers(proxies, ["node0", "node1", "node2"])
        cluster = start_cluster(nodes=3, peers=peers)
        with cluster.client() as client:
            client.put("records", b"key", b"before the pause")
        old_primary = cluster.primary()
        assert old_primary == "node0", "only node0's peer proxy takes effect (README.md)"
        majority = [name for name in cluster.names if name != old_primary]
        to_old_primary = proxies.start(Address.parse(cluster.client_address(old_primary)))

        with user0_client(cluster, to_old_primary) as stale_side, ThreadPoolExecutor(2) as calls:
            assert stale_side.get("records", b"key").value == b"before the pause"  # the connection is up
            old_pid = cluster.local.nodes[old_primary].pid
            assert old_pid is not None
            os.kill(old_pid, signal.SIGSTOP)
            try:
                proxies.cut(inbound[old_primary])
                new_primary = cluster.primary(among=majority)
                with cluster.client(majority) as client:
                    overwrite = client.put("records", b"key", b"after the pause")
                assert overwrite.status is TxStatus.COMMITTED
                read = queue_call(proxies, to_old_primary, calls, lambda: stale_side.get("records", b"key"))
                write = queue_call(
                    proxies, to_old_primary, calls, lambda: stale_side.put("records", b"resumed", b"write")
                )
            finally:
                os.kill(old_pid, signal.SIGCONT)
            read_result: GetResult | ClientError = read.result()
            write_result: WriteResult | ClientError = write.result()

        # Refusing is fine (it cannot confirm it leads); answering with the old value is not.
        assert isinstance(read_result, ClientError) or read_result.value == b"after the pause", read_result
        if isinstance(write_result, WriteResult) and write_result.status is TxStatus.COMMITTED:
            assert write_result.txid.view >= overwrite.txid.view, "committed in the paused primary's view"

        proxies.heal(inbound[old_primary])
        cluster.wait_until(old_primary, "the old primary to follow", lambda r: r.role == "follower")
        cluster.wait_commit_at_least(old_primary, overwrite.txid.seqno)
        with cluster.client([new_primary]) as client:
            assert client.get("records", b"key").value == b"after the pause"
            if isinstance(write_result, ClientError):  # it ran on the paused node only: never committed
                assert client.get("records", b"resumed").value is None
        with cluster.client([old_primary]) as client:
            assert client.get("records", b"key").value == b"after the pause"
        cluster.stop()
    cluster.check_ledgers()


def queue_call(
    proxies: ProxyThread, proxy: Address, calls: ThreadPoolExecutor, call: Callable[[], T]
) -> Future[T | ClientError]:
    """Starts `call` and returns once its first bytes have reached the paused node's socket."""
    before = proxies.forwarded(proxy)
    pending = calls.submit(outcome, call)
    deadline = time.monotonic() + 10.0
    wait_for("the call to reach the paused node", lambda: proxies.forwarded(proxy) > before or None, deadline)
    return pending
