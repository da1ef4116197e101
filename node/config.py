"""One node's configuration: a TOML file per node (`nodes/nodeN/config.toml`, DESIGN.md section 7).

    name = "node0"
    mode = "start"                      # start (genesis) | join | recover

    [client]                            # the users' API (mTLS with user certificates)
    bind = "127.0.0.1:0"                # port 0: pick a free port, then record it here
    advertised = "127.0.0.1:0"          # what other nodes and clients are told (port 0: the bound port)
    [peer]                              # node-to-node frames (mTLS with service-endorsed certificates)
    bind = "127.0.0.1:0"
    [join_api]                          # join requests (TLS, no client certificate); optional
    bind = "127.0.0.1:0"
    [operator]                          # status, metrics, health checks (loopback, no TLS)
    bind = "127.0.0.1:0"
    [metrics]                           # Prometheus: HTTP GET /metrics (no TLS); optional
    bind = "127.0.0.1:0"

    [paths]                             # relative paths are relative to this file's folder
    ledger_dir = "ledger"
    state_dir = "state"
    snapshots_dir = "snapshots"         # optional; committed snapshot files
    sealed_secrets = "sealed_secrets.bin"
    raft_state = "raft_state.json"
    log_file = "node.log"
    service_cert = "../../service_cert.pem"   # written at genesis, pinned when joining

    [platform]
    dir = "../../platform"
    machine = "node0"
    backend = "sgx-sim"

    [join]                              # mode = "join" only
    target = "127.0.0.1:4100"           # a service node's join address ([join_api])
    service_measurements = []           # hex code measurements the service may run besides this
                                        # node's own (joining a service of older code: an upgrade)

    [identities]                        # initial members and users (see IdentitySettings)
    members = ["../../members/member0_cert.pem"]
    member_encryption_keys = ["../../members/member0_enc_pubk.pem"]
    users = ["../../users/user0_cert.pem"]

    [consensus]
    tick_interval_ms = 50
    election_ticks = 10
    signature_interval_ms = 100
    signature_interval_txs = 100
    snapshot_interval_txs = 10000       # the primary snapshots the state after this many transactions
    max_inflight_appends = 4            # unacknowledged AppendEntries per follower (optional)
    fsync = "on-flush"                  # every-append | on-flush | never

Reading is strict: an unknown key, a missing key or a value of the wrong type is a `ConfigError` naming
the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, TypeVar

from enclave.platform.api import MEASUREMENT_SIZE, PlatformName
from node.ledger_files import FsyncPolicy


class ConfigError(Exception):
    """A node configuration that cannot be used; the message names the file and the key."""


class NodeMode(StrEnum):
    START = "start"  # genesis: create a new service
    JOIN = "join"  # join a running service through `join.target`
    RECOVER = "recover"  # disaster recovery from the ledger files (DESIGN.md section 4.6)


@dataclass(frozen=True, slots=True)
class Address:
    """A `host:port` TCP address; port 0 asks for a free port when binding."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Address:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host or not port_text.isdigit():
            raise ValueError(f"{text!r} is not a host:port address")
        port = int(port_text)
        if port > 65535:
            raise ValueError(f"{text!r}: port {port} is out of range")
        return cls(host, port)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    def with_port(self, port: int) -> Address:
        return Address(self.host, port)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a server listens and what others are told to dial (port 0: the port actually bound)."""

    bind: Address
    advertised: Address

    def bound_to(self, port: int) -> Endpoint:
        """This endpoint once its server is listening on `port` (records a picked port)."""
        advertised = self.advertised if self.advertised.port else self.advertised.with_port(port)
        return Endpoint(self.bind.with_port(port), advertised)


# A node config without a [join_api] or [metrics] table: that API on a picked loopback port.
LOOPBACK_ANY_PORT = Endpoint(Address("127.0.0.1", 0), Address("127.0.0.1", 0))


@dataclass(frozen=True, slots=True)
class ConsensusSettings:
    tick_interval_ms: int = 50
    election_ticks: int = 10
    signature_interval_ms: int = 100
    signature_interval_txs: int = 100
    snapshot_interval_txs: int = 10_000
    fsync: FsyncPolicy = FsyncPolicy.ON_FLUSH
    # A small window makes each AppendEntries carry what arrived while the previous ones were unanswered:
    # fewer, larger rounds on a CPU-bound node (docs/performance.md: with 64 in flight, puts at 64 clients
    # were ~15% slower and took 2.2 peer frames each instead of 1.7).
    max_inflight_appends: int = 4


@dataclass(frozen=True, slots=True)
class IdentitySettings:
    """The initial members and users (paths to their PEM files): a new service (mode start) is created
    with them, and every node's client API accepts their certificates for mTLS (the enclave then checks
    the caller against the service's own tables)."""

    members: tuple[Path, ...] = ()
    member_encryption_keys: tuple[Path, ...] = ()
    users: tuple[Path, ...] = ()


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """A parsed config file. Paths are kept as written; `path()` resolves them against `directory`."""

    name: str
    mode: NodeMode
    client: Endpoint
    peer: Endpoint
    operator: Endpoint
    ledger_dir: Path
    state_dir: Path
    sealed_secrets: Path
    raft_state: Path
    log_file: Path
    service_cert: Path
    platform_dir: Path
    machine: str
    backend: PlatformName
    join_target: Address | None = None
    join_service_measurements: tuple[bytes, ...] = ()
    join_api: Endpoint = field(default_factory=lambda: LOOPBACK_ANY_PORT)
    metrics: Endpoint = field(default_factory=lambda: LOOPBACK_ANY_PORT)
    identities: IdentitySettings = field(default_factory=IdentitySettings)
    consensus: ConsensusSettings = field(default_factory=ConsensusSettings)
    snapshots_dir: Path = Path("snapshots")
    directory: Path = Path(".")

    def path(self, written: Path) -> Path:
        """A configured path as the process should open it."""
        return written if written.is_absolute() else self.directory / written

    def with_bound_ports(
        self, client: int, peer: int, operator: int, join: int | None = None, *, metrics: int | None = None
    ) -> NodeConfig:
        """The config once the servers listen (`join`, `metrics` None: that endpoint as it was)."""
        return replace(
            self,
            client=self.client.bound_to(client),
            peer=self.peer.bound_to(peer),
            operator=self.operator.bound_to(operator),
            join_api=self.join_api if join is None else self.join_api.bound_to(join),
            metrics=self.metrics if metrics is None else self.metrics.bound_to(metrics),
        )


