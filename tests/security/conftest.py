"""One open one-node service for the whole security package, started once (the attacks below leave it
as they found it, and each module checks so)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.cluster import Cluster


@pytest.fixture(scope="package")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # A second machine, never started: tests/security/test_join_evidence.py makes its evidence.
    cluster = Cluster.prepare(tmp_path_factory.mktemp("security"), machines=2)
    try:
        cluster.bring_up(1)
        yield cluster
    finally:
        cluster.stop()
