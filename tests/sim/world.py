"""A deterministic whole-node simulation: real `Enclave`s on the sgx-sim platform, an in-memory host per
node that carries out effects faithfully, and a simulated network with seeded faults.

The host keeps two copies of its disk: what it wrote (`ledger`, `raft_state`) and what a `Flush` made
durable. A crash loses everything after the last Flush, and may strike in the middle of an effect list
(the effects after the cut never happen). A restart gives the enclave its durable ledger, Raft state and
sealed secrets, as a real host reads them back from its files.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from enclave.crypto.certs import certificate_pem
from enclave.crypto.cose import GovMessageType, sign_request
from enclave.crypto.keys import MIN_ENTROPY_BYTES, identity_key_from_entropy
from enclave.platform.api import Measurement, Platform, PlatformName, RandomBytes
from enclave.platform.backends import open_platform
from enclave.platform.provisioning import Machine, create_vendor_roots, provision_machine
from enclave.runtime import messages as m
from enclave.runtime.enclave import Enclave

EPOCH = datetime(2026, 6, 1, tzinfo=UTC)
EPOCH_MS = int(EPOCH.timestamp() * 1000)
TICK_MS = 10
MEASUREMENT = Measurement(hashlib.sha256(b"sealchain simulated trusted code").digest())
OTHER_MEASUREMENT = Measurement(hashlib.sha256(b"some other code").digest())
SETTINGS = m.ConsensusSettings(
    election_ticks=10,
    heartbeat_ticks=1,
    signature_interval_txs=20,
    signature_interval_ms=30,
    channel_retry_ticks=5,
    join_retry_ticks=8,
)


@dataclass(frozen=True)
class Provisioned:
    """Vendor roots and machines, made once per process (deterministic ECDSA, seeded randomness)."""

    roots: dict[PlatformName, x509.Certificate]
    machines: tuple[Machine, ...]
    user_cert_pem: str
    user_cert_der: bytes
    stranger_cert_der: bytes
    # The consortium's one member (genesis makes it Accepted; `open_service` activates it).
    member_key: ec.EllipticCurvePrivateKey
    member_cert: x509.Certificate

    @property
    def member_info(self) -> m.MemberInfo:
        return m.MemberInfo(certificate_pem(self.member_cert))

    def member_request(
        self,
        msg_type: GovMessageType,
        payload: object,
        created_at_s: int,
        proposal_id: str | None = None,
    ) -> m.ClientCall:
        """A governance request signed by the member, as a client call (its TLS identity is the member's)."""
        content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        signed = sign_request(
            content,
            self.member_key,
            self.member_cert,
            msg_type=msg_type,
            created_at=created_at_s,
            proposal_id=proposal_id,
        )
        return m.GovSubmit(signed)

    @property
    def member_cert_der(self) -> bytes:
        return self.member_cert.public_bytes(serialization.Encoding.DER)


def _self_signed(seed: int, name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    rng = random.Random(seed)
    key = identity_key_from_entropy(rng.randbytes(MIN_ENTROPY_BYTES))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    return key, (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(seed + 1)
        .not_valid_before(EPOCH - timedelta(days=1))
        .not_valid_after(EPOCH + timedelta(days=365))
        .sign(key, hashes.SHA384(), ecdsa_deterministic=True)
    )


@functools.cache
def provisioned() -> Provisioned:
    rng = random.Random(7)
    roots = create_vendor_roots(now=EPOCH, random_bytes=rng.randbytes)
    machines = tuple(
        provision_machine(f"machine{i}", roots, now=EPOCH, random_bytes=rng.randbytes) for i in range(4)
    )
    _, user = _self_signed(1, "user0")
    _, stranger = _self_signed(2, "stranger")
    member_key, member = _self_signed(3, "member0")
    der = serialization.Encoding.DER
    return Provisioned(
        {name: root.certificate for name, root in roots.items()},
        machines,
        certificate_pem(user),
        user.public_bytes(der),
        stranger.public_bytes(der),
        member_key,
        member,
    )


def addresses(index: int) -> m.NodeAddresses:
    return m.NodeAddresses(peer=f"10.0.0.{index + 1}:8001", client=f"10.0.0.{index + 1}:8000")


def platform_on(index: int, random_bytes: RandomBytes, measurement: Measurement = MEASUREMENT) -> Platform:
    """The sgx-sim platform of machine `index`, running code of `measurement`."""
    return open_platform(PlatformName.SGX_SIM, provisioned().machines[index], measurement, random_bytes)


def new_enclave(index: int, rng: random.Random, measurement: Measurement = MEASUREMENT) -> Enclave:
    """An enclave on machine `index`, with randomness drawn from `rng`."""
    random_bytes = random.Random(rng.getrandbits(64)).randbytes
    return Enclave(platform_on(index, random_bytes, measurement), random_bytes, provisioned().roots)


class HostInvariantViolated(AssertionError):
    """The enclave asked the host for something a real host could not do (append out of order,
    truncate committed entries, move the commit back)."""


@dataclass
class Disk:
    """A host's files: the ledger entries after `base` (0, or the snapshot the node started from), the
    Raft state and that snapshot's file."""

    ledger: list[bytes] = field(default_factory=list)
    raft_state: m.RaftHardState | None = None
    base: int = 0
    snapshot: bytes | None = None

    @property
    def last(self) -> int:
        return self.base + len(self.ledger)

    def entry(self, seqno: int) -> bytes | None:
        """The entry at `seqno`, None when it is not held (before the snapshot, or past the end)."""
        return self.ledger[seqno - self.base - 1] if self.base < seqno <= self.last else None

    def copy(self) -> Disk:
        return Disk(list(self.ledger), self.raft_state, self.base, self.snapshot)


@dataclass
class Host:
    """One node's untrusted side, in memory."""

    index: int
    enclave: Enclave | None
    written: Disk = field(default_factory=Disk)
    durable: Disk = field(default_factory=Disk)
    committed: int = 0
    sealed_secrets: bytes | None = None
    service_cert_pem: str | None = None
    answers: dict[int, m.CallResult] = field(default_factory=dict)
    join_answers: list[bytes] = field(default_factory=list)
    logs: list[m.Log] = field(default_factory=list)
    statuses: list[m.NodeStatusReport] = field(default_factory=list)
    # What the host's TLS would trust and dial: the latest `ClientCertificates` and `PeerAddresses`.
    client_cert_pems: tuple[str, ...] | None = None
    peer_addresses: tuple[m.PeerAddress, ...] = ()
    # False: a host that acknowledges Flush without syncing (the bug the checker must catch)
    honours_flush: bool = True

    @property
    def up(self) -> bool:
        return self.enclave is not None

    def crash(self) -> None:
        self.enclave = None
        self.written = self.durable.copy()

    def restart_input(self, now_ms: int, settings: m.ConsensusSettings) -> m.Restart:
        assert self.sealed_secrets is not None
        return m.Restart(
            now_ms,
            addresses(self.index),
            self.sealed_secrets,
            self.durable.raft_state,
            tuple(self.durable.ledger),
            settings,
            self.durable.snapshot,
        )


Send = Callable[[int, m.Effect], None]


def carry_out(host: Host, effects: list[m.Effect], send: Send, cut: int | None = None) -> None:
    """Do `effects` in order, like node/host.py; with `cut`, only the first `cut` (then the host dies)."""
    for effect in effects if cut is None else effects[:cut]:
        match effect:
            case m.AppendLedger():
                if effect.seqno != host.written.last + 1:
                    raise HostInvariantViolated(f"append of {effect.seqno} after {host.written.last}")
                host.written.ledger.append(effect.raw)
            case m.TruncateLedger():
                if effect.keep_up_to_seqno < host.committed:
                    raise HostInvariantViolated(
                        f"truncation to {effect.keep_up_to_seqno} below {host.committed}"
                    )
                del host.written.ledger[effect.keep_up_to_seqno - host.written.base :]
            case m.SnapshotInstalled():
                if effect.seqno <= host.committed:
                    raise HostInvariantViolated(f"a snapshot at {effect.seqno} below {host.committed}")
                # Like node/host.py: the file is synced and the ledger files removed at once.
                host.written = Disk([], host.written.raft_state, effect.seqno, effect.data)
                host.durable = Disk([], host.durable.raft_state, effect.seqno, effect.data)
                host.committed = effect.seqno
            case m.CommitLedger():
                if effect.seqno > host.written.last:
                    raise HostInvariantViolated(f"commit of {effect.seqno} beyond the ledger")
                if effect.seqno < host.committed:
                    raise HostInvariantViolated(f"commit back from {host.committed} to {effect.seqno}")
                host.committed = effect.seqno
            case m.PersistRaftState():
                host.written.raft_state = m.RaftHardState(effect.term, effect.vote, effect.commit)
            case m.Flush():
                if host.honours_flush:
                    host.durable = host.written.copy()
            case m.StoreSealedSecrets():
                host.sealed_secrets = effect.blob
            case m.ServiceCreated():
                host.service_cert_pem = effect.service_cert_pem
            case m.RespondToClient():
                host.answers[effect.request_id] = effect.result
            case m.Log():
                host.logs.append(effect)
            case m.NodeStatusReport():
                host.statuses.append(effect)
            case m.SendToPeer() | m.SendJoinRequest() | m.RespondToJoin():
                send(host.index, effect)
            case m.ClientCertificates():
                host.client_cert_pems = effect.cert_pems
            case m.PeerAddresses():
                host.peer_addresses = effect.peers
            case m.MaterialiseState() | m.TlsIdentity() | m.StoreSnapshot():
                pass
    if cut is not None:
        host.crash()
