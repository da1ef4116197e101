"""Governance against a real network (issue 6's acceptance): members, users, nodes, measurements and the
constitution changed by signed proposals and votes, and every refused request leaving every governance
table as it was. The nodes are real processes; members sign with their own keys (`sealchain.governance`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from enclave.crypto.certs import certificate_pem, load_certificate_pem
from enclave.crypto.cose import GovMessageType
from enclave.crypto.ids import user_id_of
from enclave.runtime import messages as m
from node.network import wait_for
from node.platform_files import trusted_code_measurement
from sealchain.client import Client, ClientError, TxStatus
from sealchain.governance import GovernanceClient, MemberSigner, propose_and_pass
from sealchain.identities import generate_identity
from sealchain.workspace import IdentityFiles, Role, Workspace
from tests.integration.cluster import Cluster
from tests.integration.test_rejected_joins import changed_trusted_code, mentions

pytestmark = pytest.mark.slow

GOVERNANCE_TABLES = tuple(m.GovTable)


def new_identity(workspace: Workspace, role: Role, name: str) -> IdentityFiles:
    """`sealchain keygen member|user NAME`: the identity's files in the workspace."""
    return workspace.save_identity(
        role, name, generate_identity(name, with_encryption_key=role is Role.MEMBER)
    )


def new_member(workspace: Workspace, name: str) -> MemberSigner:
    files = new_identity(workspace, Role.MEMBER, name)
    return MemberSigner.from_files(files.cert, files.private_key)


def every_table(governance: GovernanceClient) -> dict[m.GovTable, object]:
    return {table: governance.read(table)[0] for table in GOVERNANCE_TABLES}


def refused(code: str, attempt: Callable[[], object]) -> str:
    with pytest.raises(ClientError) as refusal:
        attempt()
    assert refusal.value.code == code, refusal.value
    return refusal.value.message


def valid_from() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H%M%SZ")


def test_members_are_admitted_activated_and_removed_by_vote(start_cluster: Callable[..., Cluster]) -> None:
    cluster = start_cluster(nodes=3, members=3)
    ws = cluster.workspace
    member0, member1, member2 = cluster.signers()
    member3 = new_member(ws, "member3")
    encryption_key = ws.identity_files(Role.MEMBER, "member3").encryption_public_key.read_text()

    with cluster.governance() as governance:
        set_member = {"cert": certificate_pem(member3.cert), "encryption_pub_key": encryption_key}
        admitted = propose_and_pass(
            governance, [member0, member1], [{"name": "set_member", "args": set_member}]
        )
        assert admitted.proposal_state == "Accepted"
        statuses = {row["member_id"]: row["status"] for row in governance.members()}
        assert statuses[member3.member_id] == "Accepted"
        # Accepted, not yet Active: it may not propose; once it acks the state digest it may.
        refused("Forbidden", lambda: governance.propose(member3, [{"name": "trigger_ledger_rekey"}]))
        governance.activate(member3)
        assert {row["member_id"]: row["status"] for row in governance.members()}[
            member3.member_id
        ] == "Active"

        # Four Active members: a majority is three.
        removal = governance.propose(
            member3, [{"name": "remove_member", "args": {"member_id": member2.member_id}}]
        )
        assert removal.proposal_id is not None
        tally = governance.proposal(removal.proposal_id)["tally"]
        assert (tally["active_members"], tally["required"]) == (4, 3)
        assert governance.vote(member0, removal.proposal_id, True).proposal_state == "Open"
        assert governance.vote(member1, removal.proposal_id, True).proposal_state == "Open"
        assert governance.vote(member3, removal.proposal_id, True).proposal_state == "Accepted"

        assert member2.member_id not in {row["member_id"] for row in governance.members()}
        message = refused(
            "UnknownMember", lambda: governance.propose(member2, [{"name": "trigger_ledger_rekey"}])
        )
        assert member2.member_id in message
    cluster.stop()
    cluster.check_ledgers()


