"""Members govern the service: `from sealchain import GovernanceClient` (DESIGN.md sections 4 and 6).

    signer = MemberSigner.from_workspace(Workspace.locate(), "member0")
    with GovernanceClient.from_workspace(identity="member0") as gov:
        gov.activate(signer)                                  # Accepted -> Active (state digest, ack)
        proposed = gov.propose(signer, [{"name": "set_recovery_threshold",
                                         "args": {"recovery_threshold": 1}}])
        gov.vote(signer, proposed.proposal_id, accept=True)
        print(gov.proposal(proposed.proposal_id)["state"])

Every state-changing request is a COSE Sign1 message with CCF's governance headers, signed here with the
member's own key (`MemberSigner`) and verified inside the enclave; the TLS identity only opens the
connection (any member's or user's certificate). `submit` sends bytes signed elsewhere (CCF's
`ccf_cose_sign1`, a hardware key) as they are. A request is answered once its transaction is Committed
(or rolled back: Invalid).

Failover: like `Client`, a call moves to the next node when a node is unreachable or knows no primary.
Resending a governance request is safe: one that was already executed is refused as `ReplayedRequest`,
never applied twice (so after a failover, `ReplayedRequest` may mean "it did happen": read the table).
Each signature uses a fresh random nonce (as CCF's `ccf_cose_sign1` does), so signing the same request
twice gives two requests; resending the same bytes is what a replay is.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography import x509

from enclave.crypto.certs import CertificateFormatError, load_certificate_pem
from enclave.crypto.cose import GovMessageType, sign_request
from enclave.crypto.ids import member_id_of
from enclave.crypto.keys import IdentityKey, KeyFormatError, load_private_key_pem
from enclave.recovery.shares import decrypt_share, issued_from_json
from enclave.runtime.messages import GovernanceResult, GovRead, GovTable, TxRef, TxStatus
from node.rpc import convert
from proto.sealchain.v1 import governance_pb2_grpc
from sealchain.connection import DEFAULT_TIMEOUT_SECONDS, ClientError, ServiceAccess, ServiceClient
from sealchain.workspace import Role, Workspace, WorkspaceError

__all__ = [
    "GovTable",
    "GovernanceClient",
    "GovernanceError",
    "GovernanceResult",
    "InvalidSigner",
    "MemberSigner",
    "ProposalNotAccepted",
    "activate_and_open",
    "propose_and_pass",
    "result_body",
    "result_failure",
]

# A parsed JSON object from the service (shapes in docs/governance.md).
JsonObject = dict[str, Any]


class InvalidSigner(ValueError):
    """A member signing identity that cannot sign: not an EC P-384 certificate and private key in PEM, or
    a key that is not the certificate's."""


class GovernanceError(ClientError):
    """A governance outcome other than the one asked for (`code`: the service's, or one of the codes
    raised here: "ProposalNotAccepted", "UnexpectedResponse")."""


class ProposalNotAccepted(GovernanceError):
    """`propose_and_pass`: the proposal ended Rejected, Failed, Withdrawn or Dropped, or its request was
    rolled back (`result.status` Invalid)."""

    def __init__(self, result: GovernanceResult) -> None:
        failure = result_failure(result)
        ended = result.proposal_state if result.status is TxStatus.COMMITTED else result.status.value
        super().__init__(
            "ProposalNotAccepted",
            f"proposal {result.proposal_id} ended {ended}" + (f": {failure}" if failure else ""),
        )
        self.result = result


class MemberSigner:
    """A member's signing identity: its certificate and EC P-384 private key. `member_id` is the hex
    SHA-256 of the certificate DER (CCF), which is also the `kid` of what it signs."""

    __slots__ = ("_key", "cert", "member_id")

    def __init__(self, cert: x509.Certificate, key: IdentityKey) -> None:
        if key.public_key() != cert.public_key():
            raise InvalidSigner("the private key is not the certificate's key")
        self.cert = cert
        self.member_id = member_id_of(cert)
        self._key = key

    @classmethod
    def from_pem(cls, cert_pem: bytes, key_pem: bytes) -> MemberSigner:
        try:
            return cls(load_certificate_pem(cert_pem), load_private_key_pem(key_pem))
        except (CertificateFormatError, KeyFormatError) as exc:
            raise InvalidSigner(str(exc)) from None

    @classmethod
    def from_files(cls, cert_path: Path, key_path: Path) -> MemberSigner:
        """`OSError` when a file cannot be read, `InvalidSigner` when its content cannot sign."""
        return cls.from_pem(cert_path.read_bytes(), key_path.read_bytes())

    @classmethod
    def from_workspace(cls, workspace: Workspace, name: str) -> MemberSigner:
        """Member NAME's files in `workspace/members/`; `WorkspaceError` ("unknown_member") if none."""
        files = workspace.identity_files(Role.MEMBER, name)
        if not files.cert.exists() or not files.private_key.exists():
            raise WorkspaceError("unknown_member", f"no member named {name!r} in {workspace.root}")
        return cls.from_files(files.cert, files.private_key)

    def sign(
        self,
        msg_type: GovMessageType,
        payload: bytes,
        *,
        proposal_id: str | None = None,
        created_at: int | None = None,
    ) -> bytes:
        """A COSE Sign1 governance request as `ccf_cose_sign1` writes it; `created_at` defaults to now
        (Unix seconds), which the service checks for freshness."""
        return sign_request(
            payload,
            self._key,
            self.cert,
            msg_type=msg_type,
            created_at=int(time.time()) if created_at is None else created_at,
            proposal_id=proposal_id,
            deterministic=False,
        )

    def __repr__(self) -> str:
        return f"MemberSigner(member_id={self.member_id!r})"


