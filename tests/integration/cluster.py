"""A real local network for integration tests: processes on loopback, polled with deadlines, always killed.

`Cluster` wraps `node.network.LocalNetwork` with what scenarios need: a client, who is primary, kill -9
and restart, waiting for a node to catch up. `check_ledgers` is the invariant every integration test ends
with: the committed ledgers of all nodes are byte-identical up to the common commit index, and each one
passes `sealchain ledger verify`.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from enclave.ledger.reading import ledger_chunks, read_entries
from enclave.runtime import messages as m
from node.config import Address, ConsensusSettings, Endpoint, IdentitySettings, NodeMode
from node.ledger_files import FsyncPolicy
from node.network import LocalNetwork, bring_up, is_open, is_primary, wait_for
from node.raft_state_file import RaftStateFile
from sealchain.cli import cli
from sealchain.client import Client, ClientError, Consistency, TxStatus
from sealchain.governance import GovernanceClient, MemberSigner, activate_and_open, propose_and_pass
from sealchain.workspace import Workspace, prepare_network_workspace

# Fast enough for tests on 2 shared cores, slow enough that a busy machine does not cause elections.
TEST_CONSENSUS = ConsensusSettings(
    tick_interval_ms=25,
    election_ticks=20,
    signature_interval_ms=50,
    signature_interval_txs=50,
    fsync=FsyncPolicy.ON_FLUSH,
)
UP_SECONDS = 60.0


@dataclass
class Cluster:
    workspace: Workspace
    local: LocalNetwork
    identities: IdentitySettings
    members: list[str] = field(default_factory=lambda: ["member0"])
    users: list[str] = field(default_factory=lambda: ["user0"])
    consensus: ConsensusSettings = TEST_CONSENSUS

    @classmethod
    def prepare(cls, root: Path, machines: int, members: int = 1) -> Cluster:
        """A workspace with `members` members, one user and `machines` provisioned machines; no process
        yet."""
        workspace = Workspace(root)
        identities = prepare_network_workspace(workspace, nodes=machines, members=members, users=1)
        return cls(workspace, LocalNetwork(root), identities, [f"member{i}" for i in range(members)])

    def bring_up(self, nodes: int, peers: Mapping[str, Endpoint] | None = None) -> None:
        def open_service() -> None:
            self.local.write_network_file(self.members, self.users)
            with self.governance() as governance:
                activate_and_open(governance, self.signers())

        deadline = time.monotonic() + UP_SECONDS
        bring_up(
            self.local,
            nodes,
            self.identities,
            deadline=deadline,
            open_service=open_service,
            consensus=self.consensus,
            peers=peers,
        )
        self.local.write_network_file(self.members, self.users)

    def governance(self, timeout: float = 30.0) -> GovernanceClient:
        """member0's governance connection to every node in `network.json`."""
        return GovernanceClient.from_workspace(self.workspace.root, identity="member0", timeout=timeout)

    def signers(self) -> list[MemberSigner]:
        return [MemberSigner.from_workspace(self.workspace, name) for name in self.members]

    def pass_proposal(self, *actions: Mapping[str, object]) -> m.GovernanceResult:
        """member0 proposes `actions` and the members vote for them in turn; returns once Accepted."""
        self.local.write_network_file(self.members, self.users)
        with self.governance() as governance:
            return propose_and_pass(governance, self.signers(), list(actions))

    # -- nodes -----------------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return list(self.local.nodes)

    def status(self, name: str) -> m.NodeStatusReport | None:
        return self.local.nodes[name].status()

    def primary(self, deadline_seconds: float = 30.0, among: list[str] | None = None) -> str:
        """The name of the node that reports itself trusted and leader (polled until there is one)."""
        candidates = among or [name for name, node in self.local.nodes.items() if node.is_running()]

        def probe() -> str | None:
            for name in candidates:
                report = self.status(name)
                if report is not None and is_primary(report):
                    return name
            return None

        return wait_for("a primary", probe, time.monotonic() + deadline_seconds)

    def join_address(self, name: str) -> Address:
        """Where `name` takes join requests (`[join_api]`)."""
        return self.local.nodes[name].config().join_api.advertised

    def client_address(self, name: str) -> str:
        return str(self.local.nodes[name].config().client.advertised)

    def client(self, names: list[str] | None = None, timeout: float = 20.0) -> Client:
        """A user0 client of the nodes `names` (default: all), in that order."""
        root = self.workspace.root
        return Client(
            [self.client_address(name) for name in names or self.names],
            service_cert_pem=self.workspace.service_cert.read_bytes(),
            cert_pem=(root / "users" / "user0_cert.pem").read_bytes(),
            key_pem=(root / "users" / "user0_privk.pem").read_bytes(),
            timeout=timeout,
        )

    def kill(self, name: str) -> None:
        self.local.kill_node(name)

    def restart(self, name: str) -> None:
        self.local.start_node(name)

    def join(
        self,
        name: str,
        target: Address,
        peer: Endpoint | None = None,
        *,
        platform_dir: Path | None = None,
        service_cert: Path | None = None,
        environment: Mapping[str, str] | None = None,
        service_measurements: tuple[bytes, ...] = (),
    ) -> None:
        """Starts `name` joining through `target` (a join address); `platform_dir`, `service_cert`: not
        the workspace's; `environment`: for the process (changed code through `PYTHONPATH`);
        `service_measurements`: the service's code the joiner trusts besides its own."""
        self.local.write_node_config(
            name,
            NodeMode.JOIN,
            self.identities,
            join_target=target,
            consensus=self.consensus,
            peer=peer,
            platform_dir=platform_dir,
            service_cert=service_cert,
            service_measurements=service_measurements,
        )
        self.local.start_node(name, environment=environment)

    def remove(self, name: str) -> None:
        """Governance's `remove_node` for `name`; returns once the proposal is Accepted (committed). The
        Raft removal follows, one node at a time (enclave/runtime/membership.py)."""
        report = self.status(name)
        node_id = None if report is None else report.node_id
        assert node_id is not None, f"{name} reports no node id"
        self.pass_proposal({"name": "remove_node", "args": {"node_id": node_id}})

    def trust(self, name: str) -> None:
        """Governance's `transition_node_to_trusted` for the pending node `name`."""
        pending = self.wait_until(
            name, "the join to be pending", lambda r: r.state is m.LifecycleState.PENDING
        )
        node_id = pending.node_id
        assert node_id is not None, f"{name} is pending but reports no node id"
        valid_from = datetime.now(UTC).strftime("%Y%m%d%H%M%SZ")
        self.pass_proposal(
            {"name": "transition_node_to_trusted", "args": {"node_id": node_id, "valid_from": valid_from}}
        )

    def wait_until(
        self, name: str, what: str, accept: Callable[[m.NodeStatusReport], bool], seconds: float = 30.0
    ) -> m.NodeStatusReport:
        return self.local.wait_for_status(name, what, accept, time.monotonic() + seconds)

    def wait_open(self, name: str, seconds: float = 30.0) -> m.NodeStatusReport:
        return self.wait_until(name, "the node to serve the open service", is_open, seconds)

    def wait_commit_at_least(self, name: str, seqno: int, seconds: float = 30.0) -> m.NodeStatusReport:
        return self.wait_until(name, f"commit >= {seqno}", lambda r: r.commit.seqno >= seqno, seconds)

    def stop(self) -> None:
        self.local.stop_all(grace=10.0)

    def log_events(self, name: str) -> list[dict[str, object]]:
        """The node's log so far, one JSON object per line (`node.node_log`)."""
        path = self.local.node_dir(name) / "node.log"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def wait_for_log(
        self, name: str, what: str, accept: Callable[[dict[str, object]], bool], seconds: float = 30.0
    ) -> dict[str, object]:
        """The first event of `name`'s log that `accept`s, polled until there is one."""

        def probe() -> dict[str, object] | None:
            return next((event for event in self.log_events(name) if accept(event)), None)

        return wait_for(f"{name}'s log: {what}", probe, time.monotonic() + seconds)

    # -- the ledger invariant --------------------------------------------------------------------

    def ledger_dir(self, name: str) -> Path:
        config = self.local.nodes[name].config()
        return config.path(config.ledger_dir)

    def commit_seqno(self, name: str) -> int:
        config = self.local.nodes[name].config()
        state = RaftStateFile(config.path(config.raft_state)).load()
        return 0 if state is None else state.commit

    def check_ledgers(self, names: list[str] | None = None) -> int:
        """Stopped nodes only. Byte-identical committed ledgers up to the common commit index (from where
        every ledger holds entries: a node that started from a snapshot holds only what follows it), and
        `sealchain ledger verify` passes on the ledger of every node in `names` (default: all; a node
        that never joined has none). Returns the common commit index."""
        assert not any(node.is_running() for node in self.local.nodes.values())
        names = names or self.names
        common = min(self.commit_seqno(name) for name in names)
        assert common > 0, "nothing was committed on some node"
        held: dict[str, tuple[int, list[bytes]]] = {}
        for name in names:
            directory = self.ledger_dir(name)
            chunks = ledger_chunks(os.listdir(directory))
            first = chunks[0].start if chunks else 1
            entries = [
                entry.raw for entry in read_entries(chunks, _chunk_reader(directory), first_seqno=first)
            ]
            assert first + len(entries) - 1 >= common, f"{name}'s ledger ends before the commit {common}"
            held[name] = (first, entries)
        lowest = max(first for first, _ in held.values())
        reference: list[bytes] | None = None
        for name, (first, entries) in held.items():
            committed = entries[lowest - first : common - first + 1]
            if reference is None:
                reference = committed
            else:
                assert committed == reference, f"{name}'s committed ledger differs"
            self.verify_ledger(self.ledger_dir(name))
        return common

    def verify_ledger(self, directory: Path) -> None:
        result = CliRunner().invoke(
            cli,
            [
                "ledger",
                "verify",
                str(directory),
                "--service-cert",
                str(self.workspace.service_cert),
                "--json",
            ],
        )
        assert result.exit_code == 0, f"ledger verify {directory}: {result.output}"
        assert json.loads(result.stdout)["ok"] is True