def test_a_user_set_by_vote_may_transact_and_once_removed_is_refused(
    start_cluster: Callable[..., Cluster],
) -> None:
    cluster = start_cluster(nodes=3)
    ws = cluster.workspace
    files = new_identity(ws, Role.USER, "user1")
    user1_cert = files.cert.read_bytes()
    cluster.pass_proposal({"name": "set_user", "args": {"cert": user1_cert.decode()}})

    def user1_client(timeout: float) -> Client:
        return Client(
            [cluster.client_address(name) for name in cluster.names],
            service_cert_pem=ws.service_cert.read_bytes(),
            cert_pem=files.cert.read_bytes(),
            key_pem=files.private_key.read_bytes(),
            timeout=timeout,
        )

    with user1_client(20.0) as client:
        assert client.put("records", b"by user1", b"v").status is TxStatus.COMMITTED

    user_id = user_id_of(load_certificate_pem(user1_cert))
    cluster.pass_proposal({"name": "remove_user", "args": {"user_id": user_id}})

    def refusal() -> str | None:
        """Every node refuses user1 (at the TLS handshake once its roots follow, or as NotAUser)."""
        codes = []
        for name in cluster.names:
            with Client(
                [cluster.client_address(name)],
                service_cert_pem=ws.service_cert.read_bytes(),
                cert_pem=files.cert.read_bytes(),
                key_pem=files.private_key.read_bytes(),
                timeout=2.0,
            ) as client:
                try:
                    client.get("records", b"by user1")
                except ClientError as error:
                    codes.append(error.code)
                    continue
                return None
        return ",".join(codes)

    codes = wait_for("every node to refuse the removed user", refusal, time.monotonic() + 30)
    assert set(codes.split(",")) <= {"NotAUser", "UNAVAILABLE"}, codes
    cluster.stop()
    cluster.check_ledgers()


def test_a_pending_node_is_trusted_by_vote_becomes_a_voter_and_is_removed_by_vote(
    start_cluster: Callable[..., Cluster],
) -> None:
    cluster = start_cluster(nodes=3, spare_machines=1)
    cluster.join("node3", cluster.join_address("node0"))
    cluster.trust("node3")
    report = cluster.wait_until("node3", "node3 to be a follower", lambda r: r.role == "follower")
    node3 = report.node_id
    assert node3 is not None

    def voters() -> int | None:
        with cluster.governance() as governance:
            nodes = {row["node_id"]: row["status"] for row in governance.nodes()}
        return 1 if nodes.get(node3) == "Trusted" else None

    wait_for("node3 to be recorded Trusted", voters, time.monotonic() + 30)
    with cluster.client() as client:
        written = client.put("records", b"with four", b"v")
    cluster.wait_commit_at_least("node3", written.txid.seqno)

    cluster.remove("node3")
    cluster.wait_until("node3", "node3 to retire", lambda r: r.state is m.LifecycleState.RETIRED)
    with cluster.client(["node0", "node1", "node2"]) as client:
        assert client.put("records", b"without node3", b"v").status is TxStatus.COMMITTED
    cluster.stop()
    cluster.check_ledgers()


def test_the_measurement_allow_list_decides_who_joins_and_a_change_drops_open_proposals(
    start_cluster: Callable[..., Cluster], tmp_path: Path
) -> None:
    cluster = start_cluster(nodes=1, spare_machines=2)
    allowed_code = changed_trusted_code(tmp_path / "allowed")
    other_code = changed_trusted_code(tmp_path / "other")
    with (other_code / "enclave" / "runtime" / "lifecycle.py").open("a") as changed:
        changed.write("\n")
    measurement = trusted_code_measurement(allowed_code).hex()
    assert measurement != trusted_code_measurement(other_code).hex()
    with cluster.governance() as governance:
        (service_code,) = governance.measurements()["sgx-sim"]
    added = {"platform": "sgx-sim", "measurement": measurement}
    cluster.pass_proposal({"name": "add_measurement", "args": added})

    # Each joiner's operator trusts the service's (older) code: the joiner checks the responder too.
    trusts = (bytes.fromhex(service_code),)
    target = cluster.join_address("node0")
    cluster.join("node1", target, environment={"PYTHONPATH": str(allowed_code)}, service_measurements=trusts)
    cluster.join("node2", target, environment={"PYTHONPATH": str(other_code)}, service_measurements=trusts)
    cluster.trust("node1")
    cluster.wait_until("node1", "node1 to follow", lambda r: r.role == "follower")
    cluster.wait_for_log("node2", "the refusal", mentions("MeasurementNotAllowed"))
    assert cluster.status("node2").state is m.LifecycleState.JOINING  # type: ignore[union-attr]

    (member0,) = cluster.signers()
    with cluster.governance() as governance:
        waiting = governance.propose(
            member0, [{"name": "set_recovery_threshold", "args": {"recovery_threshold": 1}}]
        )
        assert waiting.proposal_state == "Open" and waiting.proposal_id is not None
        removed = cluster.pass_proposal({"name": "remove_measurement", "args": added})
        assert removed.proposal_state == "Accepted"
        assert governance.proposal(waiting.proposal_id)["state"] == "Dropped"
        assert measurement not in governance.measurements()["sgx-sim"]
    with cluster.client(["node0"]) as client:
        written = client.put("records", b"with the new code", b"v")
    cluster.wait_commit_at_least("node1", written.txid.seqno)
    cluster.stop()
    cluster.check_ledgers(["node0", "node1"])


