"""`sealchain gov` against a real network: members join, activate, propose, vote, withdraw and read the
governance tables, as the commands a member types (DESIGN.md section 7, docs/governance.md)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from enclave.crypto.cose import GovMessageType
from enclave.runtime import messages as m
from sealchain.cli import cli
from sealchain.governance import (
    GovernanceClient,
    MemberSigner,
    ProposalNotAccepted,
    activate_and_open,
    propose_and_pass,
    result_failure,
)
from sealchain.workspace import Role, Workspace
from tests.integration.cluster import Cluster

pytestmark = pytest.mark.slow

CCF_COSE_SIGN1 = Path(sys.executable).parent / "ccf_cose_sign1"
MEASUREMENT = "5e" * 32
# More shares than there are recovery members: accepted, then Failed when applied.
UNREACHABLE_THRESHOLD = {"name": "set_recovery_threshold", "args": {"recovery_threshold": 9}}


def sealchain(workspace: Workspace, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--workspace", str(workspace.root), "--json"])


def gov(workspace: Workspace, *args: str, member: str = "member0") -> dict[str, object]:
    """A gov command that must succeed; its JSON output."""
    result = sealchain(workspace, "gov", *args, "--as", member)
    assert result.exit_code == 0, result.output
    document: dict[str, object] = json.loads(result.stdout)
    return document


def gov_rows(workspace: Workspace, *args: str) -> list[dict[str, object]]:
    result = sealchain(workspace, "gov", *args)
    assert result.exit_code == 0, result.output
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def gov_refused(workspace: Workspace, *args: str, member: str = "member0") -> str:
    """A gov command the service refuses: exit 1, and the node's error code."""
    result = sealchain(workspace, "gov", *args, "--as", member)
    assert result.exit_code == 1, result.output
    code: str = json.loads(result.stderr)["error"]
    return code


def propose(workspace: Workspace, *args: str, member: str = "member0") -> str:
    proposed = gov(workspace, "propose", *args, member=member)
    assert proposed["status"] == "Committed" and proposed["state"] == "Open", proposed
    proposal_id = proposed["proposal_id"]
    assert isinstance(proposal_id, str)
    return proposal_id


def vote(workspace: Workspace, proposal_id: str, ballot: str, member: str) -> object:
    return gov(workspace, "vote", proposal_id, ballot, member=member)["state"]


def allowed_measurements(workspace: Workspace, platform: str) -> list[object]:
    allowed = gov(workspace, "measurements")[platform]
    assert isinstance(allowed, list)
    return allowed


def keygen(workspace: Workspace, role: Role, name: str) -> None:
    result = sealchain(workspace, "keygen", role.value, name)
    assert result.exit_code == 0, result.output


def member_statuses(workspace: Workspace) -> dict[str, object]:
    names = {resolved_id(workspace, "member", name): name for name in workspace.identity_names(Role.MEMBER)}
    return {names[str(row["member_id"])]: row["status"] for row in gov_rows(workspace, "members")}


def resolved_id(workspace: Workspace, kind: str, name: str) -> str:
    """The id the CLI resolves a workspace name to (kind: member, user or node)."""
    result = sealchain(workspace, "gov", "propose", f"remove-{kind}", name, "--dry-run")
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["actions"][0]["args"][f"{kind}_id"])


def add_member(workspace: Workspace, name: str, voters: list[str]) -> None:
    """keygen, set-member, the voters accept, and the new member acks."""
    keygen(workspace, Role.MEMBER, name)
    files = workspace.identity_files(Role.MEMBER, name)
    proposal_id = propose(
        workspace, "set-member", "--cert", str(files.cert), "--enc-pubk", str(files.encryption_public_key)
    )
    states = [vote(workspace, proposal_id, "accept", voter) for voter in voters]
    assert states[-1] == "Accepted", states
    assert member_statuses(workspace)[name] == "Accepted"
    acked = gov(workspace, "ack", member=name)
    assert acked["member_status"] == "Active" and acked["status"] == "Committed"


