"""A membership change while the primary is cut off (DESIGN.md section 5: membership changes are
governance transactions; a new node catches up as a learner before it votes).

The primary stops hearing the others (node0's inbound peer proxy forwards nothing; README.md), steps down
(CheckQuorum), and the two others elect a new primary. Through them a fourth node joins and governance
trusts it: the configuration grows to four voters, three of them reachable, without the old primary.
When the old primary hears the others again it follows the new primary, catches up with the new
configuration (it takes writes forwarded to the primary), disrupts nobody, and the four ledgers agree.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.cluster import Cluster, Writer, read_everywhere
from tests.integration.proxies import ProxyThread, proxied_peers
from tests.scenarios.status import rejoined_without_disruption, term_of

pytestmark = pytest.mark.slow

ISOLATED = "node0"  # the only node whose peer proxy takes effect, and the genesis primary


def test_a_node_joins_while_the_primary_is_cut_off_and_the_old_primary_follows_the_new_configuration(
    start_cluster: Callable[..., Cluster],
) -> None:
    with ProxyThread() as proxies:
        inbound, peers = proxied_peers(proxies, ["node0", "node1", "node2"])
        cluster = start_cluster(nodes=3, spare_machines=1, peers=peers)
        assert cluster.primary() == ISOLATED
        majority = ["node1", "node2"]

        proxies.deafen(inbound[ISOLATED])
        new_primary = cluster.primary(among=majority)
        cluster.wait_until(ISOLATED, "the cut-off primary to step down", lambda r: r.role != "leader")
        cluster.join("node3", cluster.join_address(new_primary))
        cluster.trust("node3")
        cluster.wait_open("node3")
        writer = Writer(cluster)
        writer.start()
        try:
            writer.wait_for_commits(10)
            new_term = term_of(cluster, new_primary)

            proxies.heal(inbound[ISOLATED])
            cluster.wait_until(ISOLATED, "the old primary to follow", lambda r: r.role == "follower")
            writer.wait_for_more_commits(10)
        finally:
            writer.finish()
        read_everywhere(cluster, writer.committed, writer.highest_seqno)
        rejoined_without_disruption(cluster, ISOLATED, new_primary, new_term)
        cluster.stop()
    cluster.check_ledgers()
