"""A local network of node processes on loopback: configs, start, readiness, `network.json`, stop.

`sealchain network up` and the integration tests drive real processes through this module. Every node is
`python -m sealchain node start --config nodes/<name>/config.toml`; ports are picked by the nodes (port 0)
and read back from their config files, so two networks on one machine never clash. Readiness is polled
through each node's operator API against a deadline, never slept for.

`network.json` (DESIGN.md section 7), paths relative to the workspace:

    {"service_cert": PATH, "nodes": [{"name", "node_id", "client_address", "pid", "config", "ledger_dir",
     "metrics_address"?}], "members": [NAME...], "users": [NAME...]}

`metrics_address` (the node's Prometheus `/metrics` endpoint, `host:port`) is optional: left out when
unknown, so files written before it existed still read.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

import grpc

from enclave.platform.api import PlatformName
from enclave.runtime import messages as m
from node.config import (
    Address,
    ConfigError,
    ConsensusSettings,
    Endpoint,
    IdentitySettings,
    NodeConfig,
    NodeMode,
    load_config,
    write_config,
)
from node.rpc import convert
from proto.sealchain.v1 import operator_pb2, operator_pb2_grpc

LOOPBACK = "127.0.0.1"
CONFIG_FILE = "config.toml"
PROCESS_LOG = "process.log"
STATUS_TIMEOUT_SECONDS = 2.0
POLL_INTERVAL_SECONDS = 0.05
STOP_GRACE_SECONDS = 10.0

T = TypeVar("T")


class NetworkError(Exception):
    """The local network cannot do what was asked; `code` is the CLI's stable error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class NotReady(NetworkError):
    def __init__(self, message: str) -> None:
        super().__init__("not_ready", message)


# -- network.json ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeRecord:
    name: str
    node_id: str
    client_address: str
    pid: int
    config: str
    ledger_dir: str
    metrics_address: str | None = None


