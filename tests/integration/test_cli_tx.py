"""`sealchain tx` against a real node: the JSON shapes scripts rely on (DESIGN.md section 7)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sealchain.cli import cli
from tests.integration.cluster import Cluster

pytestmark = pytest.mark.slow


def run(workspace: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["tx", *args, "--workspace", str(workspace), "--json"])


def test_put_get_status_receipt_and_refusals(start_cluster: Callable[..., Cluster], tmp_path: Path) -> None:
    cluster = start_cluster(nodes=1)
    workspace = cluster.workspace.root

    written = run(workspace, "put", "greeting", "hello")
    assert written.exit_code == 0, written.output
    write = json.loads(written.stdout)
    assert write["status"] == "Committed"

    read = json.loads(run(workspace, "get", "greeting").stdout)
    assert read["key"] == "greeting" and read["value"] == "hello"
    missing = run(workspace, "get", "nobody")
    assert missing.exit_code == 0
    assert json.loads(missing.stdout)["value"] is None

    assert json.loads(run(workspace, "status", write["txid"]).stdout)["status"] == "Committed"
    receipt_file = tmp_path / "receipt.json"
    assert run(workspace, "receipt", write["txid"], "--out", str(receipt_file)).exit_code == 0
    verified = CliRunner().invoke(
        cli,
        [
            "receipt",
            "verify",
            str(receipt_file),
            "--service-cert",
            str(workspace / "service_cert.pem"),
            "--json",
        ],
    )
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["txid"] == write["txid"]

    reserved = run(workspace, "put", "k", "v", "--map", "public:ccf.gov.members.certs")
    assert reserved.exit_code == 1
    assert json.loads(reserved.stderr)["error"] == "ReservedMap"
    stranger = run(workspace, "put", "k", "v", "--as", "user9")
    assert stranger.exit_code == 1
    assert json.loads(stranger.stderr)["error"] == "unknown_identity"
    assert json.loads(run(workspace, "get", "k").stdout)["value"] is None
    cluster.stop()
    assert cluster.check_ledgers() >= int(write["txid"].split(".")[1])


def test_scan_call_and_conditional_put(start_cluster: Callable[..., Cluster]) -> None:
    cluster = start_cluster(nodes=3)
    workspace = cluster.workspace.root
    for key in ("fruit/apple", "fruit/pear", "veg/leek"):
        assert run(workspace, "put", key, key.upper()).exit_code == 0
    scanned = json.loads(run(workspace, "scan", "--prefix", "fruit/").stdout)
    assert [item["key"] for item in scanned["items"]] == ["fruit/apple", "fruit/pear"]
    assert scanned["items"][0]["value"] == "FRUIT/APPLE"

    version = json.loads(run(workspace, "get", "veg/leek").stdout)["version"]
    stale = run(workspace, "put", "veg/leek", "LEEKS", "--if-version", str(version - 1))
    assert stale.exit_code == 1 and json.loads(stale.stderr)["error"] == "VersionMismatch"
    assert run(workspace, "put", "veg/leek", "LEEKS", "--if-version", str(version)).exit_code == 0

    opened = run(
        workspace,
        "call",
        "smallbank.create_account",
        "--arg",
        "name=ann",
        "--arg",
        "checking=7",
        "--arg",
        "savings=3",
    )
    assert opened.exit_code == 0, opened.output
    balance = json.loads(run(workspace, "call", "smallbank.balance", "--arg", "name=ann").stdout)
    assert balance["result"] == {"checking": 7, "savings": 3, "total": 10}
    broke = run(
        workspace,
        "call",
        "smallbank.send_payment",
        "--arg",
        "from=ann",
        "--arg",
        "to=ann",
        "--arg",
        "amount=1",
    )
    assert broke.exit_code == 1 and json.loads(broke.stderr)["error"] == "ProcedureFailed"
    cluster.stop()
    cluster.check_ledgers()