def test_the_constitution_sets_thresholds_per_action(start_cluster: Callable[..., Cluster]) -> None:
    cluster = start_cluster(nodes=1, members=3)
    member0, member1, member2 = cluster.signers()
    constitution = {
        "default": {"type": "majority"},
        "actions": {"set_user_data": {"type": "k_of_n", "k": 2}, "set_member_data": {"type": "all"}},
    }
    cluster.pass_proposal({"name": "set_constitution", "args": {"constitution": constitution}})

    with cluster.governance() as governance:
        assert governance.constitution() == constitution
        (user0,) = governance.users()
        user_id = user0["user_id"]
        two = governance.propose(
            member0, [{"name": "set_user_data", "args": {"user_id": user_id, "user_data": 1}}]
        )
        assert two.proposal_id is not None
        assert governance.vote(member1, two.proposal_id, True).proposal_state == "Open"
        assert governance.vote(member2, two.proposal_id, True).proposal_state == "Accepted"

        every = governance.propose(
            member0, [{"name": "set_member_data", "args": {"member_id": member0.member_id, "member_data": 2}}]
        )
        assert every.proposal_id is not None
        assert governance.vote(member0, every.proposal_id, True).proposal_state == "Open"
        assert governance.vote(member1, every.proposal_id, True).proposal_state == "Open"
        assert governance.vote(member2, every.proposal_id, True).proposal_state == "Accepted"
        assert governance.proposal(every.proposal_id)["tally"]["required"] == 3


def test_refused_requests_change_no_governance_table(start_cluster: Callable[..., Cluster]) -> None:
    cluster = start_cluster(nodes=3, members=2)
    member0, member1 = cluster.signers()
    stranger = new_member(cluster.workspace, "stranger")
    now = int(time.time())
    rekey = json.dumps({"actions": [{"name": "trigger_ledger_rekey"}]}).encode()

    with cluster.governance() as governance:
        proposed = governance.propose(member0, [{"name": "trigger_ledger_rekey"}])
        withdrawn = governance.propose(
            member0, [{"name": "set_recovery_threshold", "args": {"recovery_threshold": 1}}]
        )
        assert proposed.proposal_id is not None and withdrawn.proposal_id is not None
        governance.withdraw(member0, withdrawn.proposal_id)
        accepted = propose_and_pass(
            governance,
            [member0, member1],
            [{"name": "set_member_data", "args": {"member_id": member1.member_id, "member_data": "x"}}],
        )
        assert accepted.proposal_id is not None
        replayable = member0.sign(
            GovMessageType.BALLOT, b'{"vote": "reject"}', proposal_id=proposed.proposal_id
        )
        governance.submit(replayable)
        before = every_table(governance)

        forged = bytearray(member0.sign(GovMessageType.PROPOSAL, rekey))
        forged[-5] ^= 0x40
        attempts: list[tuple[str, Callable[[], object]]] = [
            ("InvalidArgument", lambda: governance.submit(bytes(forged))),
            ("ReplayedRequest", lambda: governance.submit(replayable)),
            (
                "StaleRequest",
                lambda: governance.submit(
                    member0.sign(GovMessageType.PROPOSAL, rekey, created_at=now - 3600)
                ),
            ),
            (
                "StaleRequest",
                lambda: governance.submit(
                    member0.sign(GovMessageType.PROPOSAL, rekey, created_at=now + 3600)
                ),
            ),
            ("UnknownMember", lambda: governance.propose(stranger, [{"name": "trigger_ledger_rekey"}])),
            ("ProposalClosed", lambda: governance.vote(member1, withdrawn.proposal_id, True)),  # type: ignore[arg-type]
            ("ProposalClosed", lambda: governance.vote(member1, accepted.proposal_id, False)),  # type: ignore[arg-type]
            (
                "InvalidArgument",
                lambda: governance.propose(
                    member0, [{"name": "set_recovery_threshold", "args": {"recovery_threshold": "two"}}]
                ),
            ),
            ("InvalidArgument", lambda: governance.propose(member0, [{"name": "make_me_admin", "args": {}}])),
        ]
        messages = [refused(code, attempt) for code, attempt in attempts]

        assert every_table(governance) == before
    assert "signature" in messages[0].lower()
    assert "make_me_admin" in messages[-1]
    cluster.stop()
    cluster.check_ledgers()