def ccf_sign(tmp_path: Path, workspace: Workspace, member: str, content: object) -> Path:
    """A proposal signed by CCF's own `ccf_cose_sign1`, written to a file for `gov submit`."""
    files = workspace.identity_files(Role.MEMBER, member)
    (tmp_path / "proposal.json").write_text(json.dumps(content))
    created_at = datetime.now(UTC).replace(microsecond=0).isoformat()
    signed = subprocess.run(
        [
            str(CCF_COSE_SIGN1),
            "--content",
            str(tmp_path / "proposal.json"),
            "--signing-cert",
            str(files.cert),
            "--signing-key",
            str(files.private_key),
            "--ccf-gov-msg-type",
            "proposal",
            "--ccf-gov-msg-created-at",
            created_at,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    (tmp_path / "proposal.cose").write_bytes(signed)
    return tmp_path / "proposal.cose"


def test_members_govern_through_the_cli(start_cluster: Callable[..., Cluster], tmp_path: Path) -> None:
    cluster = start_cluster(nodes=1)
    ws = cluster.workspace

    # The genesis member is Active and the service Open; one member alone passes what it accepts.
    assert member_statuses(ws) == {"member0": "Active"}
    assert gov(ws, "service")["status"] == "Open"
    assert [row["status"] for row in gov_rows(ws, "nodes")] == ["Trusted"]
    add_member(ws, "member1", voters=["member0"])
    # Acking again: refused as WrongState (the member is Active already); never applied twice.
    assert gov_refused(ws, "ack", member="member1") == "WrongState"

    # Two Active members: a majority is both.
    keygen(ws, Role.MEMBER, "member2")
    member2 = ws.identity_files(Role.MEMBER, "member2")
    proposal_id = propose(ws, "set-member", "--cert", str(member2.cert), "--member-data", '{"org": "c"}')
    assert vote(ws, proposal_id, "accept", "member0") == "Open"
    shown = gov(ws, "show", proposal_id)
    assert shown["tally"] == {
        "accept": 1,
        "reject": 0,
        "required": 2,
        "active_members": 2,
        "resolution": "Open",
    }
    assert vote(ws, proposal_id, "accept", "member1") == "Accepted"
    assert gov_refused(ws, "vote", proposal_id, "reject", member="member1") == "ProposalClosed"
    assert gov_refused(ws, "propose", "trigger-ledger-rekey", member="member2") == "Forbidden"
    gov(ws, "ack", member="member2")
    assert member_statuses(ws) == {"member0": "Active", "member1": "Active", "member2": "Active"}

    # Only its proposer withdraws a proposal; then it is closed.
    withdrawn = propose(ws, "set-recovery-threshold", "1", member="member2")
    assert gov_refused(ws, "withdraw", withdrawn, member="member0") == "Forbidden"
    assert gov(ws, "withdraw", withdrawn, member="member2")["state"] == "Withdrawn"
    assert gov_refused(ws, "vote", withdrawn, "accept", member="member1") == "ProposalClosed"
    assert [p["proposal_id"] for p in gov_rows(ws, "list", "--state", "withdrawn")] == [withdrawn]

    # Two rejections of three make a proposal that can no longer pass.
    rejected = propose(ws, "set-member-data", "member1", "--member-data", "[]", member="member1")
    assert vote(ws, rejected, "reject", "member0") == "Open"
    assert vote(ws, rejected, "reject", "member2") == "Rejected"

    # A proposal signed by CCF's own tool, submitted byte for byte; the same bytes again are a replay.
    constitution = {"default": {"type": "k_of_n", "k": 1}, "actions": {"remove_member": {"type": "all"}}}
    signed = ccf_sign(
        tmp_path,
        ws,
        "member1",
        {"actions": [{"name": "set_constitution", "args": {"constitution": constitution}}]},
    )
    submitted = gov(ws, "submit", str(signed))
    assert submitted["state"] == "Open"
    assert gov_refused(ws, "submit", str(signed)) == "ReplayedRequest"
    constitution_id = str(submitted["proposal_id"])
    vote(ws, constitution_id, "accept", "member0")
    assert vote(ws, constitution_id, "accept", "member2") == "Accepted"
    assert gov(ws, "constitution") == constitution

    # Under k_of_n 1, one acceptance passes everything but remove_member.
    keygen(ws, Role.USER, "user1")
    user1 = ws.identity_files(Role.USER, "user1")
    for action in (
        ["set-user", "--cert", str(user1.cert), "--user-data", '{"team": "audit"}'],
        ["set-user-data", "user1", "--user-data", '{"team": "ops"}'],
        ["add-measurement", "--platform", "vbs-sim", "--measurement", MEASUREMENT],
        ["trigger-ledger-rekey"],
    ):
        assert vote(ws, propose(ws, *action), "accept", "member0") == "Accepted", action

    # Opening an open service is accepted, then fails to apply.
    reopened = gov(ws, "vote", propose(ws, "transition-service-to-open", member="member1"), "accept")
    assert reopened["state"] == "Failed" and "cannot open from Open" in str(reopened["failure"])

    # Several actions at once, from a proposal file.
    proposal_file = tmp_path / "several.json"
    several = [
        {"name": "set_recovery_threshold", "args": {"recovery_threshold": 2}},
        {
            "name": "set_member_data",
            "args": {"member_id": resolved_id(ws, "member", "member0"), "member_data": 0},
        },
    ]
    proposal_file.write_text(json.dumps({"actions": several}))
    from_file = propose(ws, "--file", str(proposal_file))
    assert vote(ws, from_file, "accept", "member1") == "Accepted"
    assert gov(ws, "show", from_file)["actions"] == several
    user1_id = resolved_id(ws, "user", "user1")
    assert {row["user_id"]: row["user_data"] for row in gov_rows(ws, "users")}[user1_id] == {"team": "ops"}
    assert MEASUREMENT in allowed_measurements(ws, "vbs-sim")
    assert gov(ws, "service")["recovery_threshold"] == 2
    for action in (
        ["remove-user", "user1"],
        ["remove-measurement", "--platform", "vbs-sim", "--measurement", MEASUREMENT],
    ):
        assert vote(ws, propose(ws, *action), "accept", "member1") == "Accepted", action
    assert user1_id not in {row["user_id"] for row in gov_rows(ws, "users")}
    assert MEASUREMENT not in allowed_measurements(ws, "vbs-sim")

    # Removing a member takes all three; the removed member is nobody to the service.
    removal = propose(ws, "remove-member", "member2", member="member1")
    for voter, state in (("member0", "Open"), ("member1", "Open"), ("member2", "Accepted")):
        assert vote(ws, removal, "accept", voter) == state
    assert set(member_statuses(ws)) == {"member0", "member1"}
    # (Signed by the removed member, sent over member0's connection: member2's own is no longer accepted.)
    stranger = ccf_sign(tmp_path, ws, "member2", {"actions": [{"name": "trigger_ledger_rekey", "args": {}}]})
    assert gov_refused(ws, "submit", str(stranger)) == "UnknownMember"
    assert gov_refused(ws, "show", "0" * 64) == "UnknownProposal"

    states = {p["proposal_id"]: p["state"] for p in gov_rows(ws, "list")}
    assert (
        states[withdrawn] == "Withdrawn" and states[rejected] == "Rejected" and states[removal] == "Accepted"
    )
    cluster.stop()
    cluster.check_ledgers()


def test_members_trust_and_retire_a_node(start_cluster: Callable[..., Cluster]) -> None:
    cluster = start_cluster(nodes=1, spare_machines=1)
    ws = cluster.workspace
    cluster.join("node1", cluster.join_address("node0"))
    cluster.wait_until("node1", "the join to be pending", lambda r: r.state is m.LifecycleState.PENDING)
    cluster.local.write_network_file(["member0"], cluster.users)
    node1 = resolved_id(ws, "node", "node1")
    assert {row["node_id"]: row["status"] for row in gov_rows(ws, "nodes")}[node1] == "Pending"

    trusted = propose(ws, "transition-node-to-trusted", "node1")
    assert vote(ws, trusted, "accept", "member0") == "Accepted"
    cluster.wait_open("node1")
    assert [row["status"] for row in gov_rows(ws, "nodes")] == ["Trusted", "Trusted"]

    retired = propose(ws, "remove-node", node1)
    assert vote(ws, retired, "accept", "member0") == "Accepted"
    assert {row["node_id"]: row["status"] for row in gov_rows(ws, "nodes")}[node1] == "Retired"
    cluster.wait_until("node1", "node1 to be Retired", lambda r: r.state is m.LifecycleState.RETIRED)
    # Asked first, the retired node refuses (NodeRetired) and the library goes on to the next node.
    files = ws.identity_files(Role.MEMBER, "member0")
    with GovernanceClient(
        [cluster.client_address("node1"), cluster.client_address("node0")],
        service_cert_pem=ws.service_cert.read_bytes(),
        cert_pem=files.cert.read_bytes(),
        key_pem=files.private_key.read_bytes(),
    ) as client:
        assert {row["node_id"]: row["status"] for row in client.nodes()}[node1] == "Retired"


def test_the_library_fails_over_and_reports_what_did_not_pass(
    start_cluster: Callable[..., Cluster], tmp_path: Path
) -> None:
    cluster = start_cluster(nodes=1)
    ws = cluster.workspace
    member0 = MemberSigner.from_workspace(ws, "member0")
    files = ws.identity_files(Role.MEMBER, "member0")
    with socket.socket() as unused:  # a loopback port nobody listens on: that "node" is unreachable
        unused.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{unused.getsockname()[1]}"
    with GovernanceClient(
        [dead, cluster.client_address("node0")],
        service_cert_pem=ws.service_cert.read_bytes(),
        cert_pem=files.cert.read_bytes(),
        key_pem=files.private_key.read_bytes(),
        timeout=20.0,
    ) as client:
        # Already Active and Open: nothing to do, and nothing is proposed.
        before = len(client.proposals())
        activate_and_open(client, [member0])
        assert len(client.proposals()) == before

        with pytest.raises(ProposalNotAccepted) as raised:
            propose_and_pass(client, [member0], [UNREACHABLE_THRESHOLD])
        failed = raised.value.result
        assert failed.proposal_state == "Failed"
        assert "exceeds" in raised.value.message
        assert client.proposal(str(failed.proposal_id))["failure"] == result_failure(failed)

    # The CLI shows the same: the vote succeeds (exit 0), the proposal ends Failed, and says why.
    proposal_id = propose(ws, "set-recovery-threshold", "7")
    voted = gov(ws, "vote", proposal_id, "accept")
    assert voted["state"] == "Failed" and "exceeds" in str(voted["failure"])
    failed_ids = {p["proposal_id"] for p in gov_rows(ws, "list", "--state", "failed")}
    assert failed_ids == {failed.proposal_id, proposal_id}

    # `gov submit` of a request that is no proposal (here a state digest request) prints what it did.
    request = tmp_path / "state_digest.cose"
    request.write_bytes(member0.sign(GovMessageType.STATE_DIGEST, b""))
    submitted = gov(ws, "submit", str(request))
    assert submitted["status"] == "Committed"
    body = submitted["body"]
    assert isinstance(body, dict) and set(body) == {"state_digest"}