# -- reading ---------------------------------------------------------------------------------------


def load_config(file: Path) -> NodeConfig:
    """Reads and checks a node's config file; any problem is a `ConfigError` naming the key."""
    try:
        text = file.read_text()
    except OSError as error:
        raise ConfigError(f"cannot read config file {file}: {error.strerror}") from None
    return parse_config(text, file)


def parse_config(text: str, file: Path) -> NodeConfig:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{file}: not valid TOML: {error}") from None
    reader = _Reader(document, str(file), "")
    mode = reader.choice("mode", NodeMode)
    paths = reader.table("paths")
    platform = reader.table("platform")
    join_target, join_service_measurements = _join(reader, mode)
    config = NodeConfig(
        name=reader.string("name"),
        mode=mode,
        client=_endpoint(reader.table("client")),
        peer=_endpoint(reader.table("peer")),
        operator=_endpoint(reader.table("operator")),
        ledger_dir=paths.path("ledger_dir"),
        state_dir=paths.path("state_dir"),
        sealed_secrets=paths.path("sealed_secrets"),
        raft_state=paths.path("raft_state"),
        log_file=paths.path("log_file"),
        service_cert=paths.path("service_cert"),
        platform_dir=platform.path("dir"),
        machine=platform.string("machine"),
        backend=platform.choice("backend", PlatformName),
        join_target=join_target,
        join_service_measurements=join_service_measurements,
        join_api=_optional_endpoint(reader, "join_api", LOOPBACK_ANY_PORT),
        metrics=_optional_endpoint(reader, "metrics", LOOPBACK_ANY_PORT),
        identities=_identities(reader.optional_table("identities")),
        consensus=_consensus(reader.optional_table("consensus")),
        snapshots_dir=paths.optional_path("snapshots_dir", Path("snapshots")),
        directory=file.parent,
    )
    paths.finish()
    platform.finish()
    reader.finish()
    if mode is NodeMode.START and not config.identities.members:
        raise ConfigError(f"{file}: [identities] members: a new service needs at least one member")
    return config


_E = TypeVar("_E", bound=Enum)