def read_everywhere(
    cluster: Cluster, written: dict[bytes, bytes], commit_seqno: int, names: list[str] | None = None
) -> None:
    """Every node of `names` (default: all), once its commit reaches `commit_seqno`, serves every written
    value from its local state."""
    for name in names or cluster.names:
        cluster.wait_commit_at_least(name, commit_seqno)
        with cluster.client([name]) as client:
            for key, value in written.items():
                assert client.get("records", key, consistency=Consistency.LOCAL).value == value, (name, key)


class Writer(threading.Thread):
    """Writes keys in a loop through a failing-over client; remembers what was acknowledged Committed."""

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(name="writer", daemon=True)
        self._client = cluster.client(timeout=10.0)
        self.committed: dict[bytes, bytes] = {}
        self.highest_seqno = 0
        self.failures: list[str] = []
        self.stop_writing = threading.Event()
        self.progress = threading.Condition()

    def run(self) -> None:
        i = 0
        while not self.stop_writing.is_set():
            key, value = b"load-%d" % i, b"value-%d" % i
            i += 1
            try:
                result = self._client.put("records", key, value)
            except ClientError as error:
                self.failures.append(error.code)
                continue
            if result.status is TxStatus.COMMITTED:
                with self.progress:
                    self.committed[key] = value
                    self.highest_seqno = max(self.highest_seqno, result.txid.seqno)
                    self.progress.notify_all()
        self._client.close()

    def wait_for_commits(self, count: int, seconds: float = 60.0) -> None:
        with self.progress:
            assert self.progress.wait_for(lambda: len(self.committed) >= count, timeout=seconds), (
                f"only {len(self.committed)} of {count} writes committed; failures: {self.failures[-5:]}"
            )

    def wait_for_more_commits(self, count: int, seconds: float = 60.0) -> None:
        with self.progress:
            already = len(self.committed)
        self.wait_for_commits(already + count, seconds)

    def finish(self) -> None:
        self.stop_writing.set()
        self.join(timeout=30)


def _chunk_reader(directory: Path) -> Callable[[str], bytes]:
    return lambda name: (directory / name).read_bytes()
