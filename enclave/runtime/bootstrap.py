"""How a node comes to be part of a network (DESIGN.md section 4): genesis, restart from its own disk, or
the end of a join. Each builds the node's Raft, ledger writer and KV store at the same index and returns
the running node with the effects that announce it.

Genesis writes the genesis transaction (seqno 1) and a signature (seqno 2) in view 1 straight into the
Raft log (no election has happened yet), then campaigns: as the only voter it wins view 2 at once.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import timedelta

from cryptography import x509

from consensus import (
    Configuration,
    Entry,
    HardState,
    Index,
    InMemoryStorage,
    Raft,
    RaftConfig,
    Snapshot,
    Term,
)
from consensus import NodeId as RaftNodeId
from enclave.crypto.certs import CertificateFormatError, load_certificate_pem
from enclave.crypto.identity import ServiceIdentity
from enclave.crypto.ids import member_id_of, user_id_of
from enclave.crypto.keys import MIN_ENTROPY_BYTES, identity_key_from_entropy, private_key_pem
from enclave.governance.tables import (
    MEMBERS_CERTS,
    MEMBERS_ENCRYPTION_KEYS,
    MEMBERS_INFO,
    USERS_CERTS,
    measurement_writes,
    to_json,
)
from enclave.kv.state_sealing import STATE_KEY_SIZE, StateSealer
from enclave.kv.store import KvStore
from enclave.kv.write_set import MapWrites, WriteSet
from enclave.ledger.entry import EntryFormatError, decode_entry
from enclave.ledger.ledger_secrets import LEDGER_SECRET_SIZE, LedgerSecret, LedgerSecrets
from enclave.ledger.signatures import SignaturePolicy
from enclave.ledger.tables import ENDORSED_NODE_CERTIFICATES, NODES_INFO, NodeStatus, genesis_write_set
from enclave.ledger.writer import LedgerWriter, LedgerWriterError
from enclave.platform.api import Platform, PlatformName, RandomBytes
from enclave.platform.errors import UnsealError
from enclave.runtime import messages as m
from enclave.runtime.errors import (
    InvalidSettings,
    JoinRefused,
    MalformedSecrets,
    ReplayedLedgerInvalid,
    WrongLifecycleState,
)
from enclave.runtime.join import JoinedService, subject_alt_name
from enclave.runtime.node_secrets import NodeSecrets
from enclave.runtime.recovery_start import recovered_at, recovery_write_set, replay_public
from enclave.runtime.rekey import learned_secret
from enclave.runtime.replication import Replicator, is_raft_committable
from enclave.runtime.running import RunningNode, at_ms
from enclave.runtime.service_maps import membership_change_of, node_data, read_node
from enclave.runtime.snapshotting import open_for_node
from enclave.snapshots.snapshot import SnapshotRejected, map_writes

SERVICE_VALIDITY = timedelta(days=10 * 365)
NODE_VALIDITY = timedelta(days=365)
GENESIS_VIEW = 1


@dataclass(frozen=True, slots=True)
class Environment:
    """What the enclave was created with: its TEE, its randomness and the pinned vendor roots."""

    platform: Platform
    random_bytes: RandomBytes
    vendor_roots: Mapping[PlatformName, x509.Certificate]

    def raft_rng(self) -> random.Random:
        return random.Random(int.from_bytes(self.random_bytes(16), "big"))


def check_settings(settings: m.ConsensusSettings) -> None:
    """Refuses settings that Raft or the runtime cannot run with before anything is created: every one is
    a positive count, and an election takes longer than a heartbeat."""
    problems = [
        f"{field.name} must be positive, not {getattr(settings, field.name)}"
        for field in fields(settings)
        if getattr(settings, field.name) < 1
    ]
    if settings.election_ticks <= settings.heartbeat_ticks:
        problems.append("election_ticks must exceed heartbeat_ticks")
    if problems:
        raise InvalidSettings("consensus settings: " + "; ".join(problems))


def _raft_config(node_id: str, settings: m.ConsensusSettings) -> RaftConfig:
    return RaftConfig(
        RaftNodeId(node_id),
        election_tick=settings.election_ticks,
        heartbeat_tick=settings.heartbeat_ticks,
        max_inflight=settings.max_inflight_appends,
    )


def _policy(settings: m.ConsensusSettings) -> SignaturePolicy:
    return SignaturePolicy(settings.signature_interval_txs, settings.signature_interval_ms)


def _names(addresses: m.NodeAddresses) -> list[str]:
    try:
        return sorted({subject_alt_name(addresses.peer), subject_alt_name(addresses.client)})
    except JoinRefused as exc:
        raise WrongLifecycleState(f"bad node address: {exc}") from None


def _announce(node: RunningNode) -> list[m.Effect]:
    identity = node.secrets.node
    return [m.TlsIdentity(identity.cert_pem, private_key_pem(identity.key))]


def _running(
    env: Environment,
    secrets: NodeSecrets,
    start: m.StartNetwork | m.JoinNetwork | m.Restart | m.RecoverNetwork,
    *,
    raft: Raft,
    storage: InMemoryStorage,
    writer: LedgerWriter,
    kv: KvStore,
    ledger_commit: int = 0,
) -> RunningNode:
    replicator = Replicator(
        raft,
        storage,
        writer,
        kv,
        secrets=secrets.ledger_secrets,
        sealer=StateSealer(secrets.state_key),
        node=secrets.node,
        service_cert=secrets.service.cert,
        snapshot_interval=start.settings.snapshot_interval_txs,
        ledger_commit=ledger_commit,
    )
    return RunningNode(
        secrets=secrets,
        replicator=replicator,
        platform=env.platform,
        random_bytes=env.random_bytes,
        vendor_roots=env.vendor_roots,
        settings=start.settings,
        addresses=start.addresses,
        now_ms=start.now_ms,
    )


# -- genesis ------------------------------------------------------------------------------------------------


def _genesis_extras(start: m.StartNetwork, env: Environment) -> WriteSet:
    members: dict[bytes, bytes] = {}
    member_keys: dict[bytes, bytes] = {}
    member_info: dict[bytes, bytes] = {}
    users: dict[bytes, bytes] = {}
    try:
        for member in start.members:
            member_id = member_id_of(load_certificate_pem(member.cert_pem.encode())).encode()
            members[member_id] = member.cert_pem.encode()
            member_info[member_id] = to_json({"status": "Accepted"})
            if member.encryption_public_key_pem is not None:
                member_keys[member_id] = member.encryption_public_key_pem.encode()
        for pem in start.user_cert_pems:
            users[user_id_of(load_certificate_pem(pem.encode())).encode()] = pem.encode()
    except CertificateFormatError as exc:
        raise WrongLifecycleState(f"a member or user certificate does not parse: {exc}") from None
    maps = {
        MEMBERS_CERTS: MapWrites(writes=members),
        MEMBERS_INFO: MapWrites(writes=member_info),
        USERS_CERTS: MapWrites(writes=users),
        **measurement_writes(env.platform.name, env.platform.measurement),
    }
    if member_keys:
        maps[MEMBERS_ENCRYPTION_KEYS] = MapWrites(writes=member_keys)
    return WriteSet(maps)


def genesis(env: Environment, start: m.StartNetwork) -> tuple[RunningNode, list[m.Effect]]:
    """DESIGN.md 4.1: the service and node identities, the first ledger secret, the genesis transaction."""
    names = _names(start.addresses)
    extras = _genesis_extras(start, env)
    now = at_ms(start.now_ms)
    random_bytes = env.random_bytes
    service = ServiceIdentity.create(
        random_bytes(MIN_ENTROPY_BYTES), not_before=now, not_after=now + SERVICE_VALIDITY
    )
    node_key = identity_key_from_entropy(random_bytes(MIN_ENTROPY_BYTES))
    node = service.endorse(node_key, names, not_before=now, not_after=now + NODE_VALIDITY)
    ledger_secrets = LedgerSecrets.single(LedgerSecret(random_bytes(LEDGER_SECRET_SIZE)))
    secrets = NodeSecrets(node, service, ledger_secrets, random_bytes(STATE_KEY_SIZE), node.node_id)

    write_set = genesis_write_set(
        service.cert_pem, node, node_data(start.addresses.peer, start.addresses.client), extras
    )
    writer = LedgerWriter(node, ledger_secrets, _policy(start.settings), start.now_ms)
    kv = KvStore()
    first = writer.append(write_set, GENESIS_VIEW)
    kv.apply(write_set, 1)
    signature = writer.sign(start.now_ms, GENESIS_VIEW)
    kv.apply(WriteSet(dict(decode_entry(signature.raw).public_maps)), 2)

    node_id = RaftNodeId(node.node_id)
    storage = InMemoryStorage(Configuration(frozenset({node_id})))
    storage.append(
        [
            Entry(Term(GENESIS_VIEW), Index(1), first.raw),
            Entry(Term(GENESIS_VIEW), Index(2), signature.raw, committable=True),
        ]
    )
    storage.set_hard_state(HardState(Term(GENESIS_VIEW), node_id, Index(0)))
    raft = Raft(_raft_config(node.node_id, start.settings), storage, env.raft_rng())
    running = _running(env, secrets, start, raft=raft, storage=storage, writer=writer, kv=kv)
    effects: list[m.Effect] = [
        m.ServiceCreated(service.cert_pem),
        *_announce(running),
        m.StoreSealedSecrets(secrets.seal(env.platform)),
        m.AppendLedger(1, first.raw, False),
        m.AppendLedger(2, signature.raw, True),
        m.PersistRaftState(GENESIS_VIEW, node.node_id, 0),
        m.Flush(),
    ]
    raft.campaign()
    return running, effects


# -- disaster recovery ------------------------------------------------------------------------------------


def recover(env: Environment, message: m.RecoverNetwork) -> tuple[RunningNode, list[m.Effect]]:
    """DESIGN.md 4.6 (recovery_start.py): the old ledger's public state, a new service identity recording
    the old one, this node the only voter; private state waits for the members' shares."""
    names = _names(message.addresses)
    now = at_ms(message.now_ms)
    random_bytes = env.random_bytes
    service = ServiceIdentity.create(
        random_bytes(MIN_ENTROPY_BYTES), not_before=now, not_after=now + SERVICE_VALIDITY
    )
    node = service.endorse(
        identity_key_from_entropy(random_bytes(MIN_ENTROPY_BYTES)),
        names,
        not_before=now,
        not_after=now + NODE_VALIDITY,
    )
    # Our secret starts after the recovery transaction; the old ledger's come back with the shares.
    ledger_secrets = LedgerSecrets()
    writer = LedgerWriter(node, ledger_secrets, _policy(message.settings), message.now_ms)
    old = replay_public(message.ledger_entries, writer)
    recovered_at = len(old.entries)
    ledger_secrets.add(recovered_at + 1, LedgerSecret(random_bytes(LEDGER_SECRET_SIZE)))
    secrets = NodeSecrets(node, service, ledger_secrets, random_bytes(STATE_KEY_SIZE), node.node_id)

    view = old.last_view + 1
    write_set = recovery_write_set(old.kv.begin(), service, node, message.addresses, recovered_at)
    own_code = measurement_writes(env.platform.name, env.platform.measurement)
    write_set = WriteSet({**write_set.maps, **own_code})
    first = writer.append(write_set, view)
    old.kv.apply(write_set, first.txid.seqno)
    signature = writer.sign(message.now_ms, view)
    old.kv.apply(WriteSet(dict(decode_entry(signature.raw).public_maps)), signature.txid.seqno)

    node_id = RaftNodeId(node.node_id)
    storage = InMemoryStorage(Configuration(frozenset({node_id})))
    storage.append(
        [
            *old.entries,
            Entry(Term(view), Index(first.txid.seqno), first.raw),
            Entry(Term(view), Index(signature.txid.seqno), signature.raw, committable=True),
        ]
    )
    storage.set_hard_state(HardState(Term(view), node_id, Index(recovered_at)))
    raft = Raft(_raft_config(node.node_id, message.settings), storage, env.raft_rng())
    running = _running(env, secrets, message, raft=raft, storage=storage, writer=writer, kv=old.kv)
    effects: list[m.Effect] = [
        m.ServiceCreated(service.cert_pem),
        *_announce(running),
        m.StoreSealedSecrets(secrets.seal(env.platform)),
    ]
    if old.dropped:
        effects.append(m.Log(m.LogLevel.WARNING, f"{old.dropped} entries after the last signature dropped"))
        effects.append(m.TruncateLedger(recovered_at))
    effects += [
        m.AppendLedger(first.txid.seqno, first.raw, False),
        m.AppendLedger(signature.txid.seqno, signature.raw, True),
        m.PersistRaftState(view, node.node_id, recovered_at),
        m.Flush(),
    ]
    raft.campaign()
    return running, effects


