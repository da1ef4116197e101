"""`MemberSigner`: a member's requests as the enclave will verify them, and keys that stay private."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enclave.crypto.certs import load_certificate_pem
from enclave.crypto.cose import GovMessageType, parse_and_verify
from sealchain.governance import InvalidSigner, MemberSigner
from sealchain.identities import generate_identity
from sealchain.workspace import Role, Workspace, WorkspaceError


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path)
    for name in ("member0", "member1"):
        ws.save_identity(Role.MEMBER, name, generate_identity(name, with_encryption_key=False))
    return ws


def test_a_ballot_verifies_with_the_members_certificate(workspace: Workspace) -> None:
    signer = MemberSigner.from_workspace(workspace, "member0")
    cert = load_certificate_pem(workspace.identity_files(Role.MEMBER, "member0").cert.read_bytes())
    payload = json.dumps({"vote": "accept"}).encode()

    signed = signer.sign(GovMessageType.BALLOT, payload, proposal_id="ab" * 32, created_at=1_700_000_000)

    request = parse_and_verify(signed, cert)
    assert request.kid == signer.member_id
    assert request.msg_type is GovMessageType.BALLOT
    assert request.proposal_id == "ab" * 32
    assert request.created_at == 1_700_000_000
    assert request.payload == payload


def test_each_signature_is_fresh_so_only_resent_bytes_are_a_replay(workspace: Workspace) -> None:
    """As `ccf_cose_sign1`: a random ECDSA nonce, so the same content signed twice is two requests."""
    signer = MemberSigner.from_workspace(workspace, "member0")
    cert = load_certificate_pem(workspace.identity_files(Role.MEMBER, "member0").cert.read_bytes())
    first = signer.sign(GovMessageType.STATE_DIGEST, b"", created_at=5)
    second = signer.sign(GovMessageType.STATE_DIGEST, b"", created_at=5)
    assert first != second
    assert parse_and_verify(first, cert).created_at == parse_and_verify(second, cert).created_at == 5


def test_created_at_defaults_to_now(workspace: Workspace) -> None:
    signer = MemberSigner.from_workspace(workspace, "member0")
    cert = load_certificate_pem(workspace.identity_files(Role.MEMBER, "member0").cert.read_bytes())
    assert parse_and_verify(signer.sign(GovMessageType.ACK, b"{}"), cert).created_at > 1_700_000_000


def test_a_key_that_is_not_the_certificates_is_refused(workspace: Workspace) -> None:
    member0 = workspace.identity_files(Role.MEMBER, "member0")
    member1 = workspace.identity_files(Role.MEMBER, "member1")
    with pytest.raises(InvalidSigner, match="not the certificate's key"):
        MemberSigner.from_files(member0.cert, member1.private_key)


def test_files_that_are_not_a_certificate_and_key_are_refused(workspace: Workspace) -> None:
    member0 = workspace.identity_files(Role.MEMBER, "member0")
    with pytest.raises(InvalidSigner):
        MemberSigner.from_files(member0.private_key, member0.private_key)
    with pytest.raises(InvalidSigner):
        MemberSigner.from_files(member0.cert, member0.cert)


def test_an_unknown_member_is_a_workspace_error(workspace: Workspace) -> None:
    with pytest.raises(WorkspaceError) as raised:
        MemberSigner.from_workspace(workspace, "member7")
    assert raised.value.code == "unknown_member"


def test_the_signer_never_shows_its_key(workspace: Workspace) -> None:
    signer = MemberSigner.from_workspace(workspace, "member0")
    key_pem = workspace.identity_files(Role.MEMBER, "member0").private_key.read_text()
    assert repr(signer) == f"MemberSigner(member_id={signer.member_id!r})"
    assert key_pem.splitlines()[1] not in repr(signer) + str(signer)
