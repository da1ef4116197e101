"""The host/enclave boundary: every input the host gives the enclave and every effect it gets back.

CCF's design (`src/enclave`, `src/host`): a small set of typed messages, each with one direction. The host
calls `Enclave.handle(input)` (or, across the byte boundary, `EnclaveBoundary.handle(bytes)`) and carries
out the returned effects **strictly in order**. `Flush` is the durability barrier: everything appended or
persisted before it must be durable (fsync of ledger files and Raft state) before the host carries out any
later effect; a node that crashes loses the effects after the last Flush it completed, and the enclave's
protocol is safe under that loss (consensus/ready.py: acknowledgements are only sent after a Flush).

Byte strings that the host must treat as opaque: ledger entry bytes (their private domain is encrypted),
peer frames, join request/response bodies, sealed secrets and sealed state batches. The only key the host
ever sees is the node's TLS key (`TlsIdentity`), which it hands to its in-process gRPC server and must never
write anywhere (DESIGN.md section 2: gRPC's TLS ends inside the node process).

Wire encoding: boundary.py (msgpack, versioned, one type tag per message).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from enclave.kv.state_sealing import SealedBatch

# -- Shared values ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeAddresses:
    """Where a node is reached: peers connect to `peer`, clients to `client` (both "host:port").
    Recorded in `public:ccf.gov.nodes.info`; the host part becomes a SAN of the node certificate."""

    peer: str
    client: str


@dataclass(frozen=True, slots=True)
class ConsensusSettings:
    """Raft timing in ticks and CCF's signature policy (a signature every `signature_interval_txs`
    transactions or `signature_interval_ms` milliseconds, whichever comes first)."""

    election_ticks: int = 10
    heartbeat_ticks: int = 1
    signature_interval_txs: int = 100
    signature_interval_ms: int = 100
    # The primary snapshots the committed state once this many transactions follow the last snapshot.
    snapshot_interval_txs: int = 10_000
    # A peer channel whose handshake did not complete after this many ticks starts a new handshake.
    channel_retry_ticks: int = 5
    # A joiner with no (or a "pending") answer resends its join request after this many ticks.
    join_retry_ticks: int = 10
    # Unacknowledged AppendEntries per follower (Raft's pipelining window; etcd's MaxInflightMsgs).
    max_inflight_appends: int = 4


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """An initial consortium member: its certificate and, optionally, its recovery encryption key."""

    cert_pem: str
    encryption_public_key_pem: str | None = None


@dataclass(frozen=True, slots=True)
class TxRef:
    """A transaction id, `view.seqno` (DESIGN.md section 6)."""

    view: int
    seqno: int


class TxStatus(Enum):
    """CCF's transaction status: Unknown (not seen here), Pending (not yet committed), Committed, Invalid
    (its seqno was committed with another view, or was truncated: it will never commit)."""

    UNKNOWN = "Unknown"
    PENDING = "Pending"
    COMMITTED = "Committed"
    INVALID = "Invalid"


class Consistency(Enum):
    """Linearizable reads go through the primary with read-index; local reads serve this node's state
    (possibly stale) and report the TxID they reflect (DESIGN.md section 5)."""

    LINEARIZABLE = "linearizable"
    LOCAL = "local"


# -- Client calls ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Put:
    """`expected_version`: write only if the key's version is this (0: the key is absent), etcd's
    compare-and-swap on mod revision; a key's version is the seqno of the transaction that wrote it."""

    map_name: str
    key: bytes
    value: bytes
    wait_for_commit: bool = True
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class Delete:
    map_name: str
    key: bytes
    wait_for_commit: bool = True


@dataclass(frozen=True, slots=True)
class Get:
    map_name: str
    key: bytes
    consistency: Consistency = Consistency.LINEARIZABLE


@dataclass(frozen=True, slots=True)
class Scan:
    """Keys in [start, end) in byte order (`end=None`: to the last key), at most `limit` of them."""

    map_name: str
    start: bytes = b""
    end: bytes | None = None
    limit: int = 1000
    consistency: Consistency = Consistency.LINEARIZABLE


