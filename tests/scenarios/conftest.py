"""The integration fixtures, re-exported: a scenario starts its cluster with `start_cluster` and every
process it starts is stopped in teardown."""

from tests.integration.conftest import start_cluster

__all__ = ["start_cluster"]
