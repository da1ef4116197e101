"""Joins that must fail, through real processes (DESIGN.md section 4.3: mutual attestation).

A machine provisioned under another vendor's root, a node running changed trusted code (a copy of the
repository's `enclave` and `consensus` packages with one comment byte changed, first on the joiner's
`PYTHONPATH`: its measurement is not on the allow-list), and a node given another service's certificate
each try to join a running service. Each says why in its own log, never gets past Joining, is handed no
secret (it seals nothing) and leaves no trace in the service's ledger; the service keeps committing.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from enclave.crypto.identity import ServiceIdentity
from enclave.runtime import messages as m
from node.platform_files import (
    init_platform_dir,
    installed_source_root,
    provision_machine_dir,
    trusted_code_measurement,
)
from sealchain.client import TxStatus
from tests.integration.cluster import Cluster

pytestmark = pytest.mark.slow


def foreign_platform(directory: Path, machine: str) -> Path:
    """`sealchain platform init` + `provision` in a second folder: same code, another vendor's roots."""
    init_platform_dir(directory)
    provision_machine_dir(directory, machine)
    return directory


def changed_trusted_code(directory: Path) -> Path:
    """A copy of the trusted packages with one byte of one comment changed: the same behaviour, but
    another measurement (the measurement covers every byte of the trusted code)."""
    source = installed_source_root()
    for package in ("consensus", "enclave"):
        shutil.copytree(source / package, directory / package, ignore=shutil.ignore_patterns("__pycache__"))
    changed = directory / "enclave" / "runtime" / "lifecycle.py"
    text = changed.read_text()
    comment = text.index("# ") if "# " in text else text.index('"""') + 3
    position = comment + 2
    flipped = text[position].swapcase() if text[position].isalpha() else "x"
    changed.write_text(text[:position] + flipped + text[position + 1 :])
    assert changed.read_bytes() != (source / "enclave" / "runtime" / "lifecycle.py").read_bytes()
    return directory


def another_service_cert(path: Path) -> Path:
    now = datetime.now(UTC)
    other = ServiceIdentity.create(
        b"another network" * 5, not_before=now - timedelta(hours=1), not_after=now + timedelta(days=1)
    )
    path.write_text(other.cert_pem)
    return path


def mentions(*words: str) -> Callable[[dict[str, object]], bool]:
    return lambda event: all(word in str(event) for word in words)


def test_joiners_with_a_foreign_platform_changed_code_or_another_service_are_refused(
    start_cluster: Callable[..., Cluster], tmp_path: Path
) -> None:
    cluster = start_cluster(nodes=1, spare_machines=3)
    target = cluster.join_address("node0")

    cluster.join("node1", target, platform_dir=foreign_platform(tmp_path / "other_vendor", "node1"))
    changed_code = changed_trusted_code(tmp_path / "code")
    cluster.join("node2", target, environment={"PYTHONPATH": str(changed_code)})
    cluster.join("node3", target, service_cert=another_service_cert(tmp_path / "other_service.pem"))

    cluster.wait_for_log("node1", "the refusal", mentions("refused the join", "evidence rejected"))
    # The joiner ran the changed copy: the measurement refused is the copy's.
    changed_measurement = trusted_code_measurement(changed_code).hex()
    cluster.wait_for_log("node2", "the refusal", mentions("MeasurementNotAllowed", changed_measurement))
    cluster.wait_for_log("node3", "the refusal", mentions("join request failed", "CERTIFICATE_VERIFY_FAILED"))
    with cluster.client(["node0"]) as client:
        assert client.put("records", b"still", b"serving").status is TxStatus.COMMITTED

    joiner_ids: list[str] = []
    for name in ("node1", "node2", "node3"):
        report = cluster.status(name)
        assert report is not None and report.state is m.LifecycleState.JOINING, (name, report)
        assert report.node_id is not None
        joiner_ids.append(report.node_id)
        config = cluster.local.nodes[name].config()
        assert not config.path(config.sealed_secrets).exists()  # no secret reached it
    cluster.stop()
    cluster.verify_ledger(cluster.ledger_dir("node0"))
    service_ledger = b"".join(path.read_bytes() for path in cluster.ledger_dir("node0").iterdir())
    for node_id in joiner_ids:
        assert node_id.encode() not in service_ledger  # not recorded at all, let alone Trusted