@dataclass(frozen=True, slots=True)
class GetTxStatus:
    txid: TxRef


@dataclass(frozen=True, slots=True)
class GetReceipt:
    txid: TxRef


@dataclass(frozen=True, slots=True)
class CallProcedure:
    """An application procedure (enclave/apps), run as one atomic transaction; `args` is a msgpack map.
    A read-only procedure is served like a linearizable read."""

    name: str
    args: bytes
    wait_for_commit: bool = True


@dataclass(frozen=True, slots=True)
class GovSubmit:
    """A member's COSE Sign1 governance request (DESIGN.md section 6); the signature, not the TLS caller,
    says who sent it. Executed on the primary, answered once committed."""

    signed: bytes


class GovTable(Enum):
    """What `GovRead` reads (shapes in docs/governance.md)."""

    MEMBERS = "members"
    USERS = "users"
    NODES = "nodes"
    SERVICE = "service"
    CONSTITUTION = "constitution"
    MEASUREMENTS = "measurements"
    PROPOSALS = "proposals"
    RECOVERY_SHARES = "recovery_shares"


@dataclass(frozen=True, slots=True)
class GovRead:
    """A governance table as JSON, read linearizably (through the primary, with read-index); `key`: one
    proposal's id for `PROPOSALS` (empty: all)."""

    table: GovTable
    key: str = ""


ClientCall = Put | Delete | Get | Scan | GetTxStatus | GetReceipt | CallProcedure | GovSubmit | GovRead


# -- Client results --------------------------------------------------------------------------------------


class ErrorCode(Enum):
    """Why a request was refused. `NO_PRIMARY`, `NOT_READY`, `NODE_RETIRED` and `OUTCOME_UNKNOWN` are
    retryable (the last two on another node); only after the first three was the request certainly not
    executed."""

    NOT_A_USER = "NotAUser"  # the caller's certificate is not a user's
    SERVICE_NOT_OPEN = "ServiceNotOpen"  # users transact only once the service is Open
    RESERVED_MAP = "ReservedMap"  # `ccf.*` and `public:ccf.*` maps belong to the service
    INVALID_ARGUMENT = "InvalidArgument"  # a malformed call (bad map name, bad certificate, bad limit)
    NO_PRIMARY = "NoPrimary"  # no primary known to forward to (retry)
    NOT_READY = "NotReady"  # this node is not part of a network yet (retry)
    NODE_RETIRED = "NodeRetired"  # this node was removed from the service: it serves nobody (use another)
    # The request went to the primary (or the enclave) but no answer came: it may or may not have been
    # executed. Reads may be retried; a write retried blindly could take effect twice.
    OUTCOME_UNKNOWN = "OutcomeUnknown"
    NOT_COMMITTED = "NotCommitted"  # a receipt for a transaction that is not committed (yet)
    TX_INVALID = "TxInvalid"  # the transaction will never commit
    WRONG_STATE = "WrongState"  # a request that does not fit the service, node, member or proposal state
    # Governance refusals (enclave/governance/errors.py); nothing was changed.
    UNKNOWN_MEMBER = "UnknownMember"  # the request's signer is no member (never was, or removed)
    FORBIDDEN = "Forbidden"  # a member not (yet) allowed this request: not Active, not the proposer
    STALE_REQUEST = "StaleRequest"  # `created_at` too old or too far in the future
    REPLAYED_REQUEST = "ReplayedRequest"  # the same signed request was already accepted
    UNKNOWN_PROPOSAL = "UnknownProposal"  # a ballot, withdrawal or read naming no proposal
    PROPOSAL_CLOSED = "ProposalClosed"  # a ballot or withdrawal for a proposal no longer Open
    UNSUPPORTED = "Unsupported"  # a governance message type this service does not handle
    VERSION_MISMATCH = "VersionMismatch"  # a conditional put whose key has another version now
    PROCEDURE_FAILED = "ProcedureFailed"  # a procedure refused its arguments or the state ("Code: why")