# -- joined --------------------------------------------------------------------------------------------------


def joined(
    env: Environment, join: m.JoinNetwork, service: JoinedService
) -> tuple[RunningNode, list[m.Effect]]:
    """The end of a join: an empty log that the primary fills (the node is a learner, then a voter)."""
    secrets = NodeSecrets(
        service.node,
        service.service,
        service.ledger_secrets,
        env.random_bytes(STATE_KEY_SIZE),
        service.genesis_node_id,
    )
    writer = LedgerWriter(service.node, service.ledger_secrets, _policy(join.settings), join.now_ms)
    storage = InMemoryStorage(Configuration(frozenset({RaftNodeId(service.genesis_node_id)})))
    raft = Raft(_raft_config(service.node.node_id, join.settings), storage, env.raft_rng())
    running = _running(env, secrets, join, raft=raft, storage=storage, writer=writer, kv=KvStore())
    running.bootstrap_peers = (m.PeerAddress(service.responder_id, service.responder_peer_address),)
    effects: list[m.Effect] = [
        *_announce(running),
        m.StoreSealedSecrets(secrets.seal(env.platform)),
        *running.peer_addresses(),
    ]
    return running, effects


# -- restart -------------------------------------------------------------------------------------------------


def _first_seqno(ledger_entries: tuple[bytes, ...]) -> int | None:
    if not ledger_entries:
        return None
    try:
        return decode_entry(ledger_entries[0]).txid.seqno
    except EntryFormatError as exc:
        raise ReplayedLedgerInvalid(f"the first ledger entry: {exc}") from None