class _Reader:
    """Typed access to one TOML table that remembers which keys were read, to reject unknown ones."""

    def __init__(self, table: Mapping[str, Any], file: str, prefix: str) -> None:
        self._table = table
        self._file = file
        self._prefix = prefix
        self._seen: set[str] = set()

    def where(self, key: str) -> str:
        return f"{self._file}: {self._prefix}{key}"

    def _get(self, key: str, kind: type, kind_name: str, default: Any = None, required: bool = True) -> Any:
        self._seen.add(key)
        if key not in self._table:
            if required:
                raise ConfigError(f"{self.where(key)} is missing")
            return default
        value = self._table[key]
        # TOML booleans are ints in Python: never accept one where a number is meant.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(f"{self.where(key)} must be {kind_name}, not {value!r}")
        return value

    def string(self, key: str) -> str:
        value: str = self._get(key, str, "a string")
        if not value:
            raise ConfigError(f"{self.where(key)} must not be empty")
        return value

    def optional_string(self, key: str) -> str | None:
        value: str | None = self._get(key, str, "a string", required=False)
        return value

    def positive_int(self, key: str, default: int) -> int:
        value: int = self._get(key, int, "an integer", default=default, required=False)
        if value <= 0:
            raise ConfigError(f"{self.where(key)} must be positive, not {value}")
        return value

    def address(self, key: str) -> Address:
        text = self.string(key)
        try:
            return Address.parse(text)
        except ValueError as error:
            raise ConfigError(f"{self.where(key)}: {error}") from None

    def path(self, key: str) -> Path:
        return Path(self.string(key))

    def optional_path(self, key: str, default: Path) -> Path:
        return default if self.optional_string(key) is None else self.path(key)

    def hex_values(self, key: str, size: int) -> tuple[bytes, ...]:
        """A list of hex strings, each `size` bytes (absent: empty)."""
        values: list[Any] = self._get(key, list, "a list of hex strings", default=[], required=False)
        try:
            decoded = tuple(bytes.fromhex(value) for value in values)
        except (TypeError, ValueError):
            decoded = ()
        if len(decoded) != len(values) or any(len(value) != size for value in decoded):
            raise ConfigError(f"{self.where(key)} must list {size}-byte values in hex")
        return decoded

    def paths(self, key: str) -> tuple[Path, ...]:
        values: list[Any] = self._get(key, list, "a list of paths", default=[], required=False)
        if not all(isinstance(v, str) and v for v in values):
            raise ConfigError(f"{self.where(key)} must be a list of paths")
        return tuple(Path(v) for v in values)

    def optional_choice(self, key: str, enum: type[_E], default: _E) -> _E:
        return default if self.optional_string(key) is None else self.choice(key, enum)

    def choice(self, key: str, enum: type[_E]) -> _E:
        text = self.string(key)
        try:
            return enum(text)
        except ValueError:
            allowed = ", ".join(member.value for member in enum)
            raise ConfigError(f"{self.where(key)} is {text!r}; expected one of: {allowed}") from None

    def table(self, key: str) -> _Reader:
        value: dict[str, Any] = self._get(key, dict, "a table")
        return _Reader(value, self._file, f"{self._prefix}{key}.")

    def optional_table(self, key: str) -> _Reader:
        value: dict[str, Any] = self._get(key, dict, "a table", default={}, required=False)
        return _Reader(value, self._file, f"{self._prefix}{key}.")

    def finish(self) -> None:
        unknown = sorted(set(self._table) - self._seen)
        if unknown:
            raise ConfigError(f"{self.where(unknown[0])} is not a known setting")


def _endpoint(reader: _Reader) -> Endpoint:
    bind = reader.address("bind")
    advertised = bind
    if reader.optional_string("advertised") is not None:
        advertised = reader.address("advertised")
    reader.finish()
    return Endpoint(bind, advertised)


def _optional_endpoint(reader: _Reader, key: str, default: Endpoint) -> Endpoint:
    table = reader.optional_table(key)
    if table.optional_string("bind") is None:
        table.finish()
        return default
    return _endpoint(table)


def _join(reader: _Reader, mode: NodeMode) -> tuple[Address | None, tuple[bytes, ...]]:
    """`[join]`: `target` is required to join; other modes may keep it (a node that joined restarts)."""
    join = reader.optional_table("join")
    required = mode is NodeMode.JOIN
    target = join.address("target") if required or join.optional_string("target") else None
    measurements = join.hex_values("service_measurements", MEASUREMENT_SIZE)
    join.finish()
    return target, measurements