@dataclass(frozen=True, slots=True)
class CallError:
    code: ErrorCode
    message: str


@dataclass(frozen=True, slots=True)
class WriteResult:
    """A write's TxID and status: Committed (waited for), Pending (not waited for) or Invalid."""

    txid: TxRef
    status: TxStatus


@dataclass(frozen=True, slots=True)
class GetResult:
    """`value` None: no such key. `txid`: the state the read reflects. `version`: the seqno of the
    transaction that wrote the value (0: absent), for a conditional put."""

    value: bytes | None
    txid: TxRef
    version: int = 0


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class ScanResult:
    items: tuple[KeyValue, ...]
    txid: TxRef


@dataclass(frozen=True, slots=True)
class TxStatusResult:
    txid: TxRef
    status: TxStatus


@dataclass(frozen=True, slots=True)
class ReceiptResult:
    """CCF's JSON receipt (`cert`, `node_id`, `leaf_components`, `proof`, `signature`), as JSON text."""

    receipt_json: str


@dataclass(frozen=True, slots=True)
class ProcedureResult:
    """A procedure's msgpack result; for one that wrote, its transaction and status (like a write's);
    for a read-only one, the committed state it read (status Committed)."""

    txid: TxRef
    status: TxStatus
    result: bytes


@dataclass(frozen=True, slots=True)
class GovernanceResult:
    """A governance request's transaction and what it did: the proposal it created or voted on and that
    proposal's state after it (None for acks and state digests), and a JSON object with the rest."""

    txid: TxRef
    status: TxStatus
    proposal_id: str | None
    proposal_state: str | None
    body_json: str


@dataclass(frozen=True, slots=True)
class GovernanceRows:
    rows_json: str
    txid: TxRef


CallResult = (
    CallError
    | WriteResult
    | GetResult
    | ScanResult
    | TxStatusResult
    | ReceiptResult
    | ProcedureResult
    | GovernanceResult
    | GovernanceRows
)


# -- Inputs (host -> enclave) ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartNetwork:
    """Genesis (DESIGN.md section 4.1): create the service and node identities and the first ledger
    secret, and write the genesis transaction (service Opening, this node Trusted, members, users)."""

    now_ms: int
    addresses: NodeAddresses
    members: tuple[MemberInfo, ...]
    user_cert_pems: tuple[str, ...]
    settings: ConsensusSettings = ConsensusSettings()


@dataclass(frozen=True, slots=True)
class RecoverNetwork:
    """Disaster recovery (DESIGN.md 4.6): start a new service from `ledger_entries`, the ledger of a
    service that is gone (read from this node's ledger files, in seqno order from 1)."""

    now_ms: int
    addresses: NodeAddresses
    ledger_entries: tuple[bytes, ...]
    settings: ConsensusSettings = ConsensusSettings()


@dataclass(frozen=True, slots=True)
class JoinNetwork:
    """Join the service whose certificate is `service_cert_pem`, by asking the node at `target_address`
    (a peer address). The enclave answers with `SendJoinRequest`, resent on ticks until answered.

    The joiner trusts a responder running its own code; `service_measurements` are the other code
    measurements its operator trusts the service to run (a code upgrade: new code joining a service of
    old code, once governance allowed the new measurement)."""

    now_ms: int
    addresses: NodeAddresses
    target_address: str
    service_cert_pem: str
    settings: ConsensusSettings = ConsensusSettings()
    service_measurements: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class JoinResponseReceived:
    """The body the target node answered a `SendJoinRequest` with."""

    response: bytes


@dataclass(frozen=True, slots=True)
class JoinRequestReceived:
    """A join request a joiner sent to this (service) node; answered by `RespondToJoin(request_id, ...)`."""

    request_id: int
    request: bytes


