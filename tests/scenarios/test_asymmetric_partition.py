"""An asymmetric partition (DESIGN.md section 5: PreVote and CheckQuorum): the primary can still send to
everyone but hears nobody (its inbound peer proxy forwards nothing to it).

CheckQuorum makes it step down, since no follower's answer reaches it, and the others elect one new
primary and keep committing. PreVote keeps the deafened node from bumping its term while it campaigns
in vain, so when it hears the others again nobody is disrupted: one leader throughout, and the term the
majority moved to stays the term of the service after healing.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.cluster import Cluster, read_everywhere
from tests.integration.proxies import ProxyThread, proxied_peers
from tests.scenarios.status import committed_load, rejoined_without_disruption, term_of

pytestmark = pytest.mark.slow

# Writes the majority commits while the old primary campaigns unheard: with 25 ms ticks and 20-tick
# election timeouts, several of its election timeouts pass meanwhile.
WRITES_WHILE_DEAF = 150


def test_a_primary_that_hears_nobody_steps_down_and_cannot_disrupt_the_new_one(
    start_cluster: Callable[..., Cluster],
) -> None:
    with ProxyThread() as proxies:
        inbound, peers = proxied_peers(proxies, ["node0", "node1", "node2"])
        cluster = start_cluster(nodes=3, peers=peers)
        old_primary = cluster.primary()
        assert old_primary == "node0", "only node0's peer proxy takes effect (README.md)"
        old_report = cluster.status(old_primary)
        assert old_report is not None
        majority = [name for name in cluster.names if name != old_primary]

        proxies.deafen(inbound[old_primary])
        new_primary = cluster.primary(among=majority)
        cluster.wait_until(old_primary, "the deaf primary to step down", lambda r: r.role != "leader")
        writer = committed_load(cluster, WRITES_WHILE_DEAF)
        new_term = term_of(cluster, new_primary)
        deaf = cluster.status(old_primary)
        assert deaf is not None and deaf.role in ("follower", "pre-candidate"), deaf
        assert deaf.term == old_report.term, "the deaf node's campaigns changed its term"

        proxies.heal(inbound[old_primary])
        read_everywhere(cluster, writer.committed, writer.highest_seqno)
        rejoined_without_disruption(cluster, old_primary, new_primary, new_term)
        cluster.stop()
    cluster.check_ledgers()
