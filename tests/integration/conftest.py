"""Integration fixtures: every process a test starts is stopped in teardown, even when the test fails."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from node.config import ConsensusSettings, Endpoint
from tests.integration.cluster import TEST_CONSENSUS, Cluster


@pytest.fixture
def start_cluster(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    """`start_cluster(nodes=3, spare_machines=0, peers=None, members=1, consensus=TEST_CONSENSUS)`: an
    open service of `nodes` nodes, machines provisioned for `spare_machines` more (nodes that join later),
    fixed peer endpoints by node name, `members` members (all Active), and the consensus settings of
    every node."""
    clusters: list[Cluster] = []

    def start(
        nodes: int = 3,
        spare_machines: int = 0,
        peers: Mapping[str, Endpoint] | None = None,
        members: int = 1,
        consensus: ConsensusSettings = TEST_CONSENSUS,
    ) -> Cluster:
        root = tmp_path / f"workspace{len(clusters)}"
        cluster = Cluster.prepare(root, nodes + spare_machines, members)
        cluster.consensus = consensus
        clusters.append(cluster)  # before any process starts, so a failed start is cleaned up too
        cluster.bring_up(nodes, peers)
        return cluster

    yield start
    for cluster in clusters:
        cluster.stop()