def restart(env: Environment, message: m.Restart) -> tuple[RunningNode, list[m.Effect]]:
    """DESIGN.md 4.5: secrets through sealing, state by replaying this node's own ledger."""
    try:
        secrets = NodeSecrets.unseal(env.platform, message.sealed_secrets)
    except UnsealError as exc:
        raise MalformedSecrets(f"the sealed secrets do not unseal: {type(exc).__name__}: {exc}") from None
    storage = InMemoryStorage(Configuration(frozenset({RaftNodeId(secrets.genesis_node_id)})))
    writer = LedgerWriter(secrets.node, secrets.ledger_secrets, _policy(message.settings), message.now_ms)
    kv = KvStore()
    base = 0  # the snapshot this node started from (0: none, its ledger starts at seqno 1)
    if message.snapshot is not None:
        try:
            opened = open_for_node(
                message.snapshot, secrets.service.cert, secrets.ledger_secrets, secrets.node
            )
        except SnapshotRejected as exc:
            raise ReplayedLedgerInvalid(f"the snapshot this node started from: {exc}") from None
        base = opened.body.seqno
        first = _first_seqno(message.ledger_entries)
        if first is not None and first != base + 1:
            raise ReplayedLedgerInvalid(
                f"the snapshot this node started from is at {base}, but its ledger starts at {first}: "
                "the snapshot is stale or swapped"
            )
        kv = KvStore.from_committed_state(opened.state)
        writer = LedgerWriter.from_snapshot(
            secrets.node,
            secrets.ledger_secrets,
            _policy(message.settings),
            message.now_ms,
            seqno=base,
            tree=opened.tree,
            node_certs=map_writes(opened.state, ENDORSED_NODE_CERTIFICATES),
        )
        configuration = opened.body.configuration
        storage.apply_snapshot(Snapshot(Index(base), Term(opened.body.view), configuration, message.snapshot))
    entries: list[Entry] = []
    retired_at: int | None = None  # where this node's own record became Retired
    for seqno, raw in enumerate(message.ledger_entries, start=base + 1):
        try:
            decoded = decode_entry(raw)
            if decoded.txid.seqno != seqno:
                raise ReplayedLedgerInvalid(f"entry {decoded.txid} found at position {seqno}")
            writer.record_replicated(raw, decoded)
            maps = dict(decoded.public_maps)
            if secrets.ledger_secrets.covers(seqno):
                maps.update(decoded.decrypt_private(secrets.ledger_secrets.secret_for(seqno)))
            learned = learned_secret(decoded.public_maps, secrets.node)
            if learned is not None:
                secrets.ledger_secrets.learn(*learned)
        except (EntryFormatError, LedgerWriterError, ValueError) as exc:
            raise ReplayedLedgerInvalid(f"ledger entry {seqno}: {type(exc).__name__}: {exc}") from None
        kv.apply(WriteSet(maps), seqno)
        if retired_at is None and NODES_INFO in maps:
            own = read_node(kv.begin(), secrets.node.node_id)
            retired_at = seqno if own is not None and own.status is NodeStatus.RETIRED else None
        public = list(decoded.public_maps)
        entries.append(
            Entry(
                Term(decoded.txid.view),
                Index(seqno),
                raw,
                committable=is_raft_committable(public),
                change=membership_change_of(decoded.public_maps),
            )
        )
    inherited = recovered_at(kv)
    if inherited:
        # A recovered service's Raft history starts at its recovery: the old nodes' changes are void.
        entries = [replace(entry, change=None) if entry.index <= inherited else entry for entry in entries]
    hard = message.raft_state
    if hard is not None and hard.commit > base + len(entries):
        raise ReplayedLedgerInvalid(
            f"Raft committed {hard.commit} but the ledger ends at {base + len(entries)}"
        )
    storage.append(entries)
    if hard is not None:
        vote = None if hard.vote is None else RaftNodeId(hard.vote)
        storage.set_hard_state(HardState(Term(hard.term), vote, Index(hard.commit)))
    raft = Raft(_raft_config(secrets.node.node_id, message.settings), storage, env.raft_rng())
    running = _running(
        env, secrets, message, raft=raft, storage=storage, writer=writer, kv=kv, ledger_commit=base
    )
    # A node whose retirement it had committed stays Retired (nobody would tell it again).
    commit = 0 if hard is None else writer.last_signature_at_or_before(hard.commit)
    running.retired = retired_at is not None and retired_at <= commit
    return running, [*_announce(running), *running.peer_addresses()]