@dataclass(frozen=True, slots=True)
class NetworkFile:
    service_cert: str
    nodes: tuple[NodeRecord, ...]
    members: tuple[str, ...]
    users: tuple[str, ...]

    def to_json(self) -> str:
        document = asdict(self)
        document["nodes"] = [
            {key: value for key, value in node.items() if value is not None} for node in document["nodes"]
        ]
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> NetworkFile:
        """Parses `network.json`; anything malformed is a `NetworkError` ("bad_network_json")."""
        try:
            data = json.loads(text)
            return cls(
                service_cert=_text(data["service_cert"]),
                nodes=tuple(
                    NodeRecord(
                        name=_text(node["name"]),
                        node_id=_text(node["node_id"]),
                        client_address=_text(node["client_address"]),
                        pid=_integer(node["pid"]),
                        config=_text(node["config"]),
                        ledger_dir=_text(node["ledger_dir"]),
                        metrics_address=_optional_text(node.get("metrics_address")),
                    )
                    for node in data["nodes"]
                ),
                members=tuple(_text(name) for name in data["members"]),
                users=tuple(_text(name) for name in data["users"]),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise NetworkError("bad_network_json", f"network.json is malformed: {error!r}") from None


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, not {value!r}")
    return value


def _optional_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _integer(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, not {value!r}")
    return value


def read_network_file(root: Path) -> NetworkFile:
    path = root / "network.json"
    try:
        return NetworkFile.from_json(path.read_text())
    except FileNotFoundError:
        raise NetworkError("no_network", f"no network.json in {root}: is a network up?") from None


# -- node processes --------------------------------------------------------------------------------


def node_status(operator: Address, timeout: float = STATUS_TIMEOUT_SECONDS) -> m.NodeStatusReport | None:
    """The node's own report through its operator API, or None if it does not answer."""
    with grpc.insecure_channel(str(operator)) as channel:
        stub = operator_pb2_grpc.OperatorStub(channel)  # type: ignore[no-untyped-call]
        try:
            response = stub.NodeStatus(operator_pb2.NodeStatusRequest(), timeout=timeout)
        except grpc.RpcError:
            return None
    return convert.node_status_report(response)


def wait_for(what: str, probe: Callable[[], T | None], deadline: float) -> T:
    """Polls `probe` until it returns a value; a `NotReady` naming `what` at the deadline (monotonic)."""
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() >= deadline:
            raise NotReady(f"timed out waiting for {what}")
        time.sleep(POLL_INTERVAL_SECONDS)


@dataclass(slots=True)
class NodeProcess:
    name: str
    config_file: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def config(self) -> NodeConfig:
        return load_config(self.config_file)

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def operator_address(self) -> Address | None:
        """The operator address once the node has recorded the port it bound (None before that)."""
        with contextlib.suppress(ConfigError):
            address = self.config().operator.bind
            if address.port:
                return address
        return None

    def status(self) -> m.NodeStatusReport | None:
        address = self.operator_address()
        return None if address is None else node_status(address)


class LocalNetwork:
    """The node processes of one workspace, started by this process."""

    def __init__(self, root: Path, *, python: str = sys.executable) -> None:
        self.root = root
        self.python = python
        self.nodes: dict[str, NodeProcess] = {}

    def node_dir(self, name: str) -> Path:
        return self.root / "nodes" / name

    def write_node_config(
        self,
        name: str,
        mode: NodeMode,
        identities: IdentitySettings,
        *,
        join_target: Address | None = None,
        consensus: ConsensusSettings | None = None,
        backend: PlatformName = PlatformName.SGX_SIM,
        peer: Endpoint | None = None,
        platform_dir: Path | None = None,
        service_cert: Path | None = None,
        service_measurements: tuple[bytes, ...] = (),
    ) -> NodeProcess:
        """Writes `nodes/<name>/config.toml` (ports 0: picked at start); paths relative to the node dir.
        `peer`: where the node listens for peers and what it advertises, when not a picked port (a test
        puts a fault proxy between the advertised and the bound address). `platform_dir` and
        `service_cert` (absolute, or relative to the workspace): the machine's platform folder and the
        expected service certificate, when not the workspace's own."""
        directory = self.node_dir(name)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        to_workspace = Path("..") / ".."
        endpoint = Endpoint(Address(LOOPBACK, 0), Address(LOOPBACK, 0))
        config = NodeConfig(
            name=name,
            mode=mode,
            client=endpoint,
            peer=peer or endpoint,
            operator=endpoint,
            join_api=endpoint,
            ledger_dir=Path("ledger"),
            state_dir=Path("state"),
            sealed_secrets=Path("sealed_secrets.bin"),
            raft_state=Path("raft_state.json"),
            log_file=Path("node.log"),
            service_cert=to_workspace / (service_cert or "service_cert.pem"),
            platform_dir=to_workspace / (platform_dir or "platform"),
            machine=name,
            backend=backend,
            join_target=join_target,
            join_service_measurements=service_measurements,
            identities=IdentitySettings(
                members=tuple(to_workspace / p for p in identities.members),
                member_encryption_keys=tuple(to_workspace / p for p in identities.member_encryption_keys),
                users=tuple(to_workspace / p for p in identities.users),
            ),
            consensus=consensus or ConsensusSettings(),
            directory=directory,
        )
        config_file = directory / CONFIG_FILE
        write_config(config_file, config)
        node = NodeProcess(name, config_file)
        self.nodes[name] = node
        return node

    def start_node(
        self, name: str, *, detach: bool = False, environment: Mapping[str, str] | None = None
    ) -> NodeProcess:
        """Starts (or restarts) the node's process. `detach`: in its own session, to outlive this one.
        `environment`: variables set for the process on top of this one's (a test runs changed code
        through `PYTHONPATH`)."""
        node = self.nodes[name]
        if node.is_running():
            raise NetworkError("already_running", f"{name} is already running")
        environment = dict(os.environ, GRPC_VERBOSITY="ERROR", **(environment or {}))
        config_file = node.config_file.resolve()
        with open(self.node_dir(name) / PROCESS_LOG, "ab") as output:
            # In its own folder: the code a node runs never depends on the operator's working directory.
            node.process = subprocess.Popen(
                [self.python, "-m", "sealchain", "node", "start", "--config", str(config_file)],
                cwd=config_file.parent,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=environment,
                start_new_session=detach,
            )
        return node

    def wait_for_status(
        self, name: str, what: str, accept: Callable[[m.NodeStatusReport], bool], deadline: float
    ) -> m.NodeStatusReport:
        node = self.nodes[name]

        def probe() -> m.NodeStatusReport | None:
            if node.process is not None and node.process.poll() is not None:
                log_file = self.node_dir(name) / PROCESS_LOG
                raise NetworkError(
                    "node_exited",
                    f"{name} exited with status {node.process.returncode} (see {log_file})",
                )
            report = node.status()
            return report if report is not None and accept(report) else None

        return wait_for(f"{name}: {what} (its log: {self.node_dir(name) / 'node.log'})", probe, deadline)

    def stop_node(self, name: str, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM, then SIGKILL if it has not exited after `grace` seconds."""
        node = self.nodes[name]
        if node.process is None or node.process.poll() is not None:
            return
        node.process.send_signal(signal.SIGTERM)
        try:
            node.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait()

    def kill_node(self, name: str) -> None:
        """kill -9: no clean shutdown, the node restarts from what reached its files."""
        node = self.nodes[name]
        if node.process is not None and node.process.poll() is None:
            node.process.kill()
            node.process.wait()

    def stop_all(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stops every node this process started: all SIGTERMed at once, SIGKILLed after `grace`."""
        running = [
            node.process for node in self.nodes.values() if node.process and node.process.poll() is None
        ]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in running:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def network_file(self, members: Sequence[str], users: Sequence[str]) -> NetworkFile:
        records = []
        for name, node in self.nodes.items():
            config = node.config()
            report = node.status()
            records.append(
                NodeRecord(
                    name=name,
                    node_id=(report.node_id if report else None) or "",
                    client_address=str(config.client.advertised),
                    pid=node.pid or 0,
                    config=str(node.config_file.relative_to(self.root)),
                    ledger_dir=str(config.path(config.ledger_dir).relative_to(self.root)),
                    metrics_address=str(config.metrics.advertised)
                    if config.metrics.advertised.port
                    else None,
                )
            )
        return NetworkFile("service_cert.pem", tuple(records), tuple(members), tuple(users))

    def write_network_file(self, members: Sequence[str], users: Sequence[str]) -> NetworkFile:
        network_file = self.network_file(members, users)
        temporary = self.root / "network.json.tmp"
        temporary.write_text(network_file.to_json())
        os.replace(temporary, self.root / "network.json")
        return network_file


def is_primary(report: m.NodeStatusReport) -> bool:
    return report.state is m.LifecycleState.TRUSTED and report.role == "leader"


def is_trusted(report: m.NodeStatusReport) -> bool:
    return report.state is m.LifecycleState.TRUSTED and report.role is not None


def is_open(report: m.NodeStatusReport) -> bool:
    return is_trusted(report) and report.service_status == "Open"


def is_open_voter(report: m.NodeStatusReport) -> bool:
    return is_open(report) and report.voter


def bring_up(
    network: LocalNetwork,
    count: int,
    identities: IdentitySettings,
    *,
    deadline: float,
    consensus: ConsensusSettings | None = None,
    open_service: Callable[[], None],
    detach: bool = False,
    peers: Mapping[str, Endpoint] | None = None,
) -> None:
    """Genesis on node0, the others join through it (trusted at once while the service is Opening),
    then `open_service` (the members' governance: activation, `transition_service_to_open`) and a wait
    until every node sees the service Open and itself a voter (so the network survives losing any
    minority from then on). `peers`: fixed peer endpoints by node name (default: picked ports)."""
    peers = peers or {}
    genesis = network.write_node_config(
        "node0", NodeMode.START, identities, consensus=consensus, peer=peers.get("node0")
    )
    network.start_node(genesis.name, detach=detach)
    network.wait_for_status(genesis.name, "the genesis node to lead", is_primary, deadline)
    _join_the_others(
        network,
        genesis,
        count,
        identities,
        deadline=deadline,
        consensus=consensus,
        detach=detach,
        peers=peers,
    )
    open_service()
    for name in network.nodes:
        network.wait_for_status(name, "the service to open with this node voting", is_open_voter, deadline)


def bring_up_recovered(
    network: LocalNetwork,
    count: int,
    identities: IdentitySettings,
    *,
    old_ledger: Path,
    deadline: float,
    consensus: ConsensusSettings | None = None,
    detach: bool = False,
) -> None:
    """Disaster recovery (DESIGN.md 4.6): node0 starts in recover mode from a copy of `old_ledger` (the
    ledger directory of a node of the lost service), the others join it (trusted at once while the
    service recovers). Returns once every node is trusted: the members then vote the service open and
    submit their recovery shares."""
    first = network.write_node_config("node0", NodeMode.RECOVER, identities, consensus=consensus)
    config = first.config()
    shutil.copytree(old_ledger, config.path(config.ledger_dir), dirs_exist_ok=True)
    network.start_node(first.name, detach=detach)
    network.wait_for_status(first.name, "the recovering node to lead", is_primary, deadline)
    _join_the_others(network, first, count, identities, deadline=deadline, consensus=consensus, detach=detach)


def _join_the_others(
    network: LocalNetwork,
    first: NodeProcess,
    count: int,
    identities: IdentitySettings,
    *,
    deadline: float,
    consensus: ConsensusSettings | None,
    detach: bool,
    peers: Mapping[str, Endpoint] | None = None,
) -> None:
    """node1.. join through `first` and are waited for until trusted; `peers`: fixed peer endpoints by
    node name (default: picked ports)."""
    target = first.config().join_api.advertised
    joiners = [
        network.write_node_config(
            f"node{i}",
            NodeMode.JOIN,
            identities,
            join_target=target,
            consensus=consensus,
            peer=(peers or {}).get(f"node{i}"),
        )
        for i in range(1, count)
    ]
    for joiner in joiners:
        network.start_node(joiner.name, detach=detach)
    for joiner in joiners:
        network.wait_for_status(joiner.name, "the node to be trusted", is_trusted, deadline)


def stop_recorded_network(root: Path, grace: float = STOP_GRACE_SECONDS) -> list[str]:
    """`network down`: stops the processes `network.json` records (only if they still run that node's
    config, so a recycled pid is never signalled); the names of the nodes stopped."""
    network_file = read_network_file(root)
    stopping = [record for record in network_file.nodes if _runs_config(record.pid, root / record.config)]
    for record in stopping:
        os.kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for record in stopping:
        while _runs_config(record.pid, root / record.config) and time.monotonic() < deadline:
            time.sleep(POLL_INTERVAL_SECONDS)
        if _runs_config(record.pid, root / record.config):
            os.kill(record.pid, signal.SIGKILL)
    return [record.name for record in stopping]


def _runs_config(pid: int, config_file: Path) -> bool:
    """Whether process `pid` is alive and is the node of `config_file` (Linux: /proc/PID/cmdline)."""
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    if state == "Z":  # exited, not yet reaped by its parent
        return False
    return any(
        Path(os.fsdecode(arg)).resolve() == config_file.resolve()
        for arg in arguments
        if arg.endswith(b".toml")
    )
