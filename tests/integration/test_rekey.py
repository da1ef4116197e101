"""Ledger rekey against a real network (issue 8): members trigger two rekeys while a writer keeps writing;
every node keeps committing, a node that joins afterwards and a node restarted from its own files read the
data written under all three secrets, and no secret reaches the hosts' files."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from enclave.recovery.errors import InvalidShare, WrongShares
from enclave.recovery.shamir import Share
from enclave.recovery.shares import IssuedShares, decrypt_share, issued_from_json, recover_latest_secret
from enclave.runtime.messages import GovTable
from node.network import wait_for
from sealchain.governance import GovernanceClient, MemberSigner
from sealchain.workspace import Role, Workspace
from tests.integration.cluster import Cluster, Writer, read_everywhere
from tests.integration.test_network import host_visible_bytes, unsealed_secrets

pytestmark = pytest.mark.slow


def test_two_rekeys_under_load_leave_every_secrets_data_readable(
    start_cluster: Callable[..., Cluster],
) -> None:
    cluster = start_cluster(nodes=3, spare_machines=1)
    writer = Writer(cluster)
    writer.start()
    try:
        for _ in range(2):
            writer.wait_for_commits(len(writer.committed) + 15)
            assert cluster.pass_proposal({"name": "trigger_ledger_rekey"}).proposal_state == "Accepted"
        writer.wait_for_commits(len(writer.committed) + 15)
    finally:
        writer.stop_writing.set()
        writer.join(timeout=30)

    cluster.join("node3", cluster.join_address("node0"))
    cluster.trust("node3")
    follower = next(name for name in cluster.names if name != cluster.primary() and name != "node3")
    cluster.kill(follower)
    cluster.restart(follower)
    cluster.wait_until(follower, "the restarted node to follow", lambda r: r.role == "follower")
    read_everywhere(cluster, writer.committed, writer.highest_seqno)

    # The node that joined after both rekeys was given all three secrets (sealed for its restarts).
    keys = [secret.key for _, secret in unsealed_secrets(cluster, "node3").ledger_secrets.versions()]
    cluster.stop()
    assert cluster.check_ledgers() >= writer.highest_seqno
    visible = host_visible_bytes(cluster)
    assert len(set(keys)) == 3
    assert not any(key in visible or key.hex().encode() in visible for key in keys)


def test_recovery_shares_follow_the_members_and_an_old_share_stops_helping(
    start_cluster: Callable[..., Cluster],
) -> None:
    cluster = start_cluster(nodes=1, members=3)
    member2 = cluster.signers()[2]
    with cluster.governance() as governance:
        cluster.pass_proposal({"name": "set_recovery_threshold", "args": {"recovery_threshold": 2}})
        before = wait_for("shares for 3 members, 2 needed", lambda: shares_if(governance, 3, 2), deadline())
        old_share = member_share(cluster.workspace, "member2", before)
        assert recover_latest_secret(before, [member_share(cluster.workspace, "member0", before), old_share])

        cluster.pass_proposal({"name": "remove_member", "args": {"member_id": member2.member_id}})
        after = wait_for("shares for 2 members", lambda: shares_if(governance, 2, 2), deadline())
    assert member2.member_id not in after.encrypted_shares
    # The removed member's old share does not combine with a new one (wrong key, or a clashing index).
    with pytest.raises((WrongShares, InvalidShare)):
        recover_latest_secret(after, [member_share(cluster.workspace, "member0", after), old_share])
    assert recover_latest_secret(
        after, [member_share(cluster.workspace, name, after) for name in ("member0", "member1")]
    )


def deadline() -> float:
    return time.monotonic() + 30


def shares_if(governance: GovernanceClient, members: int, threshold: int) -> IssuedShares | None:
    rows, _ = governance.read(GovTable.RECOVERY_SHARES)
    if rows is None:
        return None
    issued = issued_from_json(json.dumps(rows).encode())
    return issued if (len(issued.encrypted_shares), issued.threshold) == (members, threshold) else None


def member_share(workspace: Workspace, name: str, issued: IssuedShares) -> Share:
    """What `gov share` does on the member's machine: decrypt its own share with its own key."""
    files = workspace.identity_files(Role.MEMBER, name)
    member_id = MemberSigner.from_workspace(workspace, name).member_id
    return decrypt_share(issued.encrypted_shares[member_id], files.encryption_private_key.read_bytes())
