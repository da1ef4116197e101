"""`sealchain gov` without a network: help everywhere, CCF's proposal JSON from typed options (seen with
--dry-run, which signs and sends nothing), usage errors before anything is signed, and private keys that
never reach the output."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from cryptography import x509

from enclave.crypto.ids import certificate_fingerprint
from enclave.governance.actions import ACTION_NAMES
from node.network import NetworkFile, NodeRecord
from sealchain.cli import cli
from sealchain.cli.gov import gov, propose
from sealchain.identities import generate_identity
from sealchain.workspace import Role, Workspace

NODE1_ID = "ab" * 32
MEASUREMENT = "cd" * 32


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """member0, member1 (with an encryption key), user0, and a network.json naming node0 and node1."""
    ws = Workspace(tmp_path / "workspace")
    for role, name in ((Role.MEMBER, "member0"), (Role.MEMBER, "member1"), (Role.USER, "user0")):
        ws.save_identity(role, name, generate_identity(name, with_encryption_key=role is Role.MEMBER))
    nodes = tuple(
        NodeRecord(name, node_id, "127.0.0.1:1", 0, f"nodes/{name}/config.toml", f"nodes/{name}/ledger")
        for name, node_id in (("node0", "00" * 32), ("node1", NODE1_ID))
    )
    ws.network_json.write_text(NetworkFile("service_cert.pem", nodes, ("member0",), ("user0",)).to_json())
    return ws


def run_gov(ws: Workspace, *args: str) -> Result:
    return CliRunner().invoke(cli, ["gov", *args, "--workspace", str(ws.root)])


def dry_run(ws: Workspace, *args: str) -> list[dict[str, object]]:
    result = run_gov(ws, "propose", *args, "--dry-run")
    assert result.exit_code == 0, result.output
    proposal = json.loads(result.stdout)
    assert set(proposal) == {"actions"}
    actions: list[dict[str, object]] = proposal["actions"]
    return actions


def identity_id(ws: Workspace, role: Role, name: str) -> str:
    cert = ws.identity_files(role, name).cert
    return certificate_fingerprint(x509.load_pem_x509_certificate(cert.read_bytes()))


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, command in group.commands.items():
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths.extend(command_paths(command, (*prefix, name)))
    return paths


@pytest.mark.parametrize("path", [(), *command_paths(gov)], ids=lambda path: " ".join(path) or "gov")
def test_every_gov_verb_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, ["gov", *path, "--help"])
    assert result.exit_code == 0
    assert result.output.startswith("Usage: ")


def test_every_action_of_the_service_has_a_typed_subcommand() -> None:
    assert {name.replace("-", "_") for name in propose.commands} == ACTION_NAMES


# -- CCF's proposal JSON from typed options ---------------------------------------------------------------


def test_members_are_named_by_workspace_name_or_id(workspace: Workspace) -> None:
    member1 = identity_id(workspace, Role.MEMBER, "member1")
    expected = [{"name": "remove_member", "args": {"member_id": member1}}]
    assert dry_run(workspace, "remove-member", "member1") == expected
    assert dry_run(workspace, "remove-member", member1) == expected
    assert dry_run(workspace, "set-member-data", "member1", "--member-data", '{"role": "auditor"}') == [
        {"name": "set_member_data", "args": {"member_id": member1, "member_data": {"role": "auditor"}}}
    ]


def test_set_member_carries_the_pem_files_and_data(workspace: Workspace) -> None:
    files = workspace.identity_files(Role.MEMBER, "member1")
    actions = dry_run(
        workspace,
        "set-member",
        "--cert",
        str(files.cert),
        "--enc-pubk",
        str(files.encryption_public_key),
        "--member-data",
        '{"recovery": true}',
    )
    assert actions == [
        {
            "name": "set_member",
            "args": {
                "cert": files.cert.read_text(),
                "encryption_pub_key": files.encryption_public_key.read_text(),
                "member_data": {"recovery": True},
            },
        }
    ]
    bare = dry_run(workspace, "set-member", "--cert", str(files.cert))
    assert bare == [{"name": "set_member", "args": {"cert": files.cert.read_text()}}]


def test_user_actions(workspace: Workspace) -> None:
    files = workspace.identity_files(Role.USER, "user0")
    user0 = identity_id(workspace, Role.USER, "user0")
    assert dry_run(workspace, "set-user", "--cert", str(files.cert), "--user-data", "[1, 2]") == [
        {"name": "set_user", "args": {"cert": files.cert.read_text(), "user_data": [1, 2]}}
    ]
    assert dry_run(workspace, "remove-user", "user0") == [{"name": "remove_user", "args": {"user_id": user0}}]
    assert dry_run(workspace, "set-user-data", user0, "--user-data", "null") == [
        {"name": "set_user_data", "args": {"user_id": user0}}
    ]


def test_nodes_are_named_by_network_json_name_or_id(workspace: Workspace) -> None:
    trusted = dry_run(workspace, "transition-node-to-trusted", "node1", "--valid-from", "20260101000000Z")
    assert trusted == [
        {"name": "transition_node_to_trusted", "args": {"node_id": NODE1_ID, "valid_from": "20260101000000Z"}}
    ]
    assert dry_run(workspace, "remove-node", NODE1_ID) == [
        {"name": "remove_node", "args": {"node_id": NODE1_ID}}
    ]


def test_a_node_is_trusted_from_now_unless_told(workspace: Workspace) -> None:
    (action,) = dry_run(workspace, "transition-node-to-trusted", "node1")
    args = action["args"]
    assert isinstance(args, dict)
    datetime.strptime(args["valid_from"], "%Y%m%d%H%M%SZ")


def test_service_actions(workspace: Workspace, tmp_path: Path) -> None:
    constitution = {"default": {"type": "majority"}, "actions": {"set_user": {"type": "k_of_n", "k": 1}}}
    constitution_file = tmp_path / "constitution.json"
    constitution_file.write_text(json.dumps(constitution))
    assert dry_run(workspace, "set-constitution", "--file", str(constitution_file)) == [
        {"name": "set_constitution", "args": {"constitution": constitution}}
    ]
    for verb in ("add-measurement", "remove-measurement"):
        assert dry_run(workspace, verb, "--platform", "vbs-sim", "--measurement", MEASUREMENT.upper()) == [
            {"name": verb.replace("-", "_"), "args": {"platform": "vbs-sim", "measurement": MEASUREMENT}}
        ]
    assert dry_run(workspace, "set-recovery-threshold", "2") == [
        {"name": "set_recovery_threshold", "args": {"recovery_threshold": 2}}
    ]
    for verb in ("transition-service-to-open", "trigger-ledger-rekey"):
        assert dry_run(workspace, verb) == [{"name": verb.replace("-", "_"), "args": {}}]


def test_a_proposal_file_is_sent_as_written(workspace: Workspace, tmp_path: Path) -> None:
    proposal = {
        "actions": [
            {"name": "set_recovery_threshold", "args": {"recovery_threshold": 1}},
            {"name": "trigger_ledger_rekey", "args": {}},
        ]
    }
    proposal_file = tmp_path / "proposal.json"
    proposal_file.write_text(json.dumps(proposal))
    result = run_gov(workspace, "propose", "--file", str(proposal_file), "--dry-run")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == proposal


# -- usage errors: exit 2, nothing signed ---------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"actions": []}',
        '{"actions": [{"name": "make_coffee", "args": {}}]}',
        '{"actions": [{"name": "trigger_ledger_rekey", "args": {}}], "extra": 1}',
        '{"actions": [{"name": "set_recovery_threshold", "args": {"recovery_threshold": "two"}}]}',
        '{"actions": [{"name": "remove_member", "args": {"member_id": "member1"}}]}',
    ],
)
def test_a_bad_proposal_file_is_a_usage_error(workspace: Workspace, tmp_path: Path, content: str) -> None:
    proposal_file = tmp_path / "proposal.json"
    proposal_file.write_text(content)
    result = run_gov(workspace, "propose", "--file", str(proposal_file))
    assert result.exit_code == 2
    assert "--file" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["propose"],
        ["propose", "--file", "{proposal}", "trigger-ledger-rekey"],
        ["propose", "--as", "member1", "trigger-ledger-rekey"],
        ["propose", "remove-member", "member9"],
        ["propose", "remove-user", "member0"],
        ["propose", "remove-node", "node7"],
        ["propose", "set-member-data", "member1", "--member-data", "not json"],
        ["propose", "set-member"],
        ["propose", "set-recovery-threshold", "0"],
        ["propose", "add-measurement", "--platform", "sgx-sim", "--measurement", "abcd"],
        ["propose", "add-measurement", "--platform", "tdx", "--measurement", MEASUREMENT],
        ["propose", "transition-node-to-trusted", "node1", "--valid-from", "yesterday"],
        ["vote", "0" * 64, "maybe"],
        ["list", "--state", "pondering"],
        ["--cert", "{cert}", "members"],
        ["--cert", "{cert}", "--key", "{key}", "vote", "0" * 64, "accept", "--as", "member1"],
    ],
    ids=" ".join,
)
def test_usage_errors_exit_2(workspace: Workspace, tmp_path: Path, args: list[str]) -> None:
    proposal_file = tmp_path / "proposal.json"
    proposal_file.write_text('{"actions": [{"name": "trigger_ledger_rekey", "args": {}}]}')
    files = workspace.identity_files(Role.MEMBER, "member0")
    filled = [arg.format(proposal=proposal_file, cert=files.cert, key=files.private_key) for arg in args]
    result = CliRunner().invoke(cli, ["gov", *filled, "--workspace", str(workspace.root)])
    assert result.exit_code == 2, result.output


# -- failures that are not usage errors: exit 1, JSON on stderr with --json -----------------------------


def test_without_a_network_reads_fail_with_a_code(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "empty")
    ws.save_identity(Role.MEMBER, "member0", generate_identity("member0", with_encryption_key=False))
    result = CliRunner().invoke(cli, ["gov", "members", "--workspace", str(ws.root), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stderr)["error"] == "no_network"


def test_an_unknown_member_is_refused_before_connecting(workspace: Workspace) -> None:
    result = run_gov(workspace, "ack", "--as", "member9", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stderr)["error"] == "unknown_member"


def test_a_key_that_is_not_the_certificates_cannot_sign(workspace: Workspace) -> None:
    member0 = workspace.identity_files(Role.MEMBER, "member0")
    member1 = workspace.identity_files(Role.MEMBER, "member1")
    result = CliRunner().invoke(
        cli,
        [
            "gov",
            "--cert",
            str(member0.cert),
            "--key",
            str(member1.private_key),
            "ack",
            "--json",
            "--workspace",
            str(workspace.root),
        ],
    )
    assert result.exit_code == 1
    assert json.loads(result.stderr)["error"] == "invalid_signer"


# -- private keys never printed ---------------------------------------------------------------------------


def test_private_keys_never_reach_the_output(workspace: Workspace, tmp_path: Path) -> None:
    member0 = workspace.identity_files(Role.MEMBER, "member0")
    member1 = workspace.identity_files(Role.MEMBER, "member1")
    secrets = [
        "".join(path.read_text().splitlines()[1:-1])
        for path in (member0.private_key, member1.private_key, member1.encryption_private_key)
    ]
    unreadable = tmp_path / "garbage.pem"
    unreadable.write_text(member0.private_key.read_text()[:100])
    runs = [
        run_gov(workspace, "propose", "set-member", "--cert", str(member1.cert), "--dry-run"),
        run_gov(workspace, "propose", "set-member", "--cert", str(member1.private_key)),
        run_gov(
            workspace,
            "propose",
            "set-member",
            "--cert",
            str(member1.cert),
            "--enc-pubk",
            str(member1.encryption_private_key),
        ),
        run_gov(workspace, "ack", "--json"),
        CliRunner().invoke(
            cli,
            [
                "gov",
                "--cert",
                str(member0.cert),
                "--key",
                str(unreadable),
                "ack",
                "--workspace",
                str(workspace.root),
            ],
        ),
        CliRunner().invoke(
            cli,
            [
                "gov",
                "--cert",
                str(member0.private_key),
                "--key",
                str(member0.private_key),
                "ack",
                "--workspace",
                str(workspace.root),
            ],
        ),
    ]
    for run in runs:
        printed = "".join((run.stdout + run.stderr).split())
        assert all(secret not in printed for secret in secrets), run.output