@dataclass(frozen=True, slots=True)
class RaftHardState:
    """Raft's durable state (figure 2) as the host persisted it from `PersistRaftState`."""

    term: int
    vote: str | None
    commit: int


@dataclass(frozen=True, slots=True)
class Restart:
    """Restart from this node's own disk (DESIGN.md section 4.5): the sealed secrets blob, the Raft hard
    state last persisted (None if never), and the ledger entries read back from the ledger files, in
    seqno order from seqno 1, or, for a node that started from a snapshot, the snapshot file and the
    entries after it."""

    now_ms: int
    addresses: NodeAddresses
    sealed_secrets: bytes
    raft_state: RaftHardState | None
    ledger_entries: tuple[bytes, ...]
    settings: ConsensusSettings = ConsensusSettings()
    snapshot: bytes | None = None


@dataclass(frozen=True, slots=True)
class Tick:
    """One tick of the host's ticker; `now_ms` is the host's wall clock (signature timing, cert times)."""

    now_ms: int


@dataclass(frozen=True, slots=True)
class PeerMessage:
    """A frame the peer `from_node_id` sent over its channel (the host authenticated the TLS peer)."""

    from_node_id: str
    frame: bytes


@dataclass(frozen=True, slots=True)
class PeerMessageBatch:
    """Peer frames that arrived together (DESIGN.md section 9): Raft runs once for all of them, so the
    forwarded writes among them become one proposal and one AppendEntries per follower, and the Raft
    messages one round of answers. A frame the channel refuses is logged and the others still count."""

    messages: tuple[PeerMessage, ...]


@dataclass(frozen=True, slots=True)
class ClientRequest:
    """A user's call; `caller_cert_der` is the client certificate of the mTLS connection."""

    request_id: int
    caller_cert_der: bytes
    call: ClientCall


@dataclass(frozen=True, slots=True)
class ClientRequestBatch:
    """Client requests that arrived together (one burst of the host's event loop): the primary executes
    them into one Raft proposal and signs once per batch window (DESIGN.md section 9)."""

    requests: tuple[ClientRequest, ...]


@dataclass(frozen=True, slots=True)
class NodeStatusQuery:
    request_id: int


HostInput = (
    StartNetwork
    | RecoverNetwork
    | JoinNetwork
    | JoinResponseReceived
    | JoinRequestReceived
    | Restart
    | Tick
    | PeerMessage
    | PeerMessageBatch
    | ClientRequest
    | ClientRequestBatch
    | NodeStatusQuery
)


# -- Effects (enclave -> host), carried out in order ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AppendLedger:
    """Append an entry to the ledger files (after dropping any held entry at or after `seqno`)."""

    seqno: int
    raw: bytes
    committable: bool


@dataclass(frozen=True, slots=True)
class TruncateLedger:
    """Drop every ledger entry after `keep_up_to_seqno` (a new leader overwrote an uncommitted tail)."""

    keep_up_to_seqno: int


@dataclass(frozen=True, slots=True)
class CommitLedger:
    """Entries up to `seqno` are committed (CCF: complete the chunk, rename it `.committed`)."""

    seqno: int


@dataclass(frozen=True, slots=True)
class StoreSnapshot:
    """A committed snapshot at `seqno` proven by the evidence transaction at `evidence_seqno`: keep the
    file (`snapshot_<seqno>_<evidence_seqno>.committed`, written atomically)."""

    seqno: int
    evidence_seqno: int
    data: bytes


@dataclass(frozen=True, slots=True)
class SnapshotInstalled:
    """This node now starts from the snapshot at `seqno` (Raft installed it): keep the file durably, then
    drop every ledger file and the materialised state, and continue the ledger at `seqno + 1`."""

    seqno: int
    evidence_seqno: int
    data: bytes


@dataclass(frozen=True, slots=True)
class PersistRaftState:
    term: int
    vote: str | None
    commit: int


