"""Disaster recovery of a real network (issue 8): 3 nodes, 3 members, recovery threshold 2, two rekeys
under load; every node is killed; `network up --recover-from` starts a new service from the ledger; one
share leaves it closed, a replayed or wrong share does not count, two shares restore every committed
public and private value, written under all three ledger secrets, and receipts from before still verify.
"""

from __future__ import annotations

import base64
import functools
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from enclave.crypto.cose import GovMessageType
from enclave.recovery.shares import issued_from_json
from enclave.runtime.messages import GovTable
from node.network import read_network_file, wait_for
from sealchain.cli import cli
from sealchain.client import Client, ClientError, TxStatus
from sealchain.governance import GovernanceClient, MemberSigner
from sealchain.workspace import Workspace
from tests.integration.cluster import Cluster, Writer
from tests.integration.test_rekey import member_share as decrypt_member_share

pytestmark = pytest.mark.slow


def recover_with_cli(cluster: Cluster, new: Workspace, nodes: int) -> Result:
    """`sealchain network up --recover-from` the cluster's workspace into `new`, detached."""
    return sealchain(
        "network",
        "up",
        "--recover-from",
        str(cluster.workspace.root),
        "--workspace",
        str(new.root),
        "--nodes",
        str(nodes),
        "--detach",
        "--json",
    )


