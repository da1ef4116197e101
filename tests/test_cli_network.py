"""`sealchain network` and `sealchain node` from the operator's side: help, clear errors, and (slow) a
whole detached network brought up, inspected and taken down by the CLI alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from enclave.runtime import messages as m
from sealchain.cli import cli
from sealchain.cli.network import commit_lags, shown_role
from sealchain.client import Client, TxStatus


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_help_names_the_verbs() -> None:
    code, out, _ = run("network", "--help")
    assert code == 0
    assert {"up", "status", "down"} <= set(out.split())
    code, out, _ = run("node", "start", "--help")
    assert code == 0
    assert "--config" in out


@pytest.mark.parametrize("verb", ["status", "down"])
def test_without_a_network_status_and_down_say_so(tmp_path: Path, verb: str) -> None:
    code, _, err = run("network", verb, "--workspace", str(tmp_path), "--json")
    assert code == 1
    assert json.loads(err)["error"] == "no_network"


def test_up_refuses_a_workspace_that_holds_a_network(tmp_path: Path) -> None:
    (tmp_path / "network.json").write_text("{}")
    code, _, err = run("network", "up", "--workspace", str(tmp_path), "--json")
    assert code == 1
    assert json.loads(err)["error"] == "workspace_in_use"


def test_down_never_signals_a_process_that_is_not_the_recorded_node(tmp_path: Path) -> None:
    # This test's own pid stands for a pid the system recycled after the node exited.
    record = {"name": "node0", "node_id": "", "client_address": "127.0.0.1:1", "pid": os.getpid()}
    record |= {"config": "nodes/node0/config.toml", "ledger_dir": "nodes/node0/ledger"}
    network = {"service_cert": "service_cert.pem", "nodes": [record], "members": [], "users": []}
    (tmp_path / "network.json").write_text(json.dumps(network))

    code, out, _ = run("network", "down", "--workspace", str(tmp_path), "--json")

    assert code == 0
    assert json.loads(out) == {"stopped": []}


def report(role: str, term: int, commit_seqno: int) -> m.NodeStatusReport:
    commit = m.TxRef(term, commit_seqno)
    return m.NodeStatusReport(0, "n", m.LifecycleState.TRUSTED, role, term, commit, commit, None, "Open")


def test_lag_is_how_far_each_node_commits_behind_the_primary() -> None:
    reports = [report("follower", 3, 40), report("leader", 3, 47), None, report("follower", 3, 47)]
    assert commit_lags(reports) == [7, 0, None, 0]


def test_lag_follows_the_primary_of_the_highest_term_and_is_unknown_without_one() -> None:
    stale, current = report("leader", 2, 30), report("leader", 3, 35)
    assert commit_lags([stale, current]) == [5, 0]
    assert commit_lags([report("follower", 3, 10), None]) == [None, None]


def test_node_start_with_a_bad_config_names_the_problem(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('name = "node0"\nmode = "sideways"\n')
    result = CliRunner().invoke(cli, ["node", "start", "--config", str(config)])
    assert result.exit_code == 1
    assert "mode is 'sideways'" in result.output


@pytest.mark.slow
def test_a_detached_network_comes_up_reports_status_and_goes_down(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    environment = dict(os.environ, SEALCHAIN_WORKSPACE=str(workspace))
    sealchain = [sys.executable, "-m", "sealchain"]
    try:
        up = subprocess.run(
            [*sealchain, "network", "up", "--nodes", "1", "--members", "1", "--detach", "--json"],
            capture_output=True,
            text=True,
            env=environment,
            timeout=120,
            check=False,
        )
        assert up.returncode == 0, up.stderr
        network = json.loads(up.stdout)
        assert [node["name"] for node in network["nodes"]] == ["node0"]
        assert (workspace / network["service_cert"]).read_text().startswith("-----BEGIN CERTIFICATE")

        status = subprocess.run(
            [*sealchain, "network", "status", "--json"],
            capture_output=True,
            text=True,
            env=environment,
            check=True,
        )
        (node,) = json.loads(status.stdout)["nodes"]
        assert node["up"] is True
        assert node["role"] == "leader" and node["voter"] is True
        assert node["status"] == "Trusted"
        assert node["lag"] == 0
        view, seqno = map(int, node["commit"].split("."))
        assert view >= 1 and seqno >= 1

        table = subprocess.run(
            [*sealchain, "network", "status"], capture_output=True, text=True, env=environment, check=True
        )
        header, row = table.stdout.splitlines()
        assert header.split()[:3] == ["node", "up", "role"] and row.split()[:3] == ["node0", "yes", "leader"]

        with Client.from_workspace(workspace, identity="user0") as client:
            written = client.put("records", b"hello", b"world")
            assert client.get("records", b"hello").value == b"world"
            assert client.status(written.txid).status is TxStatus.COMMITTED
    finally:
        down = subprocess.run(
            [*sealchain, "network", "down", "--json"],
            capture_output=True,
            text=True,
            env=environment,
            check=False,
        )
    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout) == {"stopped": ["node0"]}
    code, out, _ = run("network", "status", "--workspace", str(workspace), "--json")
    assert code == 0
    assert json.loads(out)["nodes"][0]["up"] is False


def test_recovery_refuses_a_lost_network_whose_only_ledger_starts_after_a_snapshot(tmp_path: Path) -> None:
    lost = tmp_path / "lost"
    (lost / "members").mkdir(parents=True)
    (lost / "members" / "member0_cert.pem").write_text("not read: the refusal comes first")
    ledger = lost / "nodes" / "node3" / "ledger"
    ledger.mkdir(parents=True)
    (ledger / "ledger_41-60.committed").write_bytes(b"entries 41..60 (the node started from snapshot 40)")
    code, _, err = run(
        "network", "up", "--recover-from", str(lost), "--workspace", str(tmp_path / "new"), "--json"
    )
    assert code == 1
    refusal = json.loads(err)
    assert refusal["error"] == "not_a_network" and "from seqno 1" in refusal["message"]


def test_the_status_table_shows_a_follower_that_does_not_vote_yet_as_a_learner() -> None:
    assert shown_role("follower", False) == "learner"
    assert shown_role("follower", True) == "follower"
    assert shown_role("leader", True) == "leader"
    assert shown_role(None, None) == "-"
