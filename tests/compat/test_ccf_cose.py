"""CCF's own COSE tools (`ccf` 6.0.28): requests signed by `ccf_cose_sign1` govern sealchain, and requests
sealchain signs pass `ccf.cose`'s verification."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import ccf.cose
import pycose.headers
from pycose.messages import Sign1Message  # type: ignore[attr-defined]

from enclave.crypto.cose import GovMessageType
from enclave.crypto.keys import private_key_pem
from enclave.governance.handler import BallotCast, ProposalSubmitted
from enclave.governance.proposals import ProposalState
from enclave.governance.tables import USERS_CERTS
from tests.enclave.governance.governance_scenario import Governed, Member, proposal

CCF_COSE_SIGN1 = Path(sys.executable).parent / "ccf_cose_sign1"


def ccf_sign(
    tmp_path: Path,
    member: Member,
    content: bytes,
    *,
    msg_type: str,
    created_at: int,
    proposal_id: str | None = None,
) -> bytes:
    (tmp_path / "content").write_bytes(content)
    (tmp_path / "cert.pem").write_text(member.cert_pem)
    (tmp_path / "key.pem").write_text(private_key_pem(member.key))
    command = [
        str(CCF_COSE_SIGN1),
        "--content",
        str(tmp_path / "content"),
        "--signing-cert",
        str(tmp_path / "cert.pem"),
        "--signing-key",
        str(tmp_path / "key.pem"),
        "--ccf-gov-msg-type",
        msg_type,
        "--ccf-gov-msg-created-at",
        datetime.fromtimestamp(created_at, UTC).isoformat(),
    ]
    if proposal_id is not None:
        command += ["--ccf-gov-msg-proposal-id", proposal_id]
    return subprocess.run(command, check=True, capture_output=True, timeout=60).stdout


def test_a_proposal_and_ballots_signed_by_ccf_cose_sign1_are_accepted_and_applied(tmp_path: Path) -> None:
    service = Governed.create(2)
    alice, bob = service.members
    user = Member.create(60)
    content = proposal(("set_user", {"cert": user.cert_pem}))
    signed = ccf_sign(
        tmp_path, alice, json.dumps(content).encode(), msg_type="proposal", created_at=service.tick()
    )
    submitted = service.handle(signed)
    assert isinstance(submitted, ProposalSubmitted) and submitted.state is ProposalState.OPEN
    pid = submitted.proposal_id
    for member in (alice, bob):
        ballot = ccf_sign(
            tmp_path,
            member,
            b'{"vote": "accept"}',
            msg_type="ballot",
            created_at=service.tick(),
            proposal_id=pid,
        )
        result = service.handle(ballot)
    # Alice's ballot left it open; Bob's made two of two.
    assert result == BallotCast(pid, ProposalState.ACCEPTED)
    assert service.store.begin().get(USERS_CERTS, user.id.encode()) == user.cert_pem.encode()


def test_a_request_sealchain_signs_passes_ccf_verification() -> None:
    alice = Member.create(61)
    signed = alice.sign({"vote": "accept"}, GovMessageType.BALLOT, 1_800_000_000, "p1")
    ccf.cose.validate_cose_sign1(alice.cert.public_key(), signed)  # type: ignore[no-untyped-call]
    message = Sign1Message.decode(signed)
    assert message.phdr[pycose.headers.KID] == ccf.cose.cert_fingerprint(alice.cert_pem)
    assert message.phdr["ccf.gov.msg.type"] == "ballot"
    assert message.phdr["ccf.gov.msg.created_at"] == 1_800_000_000
    assert message.phdr["ccf.gov.msg.proposal_id"] == "p1"
