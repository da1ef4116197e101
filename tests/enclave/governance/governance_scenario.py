"""A small governed service in a real KV store: members who sign real COSE requests, and the handler."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from enclave.crypto.certs import certificate_pem
from enclave.crypto.cose import GovMessageType, sign_request
from enclave.crypto.ids import MemberId, member_id_of, node_id_of
from enclave.crypto.keys import identity_key_from_entropy
from enclave.governance.handler import (
    BallotCast,
    GovernanceResult,
    ProposalSubmitted,
    StateDigestIssued,
    handle_request,
)
from enclave.governance.proposals import ProposalId, ProposalState
from enclave.governance.requests import ReplayPolicy
from enclave.governance.tables import MEMBERS_CERTS, MEMBERS_INFO, MemberStatus, member_info_value
from enclave.kv.store import KvStore
from enclave.kv.transaction import ReadOnly, Transaction
from enclave.kv.write_set import is_public_map
from enclave.ledger.tables import NodeStatus, ServiceStatus, endorsed_node_writes, service_info_writes

NOW = 1_800_000_000
NOT_BEFORE = datetime(2025, 1, 1, tzinfo=UTC)
SERVICE_CERT_PEM = "-----BEGIN CERTIFICATE-----\nservice\n-----END CERTIFICATE-----\n"


@dataclass(frozen=True)
class Member:
    """A member's own signing key and self-signed certificate (CCF's keygenerator.sh, deterministic)."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls, seed: int, curve: ec.EllipticCurve | None = None) -> Member:
        rng = random.Random(seed)
        key = (
            identity_key_from_entropy(rng.randbytes(64))
            if curve is None
            else ec.derive_private_key(rng.getrandbits(200) + 1, curve)
        )
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"member{seed}")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(seed + 1)
            .not_valid_before(NOT_BEFORE)
            .not_valid_after(NOT_BEFORE + timedelta(days=365))
            .sign(key, hashes.SHA384(), ecdsa_deterministic=True)
        )
        return cls(key, cert)

    @property
    def id(self) -> MemberId:
        return member_id_of(self.cert)

    @property
    def cert_pem(self) -> str:
        return certificate_pem(self.cert)

    def sign(
        self, payload: object, msg_type: GovMessageType, created_at: int, proposal_id: str | None = None
    ) -> bytes:
        content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return sign_request(
            content, self.key, self.cert, msg_type=msg_type, created_at=created_at, proposal_id=proposal_id
        )


# An action as a proposal names it: (name, args).
ActionSpec = tuple[str, Mapping[str, object]]


def proposal(*actions: ActionSpec) -> dict[str, object]:
    return {"actions": [{"name": name, "args": args} for name, args in actions]}


def public_state(store: KvStore) -> dict[str, dict[bytes, bytes]]:
    """Every public map's committed keys and values (the helpers commit every version at once)."""
    maps = store.committed_state().maps
    return {
        name: {key: versioned.value for key, versioned in entries.items()}
        for name, entries in maps.items()
        if is_public_map(name)
    }


def commit(store: KvStore, tx: Transaction) -> None:
    tx.commit()
    store.commit(store.version)


@dataclass
class Governed:
    """A service in the Opening state with `members` (Active unless said otherwise) and a clock."""

    members: list[Member]
    store: KvStore = field(default_factory=KvStore)
    now: int = NOW
    policy: ReplayPolicy = field(default_factory=ReplayPolicy)

    @classmethod
    def create(cls, count: int = 3, *, policy: ReplayPolicy | None = None) -> Governed:
        service = cls([Member.create(i) for i in range(count)], policy=policy or ReplayPolicy())
        tx = service.store.begin()
        for map_name, writes in service_info_writes(SERVICE_CERT_PEM, ServiceStatus.OPENING).items():
            for key, value in writes.writes.items():
                tx.put(map_name, key, value)
        for member in service.members:
            tx.put(MEMBERS_CERTS, member.id.encode(), member.cert_pem.encode())
            tx.put(MEMBERS_INFO, member.id.encode(), member_info_value(MemberStatus.ACCEPTED, None))
        commit(service.store, tx)
        for member in service.members:
            service.activate(member)
        return service

    def record_node(self, seed: int, status: NodeStatus) -> str:
        """A node as the runtime records it when it joins (Pending after the service opened)."""
        key = identity_key_from_entropy(random.Random(seed).randbytes(64))
        tx = self.store.begin()
        for map_name, map_writes in endorsed_node_writes(key.public_key(), "node cert", status).items():
            for map_key, value in map_writes.writes.items():
                tx.put(map_name, map_key, value)
        commit(self.store, tx)
        return node_id_of(key.public_key())

    def tick(self) -> int:
        self.now += 1
        return self.now

    def handle(self, signed: bytes) -> GovernanceResult:
        tx = self.store.begin()
        result = handle_request(tx, signed, self.now, self.policy)
        commit(self.store, tx)
        return result

    def send(
        self,
        member: Member,
        payload: object,
        msg_type: GovMessageType,
        proposal_id: str | None = None,
    ) -> GovernanceResult:
        return self.handle(member.sign(payload, msg_type, self.tick(), proposal_id))

    def refuse(self, signed: bytes) -> Exception:
        """Hand in a request that must be refused; commit the transaction anyway: it must hold no write."""
        before = public_state(self.store)
        tx = self.store.begin()
        try:
            handle_request(tx, signed, self.now, self.policy)
        except Exception as exc:
            refusal = exc
        else:
            raise AssertionError("the request was accepted")
        assert isinstance(tx.commit(), ReadOnly)
        self.store.commit(self.store.version)
        assert public_state(self.store) == before
        return refusal

    def activate(self, member: Member) -> None:
        issued = self.send(member, b"", GovMessageType.STATE_DIGEST)
        assert isinstance(issued, StateDigestIssued)
        self.send(member, {"state_digest": issued.state_digest}, GovMessageType.ACK)

    def propose(self, member: Member, *actions: ActionSpec) -> ProposalId:
        submitted = self.send(member, proposal(*actions), GovMessageType.PROPOSAL)
        assert isinstance(submitted, ProposalSubmitted)
        return submitted.proposal_id

    def vote(self, member: Member, proposal_id: str, accept: bool = True) -> GovernanceResult:
        ballot = {"vote": "accept" if accept else "reject"}
        return self.send(member, ballot, GovMessageType.BALLOT, proposal_id)

    def pass_proposal(self, *actions: ActionSpec) -> ProposalId:
        """Proposed by the first member, accepted by every member in turn until it closes."""
        proposal_id = self.propose(self.members[0], *actions)
        for member in self.members:
            result = self.vote(member, proposal_id)
            assert isinstance(result, BallotCast)
            if result.state is not ProposalState.OPEN:
                break
        return proposal_id