@dataclass(frozen=True, slots=True)
class Flush:
    """Durability barrier: fsync the ledger and the Raft state before carrying out any later effect."""


@dataclass(frozen=True, slots=True)
class SendToPeer:
    node_id: str
    frame: bytes


@dataclass(frozen=True, slots=True)
class PeerAddress:
    node_id: str
    address: str


@dataclass(frozen=True, slots=True)
class PeerAddresses:
    """Where every other known node listens for peers (from `public:ccf.gov.nodes.info`); replaces the
    previous mapping."""

    peers: tuple[PeerAddress, ...]


@dataclass(frozen=True, slots=True)
class SendJoinRequest:
    """Send `request` to the service node at `target_address`; feed its answer back as
    `JoinResponseReceived`. A lost request needs no report: the enclave resends on ticks."""

    target_address: str
    request: bytes


@dataclass(frozen=True, slots=True)
class RespondToJoin:
    request_id: int
    response: bytes


@dataclass(frozen=True, slots=True)
class RespondToClient:
    request_id: int
    result: CallResult


@dataclass(frozen=True, slots=True)
class StoreSealedSecrets:
    """Write this blob (node identity key, ledger secrets, service key; sealed to this code on this
    machine) to the node's secrets file, replacing the previous one. Give it back in `Restart`."""

    blob: bytes


@dataclass(frozen=True, slots=True)
class MaterialiseState:
    """Committed KV writes, sealed record by record (enclave/kv/state_sealing.py), for the host's LMDB
    state store to write in one transaction (`node.state_store.StateStore.submit(effect.batch)`)."""

    batch: SealedBatch


@dataclass(frozen=True, slots=True)
class TlsIdentity:
    """The node's service-endorsed certificate and its key for the in-process gRPC server. Never written."""

    cert_pem: str
    key_pem: str


@dataclass(frozen=True, slots=True)
class ServiceCreated:
    """The service certificate, for the host to publish (`service_cert.pem`)."""

    service_cert_pem: str


@dataclass(frozen=True, slots=True)
class ClientCertificates:
    """The certificates of every current user and member (`public:ccf.gov.users.certs`,
    `public:ccf.gov.members.certs`, as this node's state holds them: what authorisation reads): the
    client certificates the host's client-API TLS trusts. Replaces the previous set. Sent when the node
    becomes part of a network (a joiner's set is empty until it replicates the service's state) and
    after every commit that changes the set."""

    cert_pems: tuple[str, ...]


class LogLevel(Enum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Log:
    """A line for the node log. Never carries secrets or private data."""

    level: LogLevel
    text: str


class LifecycleState(Enum):
    """The node's lifecycle (CCF: `NodeStartupState` and the node's status in the service)."""

    UNINITIALIZED = "Uninitialized"
    JOINING = "Joining"
    PENDING = "Pending"  # part of the network, waiting to be trusted
    TRUSTED = "Trusted"  # part of the network
    RETIRED = "Retired"


@dataclass(frozen=True, slots=True)
class NodeStatusReport:
    """The answer to `NodeStatusQuery`."""

    request_id: int
    node_id: str | None
    state: LifecycleState
    role: str | None  # Raft role: leader, follower, candidate, pre-candidate
    term: int
    commit: TxRef
    last: TxRef
    primary: str | None
    service_status: str | None  # Opening, Open, ...
    # A voter in the configuration this node knows committed: until every node is, losing one may leave
    # no majority (a joiner is a learner until the primary promotes it).
    voter: bool = False


Effect = (
    AppendLedger
    | TruncateLedger
    | CommitLedger
    | StoreSnapshot
    | SnapshotInstalled
    | PersistRaftState
    | Flush
    | SendToPeer
    | PeerAddresses
    | SendJoinRequest
    | RespondToJoin
    | RespondToClient
    | StoreSealedSecrets
    | MaterialiseState
    | TlsIdentity
    | ServiceCreated
    | ClientCertificates
    | Log
    | NodeStatusReport
)
