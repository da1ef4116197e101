"""A follower whose links are slow: 200 ms, plus up to 100 ms of seeded jitter, on everything sent to it
(DESIGN.md section 5).

With its channels to the others established, clients write and nothing else happens: no spurious
election (the primary and every term stay as they were), and the slow follower keeps up. A node that
has to establish its channels across such links (it restarted) must get there too; it does not yet (the
second test, an expected failure: see its reason).

Only node0's peer proxy takes effect (README.md), so node0 plays the follower: it is killed once, so that
another node leads, and restarted.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sealchain.client import TxStatus
from tests.integration.cluster import Cluster, read_everywhere
from tests.integration.proxies import ProxyThread, proxied_peers
from tests.scenarios.status import committed_load, terms

pytestmark = pytest.mark.slow

LINK_DELAY_SECONDS = 0.2
LINK_JITTER_SECONDS = 0.1
WRITES = 30
SLOW = "node0"


def lead_elsewhere(cluster: Cluster) -> str:
    """Makes another node than node0 the primary (kill -9 node0, restart it); the new primary."""
    cluster.kill(SLOW)
    return cluster.primary(among=[name for name in cluster.names if name != SLOW])


def test_a_follower_behind_slow_links_causes_no_election(start_cluster: Callable[..., Cluster]) -> None:
    with ProxyThread() as proxies:
        inbound, peers = proxied_peers(proxies, ["node0", "node1", "node2"])
        cluster = start_cluster(nodes=3, peers=peers)
        primary = lead_elsewhere(cluster)
        with cluster.client([primary]) as client:
            written = client.put("records", b"before", b"the slow links")
        cluster.restart(SLOW)
        cluster.wait_commit_at_least(SLOW, written.txid.seqno)  # its channels are established
        before = terms(cluster)

        proxies.delay(inbound[SLOW], LINK_DELAY_SECONDS, jitter=LINK_JITTER_SECONDS, seed=7)
        forwarded = proxies.forwarded(inbound[SLOW])
        writer = committed_load(cluster, WRITES)
        read_everywhere(cluster, writer.committed, writer.highest_seqno, names=[SLOW])

        assert proxies.forwarded(inbound[SLOW]) > forwarded, "no peer traffic went through the slow links"
        assert terms(cluster) == before
        assert cluster.primary() == primary
        cluster.stop()
    cluster.check_ledgers()


def test_a_node_restarted_behind_slow_links_catches_up(start_cluster: Callable[..., Cluster]) -> None:
    with ProxyThread() as proxies:
        inbound, peers = proxied_peers(proxies, ["node0", "node1", "node2"])
        cluster = start_cluster(nodes=3, peers=peers)
        primary = lead_elsewhere(cluster)
        proxies.delay(inbound[SLOW], LINK_DELAY_SECONDS, jitter=LINK_JITTER_SECONDS, seed=7)
        cluster.restart(SLOW)
        with cluster.client([primary]) as client:
            written = client.put("records", b"behind", b"slow links")
        assert written.status is TxStatus.COMMITTED
        cluster.wait_commit_at_least(SLOW, written.txid.seqno, seconds=10.0)