def sealchain(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def issuance_after(governance: GovernanceClient, from_seqno: int) -> int | None:
    """The seqno the shares' secret applies from, once it is after `from_seqno` (threshold 2)."""
    rows, _ = governance.read(GovTable.RECOVERY_SHARES)
    if not isinstance(rows, dict) or rows["threshold"] != 2 or rows["latest_secret_from_seqno"] <= from_seqno:
        return None
    return int(rows["latest_secret_from_seqno"])


def service_status(workspace: Workspace) -> str:
    with GovernanceClient.from_workspace(workspace.root, timeout=10) as governance:
        return str(governance.service()["status"])


def test_a_killed_network_is_recovered_from_its_ledger_by_two_members_shares(
    start_cluster: Callable[..., Cluster], tmp_path: Path
) -> None:
    cluster = start_cluster(nodes=3, members=3)
    cluster.pass_proposal({"name": "set_recovery_threshold", "args": {"recovery_threshold": 2}})
    writer = Writer(cluster)
    writer.start()
    shares_from = 1  # the seqno the latest secret (whose shares are issued) applies from
    try:
        with cluster.governance() as governance:
            for _ in range(2):
                writer.wait_for_commits(len(writer.committed) + 10)
                assert cluster.pass_proposal({"name": "trigger_ledger_rekey"}).proposal_state == "Accepted"
                # The shares follow the latest secret: wait for the re-issue after this rekey.
                shares_from = wait_for(
                    "shares of the new secret, 2 of 3",
                    functools.partial(issuance_after, governance, shares_from),
                    time.monotonic() + 30,
                )
        writer.wait_for_commits(len(writer.committed) + 10)
    finally:
        writer.stop_writing.set()
        writer.join(timeout=30)
    with cluster.client() as client:
        public = client.put("public:records", b"public key", b"public value")
        old_receipt = tmp_path / "receipt.json"
        old_receipt.write_text(client.receipt(public.txid).receipt_json)
        client.put("records", b"last private", b"after both rekeys")
    old_service_cert = cluster.workspace.service_cert.read_bytes()
    for name in cluster.names:
        cluster.kill(name)

    new = Workspace(tmp_path / "recovered")
    up = recover_with_cli(cluster, new, nodes=3)
    try:
        assert up.exit_code == 0, up.output
        assert new.service_cert.read_bytes() != old_service_cert
        assert service_status(new) == "WaitingForRecoveryShares"
        member0, member1 = (MemberSigner.from_workspace(new, name) for name in ("member0", "member1"))

        one = sealchain("gov", "share", "submit", "--as", "member0", "--workspace", str(new.root), "--json")
        assert one.exit_code == 0, one.output
        assert json.loads(one.stdout)["submitted"] == 1 and service_status(new) == "WaitingForRecoveryShares"
        with GovernanceClient.from_workspace(new.root, identity="member1") as governance:
            # A forged share under member1's index counts as a share but cannot rebuild the key: the
            # attempt fails, nothing opens, and the shares must be submitted again.
            real = member_share(new, "member1", governance)
            forged = real[:-1] + bytes([real[-1] ^ 1])
            payload = json.dumps({"share": base64.b64encode(forged).decode()}).encode()
            failed = governance.submit(member1.sign(GovMessageType.RECOVERY_SHARE, payload))
            assert (
                "failure" in json.loads(failed.body_json)
                and service_status(new) == "WaitingForRecoveryShares"
            )
            again = member0.sign(
                GovMessageType.RECOVERY_SHARE,
                json.dumps(
                    {"share": base64.b64encode(member_share(new, "member0", governance)).decode()}
                ).encode(),
            )
            governance.submit(again)
            with pytest.raises(ClientError) as replayed:
                governance.submit(again)
            assert replayed.value.code == "ReplayedRequest"
        last = sealchain("gov", "share", "submit", "--as", "member1", "--workspace", str(new.root), "--json")
        assert last.exit_code == 0, last.output
        assert json.loads(last.stdout)["service"] == "Open"

        with Client.from_workspace(new.root, identity="user0") as client:
            for key, value in writer.committed.items():
                assert client.get("records", key).value == value, key
            assert client.get("records", b"last private").value == b"after both rekeys"
            assert client.get("public:records", b"public key").value == b"public value"
            assert client.put("records", b"after recovery", b"new").status is TxStatus.COMMITTED
        (tmp_path / "old.pem").write_bytes(old_service_cert)
        verified = sealchain(
            "receipt", "verify", str(old_receipt), "--service-cert", str(tmp_path / "old.pem")
        )
        assert verified.exit_code == 0, verified.output
    finally:
        sealchain("network", "down", "--workspace", str(new.root))
    for record in read_network_file(new.root).nodes:
        checked = sealchain("ledger", "verify", str(new.root / record.ledger_dir))
        assert checked.exit_code == 0, checked.output


def member_share(workspace: Workspace, name: str, governance: GovernanceClient) -> bytes:
    """The member's share, decrypted with its own key (as `gov share submit` does)."""
    rows, _ = governance.read(GovTable.RECOVERY_SHARES)
    return decrypt_member_share(workspace, name, issued_from_json(json.dumps(rows).encode())).to_bytes()


def test_recovery_from_a_ledger_torn_mid_entry_keeps_what_a_complete_signature_covers(
    start_cluster: Callable[..., Cluster], tmp_path: Path
) -> None:
    cluster = start_cluster(nodes=1)
    with cluster.client() as client:
        early = {b"early-%d" % i: b"value-%d" % i for i in range(5)}
        for key, value in early.items():
            client.put("records", key, value)
        for i in range(5):  # later writes, and the signatures after them, end the ledger
            client.put("records", b"late-%d" % i, b"late")
    cluster.kill("node0")
    chunks = sorted(cluster.ledger_dir("node0").iterdir(), key=lambda path: path.stat().st_mtime)
    torn = chunks[-1]
    torn.write_bytes(torn.read_bytes()[:-3])  # a crash in the middle of writing the last entry

    new = Workspace(tmp_path / "recovered")
    up = recover_with_cli(cluster, new, nodes=1)
    try:
        assert up.exit_code == 0, up.output
        shared = sealchain(
            "gov", "share", "submit", "--as", "member0", "--workspace", str(new.root), "--json"
        )
        assert shared.exit_code == 0, shared.output
        assert json.loads(shared.stdout)["service"] == "Open"
        with Client.from_workspace(new.root, identity="user0") as client:
            for key, value in early.items():
                assert client.get("records", key).value == value, key
    finally:
        sealchain("network", "down", "--workspace", str(new.root))