def _identities(reader: _Reader) -> IdentitySettings:
    settings = IdentitySettings(
        members=reader.paths("members"),
        member_encryption_keys=reader.paths("member_encryption_keys"),
        users=reader.paths("users"),
    )
    reader.finish()
    return settings


def _consensus(reader: _Reader) -> ConsensusSettings:
    defaults = ConsensusSettings()
    settings = ConsensusSettings(
        tick_interval_ms=reader.positive_int("tick_interval_ms", defaults.tick_interval_ms),
        election_ticks=reader.positive_int("election_ticks", defaults.election_ticks),
        signature_interval_ms=reader.positive_int("signature_interval_ms", defaults.signature_interval_ms),
        signature_interval_txs=reader.positive_int("signature_interval_txs", defaults.signature_interval_txs),
        snapshot_interval_txs=reader.positive_int("snapshot_interval_txs", defaults.snapshot_interval_txs),
        fsync=reader.optional_choice("fsync", FsyncPolicy, defaults.fsync),
        max_inflight_appends=reader.positive_int("max_inflight_appends", defaults.max_inflight_appends),
    )
    reader.finish()
    if settings.election_ticks < 2:
        raise ConfigError(f"{reader.where('election_ticks')} must be at least 2 (more than one heartbeat)")
    return settings


# -- writing ---------------------------------------------------------------------------------------


def render_config(config: NodeConfig) -> str:
    """The TOML text of `config` (what `load_config` reads back to an equal config)."""
    document: dict[str, dict[str, object] | str] = {"name": config.name, "mode": config.mode.value}
    endpoints = (
        ("client", config.client),
        ("peer", config.peer),
        ("join_api", config.join_api),
        ("operator", config.operator),
        ("metrics", config.metrics),
    )
    for key, endpoint in endpoints:
        document[key] = {"bind": str(endpoint.bind), "advertised": str(endpoint.advertised)}
    document["paths"] = {
        "ledger_dir": str(config.ledger_dir),
        "state_dir": str(config.state_dir),
        "sealed_secrets": str(config.sealed_secrets),
        "raft_state": str(config.raft_state),
        "snapshots_dir": str(config.snapshots_dir),
        "log_file": str(config.log_file),
        "service_cert": str(config.service_cert),
    }
    document["platform"] = {
        "dir": str(config.platform_dir),
        "machine": config.machine,
        "backend": config.backend.value,
    }
    join: dict[str, object] = {}
    if config.join_target is not None:
        join["target"] = str(config.join_target)
    if config.join_service_measurements:
        join["service_measurements"] = [value.hex() for value in config.join_service_measurements]
    if join:
        document["join"] = join
    identities = config.identities
    if identities.members or identities.users or identities.member_encryption_keys:
        document["identities"] = {
            "members": [str(p) for p in identities.members],
            "member_encryption_keys": [str(p) for p in identities.member_encryption_keys],
            "users": [str(p) for p in identities.users],
        }
    consensus = config.consensus
    document["consensus"] = {
        "tick_interval_ms": consensus.tick_interval_ms,
        "election_ticks": consensus.election_ticks,
        "signature_interval_ms": consensus.signature_interval_ms,
        "signature_interval_txs": consensus.signature_interval_txs,
        "snapshot_interval_txs": consensus.snapshot_interval_txs,
        "fsync": consensus.fsync.value,
        "max_inflight_appends": consensus.max_inflight_appends,
    }
    return _render_toml(document)


def write_config(file: Path, config: NodeConfig) -> None:
    """Replaces `file` atomically (a reader sees the old or the new config, never half of one)."""
    file.parent.mkdir(parents=True, exist_ok=True)
    temporary = file.with_name(file.name + ".tmp")
    temporary.write_text(render_config(config))
    os.replace(temporary, file)


def _render_toml(document: Mapping[str, object]) -> str:
    """A TOML writer for what configs hold: strings, integers, lists of strings, one level of tables."""
    scalars = {key: value for key, value in document.items() if not isinstance(value, dict)}
    lines = [f"{key} = {_toml_value(value)}" for key, value in scalars.items()]
    for key, value in document.items():
        if isinstance(value, dict):
            lines.append(f"\n[{key}]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in value.items())
    return "\n".join(lines) + "\n"


def _toml_value(value: object) -> str:
    match value:
        case bool():
            return "true" if value else "false"
        case int():
            return str(value)
        case str():
            # JSON string escapes are valid TOML basic-string escapes.
            return json.dumps(value)
        case list():
            return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")