class GovernanceClient(ServiceClient[governance_pb2_grpc.GovernanceStub]):
    """A connection to the nodes' `Governance` service: `GovernanceClient(addresses, *, service_cert_pem,
    cert_pem, key_pem, timeout=30.0)`, TLS as any member or user."""

    _stub_type = governance_pb2_grpc.GovernanceStub
    _another_node_may_serve = convert.RETRYABLE_ERRORS

    @classmethod
    def from_workspace(
        cls,
        workspace: Path | None = None,
        *,
        identity: str = "member0",
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> GovernanceClient:
        """The network in the workspace's `network.json`, with `identity`'s certificate for TLS."""
        return cls.from_access(ServiceAccess.from_workspace(workspace, identity), timeout=timeout)

    # -- requests --------------------------------------------------------------------------------

    def submit(self, signed: bytes) -> GovernanceResult:
        """Sends one COSE Sign1 request as it is; answered once Committed (or Invalid)."""
        return self._connection.invoke(
            lambda stub: stub.Submit, convert.gov_submit_request(signed), convert.governance_result
        )

    def propose(self, signer: MemberSigner, actions: Sequence[Mapping[str, object]]) -> GovernanceResult:
        """CCF's proposal `{"actions": [{"name": ..., "args": {...}}, ...]}`; the proposer does not
        vote implicitly. `result.proposal_id` names it for ballots."""
        payload = _json_bytes({"actions": [dict(action) for action in actions]})
        return self.submit(signer.sign(GovMessageType.PROPOSAL, payload))

    def vote(self, signer: MemberSigner, proposal_id: str, accept: bool) -> GovernanceResult:
        """CCF's ballot `{"vote": "accept"|"reject"}`; a later ballot replaces the member's earlier one."""
        payload = _json_bytes({"vote": "accept" if accept else "reject"})
        return self.submit(signer.sign(GovMessageType.BALLOT, payload, proposal_id=proposal_id))

    def withdraw(self, signer: MemberSigner, proposal_id: str) -> GovernanceResult:
        """Only the proposer withdraws, and only an Open proposal."""
        return self.submit(signer.sign(GovMessageType.WITHDRAWAL, b"", proposal_id=proposal_id))

    def activate(self, signer: MemberSigner) -> GovernanceResult:
        """CCF member activation: fetch the state digest, then sign an ack of exactly it (Accepted ->
        Active). Returns the ack's result, whose body is `{"member_id": ..., "status": "Active"}`."""
        issued = self.submit(signer.sign(GovMessageType.STATE_DIGEST, b""))
        state_digest = result_body(issued).get("state_digest")
        if not isinstance(state_digest, str):
            raise GovernanceError("UnexpectedResponse", f"no state digest in {issued.body_json!r}")
        return self.submit(signer.sign(GovMessageType.ACK, _json_bytes({"state_digest": state_digest})))

    def submit_share(self, signer: MemberSigner, encryption_private_key_pem: bytes) -> GovernanceResult:
        """Disaster recovery (docs/recovery.md): decrypts this member's recovery share here, with the
        member's own encryption key (which never leaves this machine), and submits it signed. The
        result's body says how many shares are in, or that the private state was restored."""
        rows, _ = self.read(GovTable.RECOVERY_SHARES)
        if rows is None:
            raise GovernanceError("NoRecoveryShares", "the service records no recovery shares")
        issued = issued_from_json(json.dumps(rows).encode())
        encrypted = issued.encrypted_shares.get(signer.member_id)
        if encrypted is None:
            raise GovernanceError("NotARecoveryMember", f"no share was issued to member {signer.member_id}")
        share = decrypt_share(encrypted, encryption_private_key_pem).to_bytes()
        payload = _json_bytes({"share": base64.b64encode(share).decode()})
        return self.submit(signer.sign(GovMessageType.RECOVERY_SHARE, payload))

    # -- reads -----------------------------------------------------------------------------------

    def read(self, table: GovTable, key: str = "") -> tuple[object, TxRef]:
        """A governance table as the service gives it (parsed JSON), and the committed TxID it reflects."""
        rows = self._connection.invoke(
            lambda stub: stub.Read, convert.gov_read_request(GovRead(table, key)), convert.governance_rows
        )
        try:
            return json.loads(rows.rows_json), rows.txid
        except ValueError:
            raise GovernanceError("UnexpectedResponse", f"{table.value} is not JSON") from None

    def proposals(self) -> list[JsonObject]:
        return _objects(self.read(GovTable.PROPOSALS)[0], GovTable.PROPOSALS)

    def proposal(self, proposal_id: str) -> JsonObject:
        """One proposal; `ClientError` "UnknownProposal" if there is none."""
        return _object(self.read(GovTable.PROPOSALS, proposal_id)[0], GovTable.PROPOSALS)

    def members(self) -> list[JsonObject]:
        return _objects(self.read(GovTable.MEMBERS)[0], GovTable.MEMBERS)

    def users(self) -> list[JsonObject]:
        return _objects(self.read(GovTable.USERS)[0], GovTable.USERS)

    def nodes(self) -> list[JsonObject]:
        return _objects(self.read(GovTable.NODES)[0], GovTable.NODES)

    def service(self) -> JsonObject:
        return _object(self.read(GovTable.SERVICE)[0], GovTable.SERVICE)

    def constitution(self) -> JsonObject:
        return _object(self.read(GovTable.CONSTITUTION)[0], GovTable.CONSTITUTION)

    def measurements(self) -> JsonObject:
        return _object(self.read(GovTable.MEASUREMENTS)[0], GovTable.MEASUREMENTS)


def propose_and_pass(
    client: GovernanceClient, signers: Sequence[MemberSigner], actions: Sequence[Mapping[str, object]]
) -> GovernanceResult:
    """Propose with `signers[0]`, then vote accept with each signer in turn until the proposal is no
    longer Open; the last result. `ProposalNotAccepted` if it ends anything but Accepted."""
    if not signers:
        raise ValueError("propose_and_pass needs at least one signer")
    result = client.propose(signers[0], actions)
    proposal_id = result.proposal_id
    assert proposal_id is not None, "the service answers a proposal with its id"
    for signer in signers:
        if result.status is not TxStatus.COMMITTED or result.proposal_state != "Open":
            break
        result = client.vote(signer, proposal_id, accept=True)
    if result.status is not TxStatus.COMMITTED or result.proposal_state != "Accepted":
        raise ProposalNotAccepted(result)
    return result


def activate_and_open(client: GovernanceClient, signers: Sequence[MemberSigner]) -> None:
    """What `network up` does: activate every signer not yet Active, then pass
    `transition_service_to_open` (unless the service is Open already, so running it twice is harmless)."""
    active = {member["member_id"] for member in client.members() if member.get("status") == "Active"}
    for signer in signers:
        if signer.member_id not in active:
            client.activate(signer)
    if client.service().get("status") != "Open":
        propose_and_pass(client, signers, [{"name": "transition_service_to_open", "args": {}}])


# -- results and helpers ---------------------------------------------------------------------------------


def _json_bytes(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def result_body(result: GovernanceResult) -> JsonObject:
    """What a request did, beyond the proposal state (shapes in docs/governance.md)."""
    try:
        body = json.loads(result.body_json or "{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise GovernanceError(
            "UnexpectedResponse", f"the result body is not a JSON object: {result.body_json!r}"
        )
    return body


def result_failure(result: GovernanceResult) -> str | None:
    """Why a proposal ended Failed (its actions could not be applied), from the result's body."""
    try:
        failure = result_body(result).get("failure")
    except GovernanceError:
        return None
    return failure if isinstance(failure, str) else None


def _object(rows: object, table: GovTable) -> JsonObject:
    if not isinstance(rows, dict):
        raise GovernanceError("UnexpectedResponse", f"{table.value}: expected a JSON object")
    return rows


def _objects(rows: object, table: GovTable) -> list[JsonObject]:
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise GovernanceError("UnexpectedResponse", f"{table.value}: expected a list of JSON objects")
    return rows
