"""The systems under test, fresh for every benchmark: a sealchain network and a 3-member etcd cluster.

Both run on loopback only, in folders of one temporary directory, with fsync on and mutual TLS on every
connection (sealchain: the settings of `scripts/sandbox`; etcd: its defaults, with certificates from a
throwaway CA for clients and peers). Everything started here is stopped by `close`, which the runner
calls on every exit path (Ctrl-C included).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from enclave.crypto.identity import ServiceIdentity
from enclave.crypto.keys import MIN_ENTROPY_BYTES, identity_key_from_entropy, private_key_pem
from node.config import ConsensusSettings
from node.files import DIRECTORY_MODE, PRIVATE_MODE, PUBLIC_MODE, create_file
from node.network import LOOPBACK, LocalNetwork, bring_up, wait_for
from sealchain.benchmark.targets import EtcdSpec, SealchainSpec
from sealchain.governance import GovernanceClient, MemberSigner, activate_and_open
from sealchain.workspace import Role, Workspace, prepare_network_workspace

START_DEADLINE_SECONDS = 120.0
ETCD_PACKAGE = "etcd-server"
ETCD_STOP_GRACE_SECONDS = 10.0


class SystemUnavailable(Exception):
    """A system under test could not be started; the message says what to do."""


class SealchainNetwork:
    """A fresh local network (`sealchain network up`'s steps) in `root`, one user for the clients;
    `consensus`: the nodes' consensus settings (default: the defaults `scripts/sandbox` runs with)."""

    name = "sealchain"

    def __init__(self, root: Path, nodes: int, consensus: ConsensusSettings | None = None) -> None:
        self.root = root
        self.node_count = nodes
        self.consensus = consensus
        self.network = LocalNetwork(root)

    def start(self) -> SealchainSpec:
        workspace = Workspace(self.root)
        identities = prepare_network_workspace(workspace, nodes=self.node_count, members=1, users=1)

        def open_service() -> None:
            self.network.write_network_file(["member0"], ["user0"])
            with GovernanceClient.from_workspace(workspace.root, identity="member0") as governance:
                activate_and_open(governance, [MemberSigner.from_workspace(workspace, "member0")])

        bring_up(
            self.network,
            self.node_count,
            identities,
            deadline=time.monotonic() + START_DEADLINE_SECONDS,
            open_service=open_service,
            consensus=self.consensus,
        )
        network_file = self.network.write_network_file(["member0"], ["user0"])
        user = workspace.identity_files(Role.USER, "user0")
        return SealchainSpec(
            tuple(node.client_address for node in network_file.nodes),
            service_cert_pem=(workspace.root / network_file.service_cert).read_bytes(),
            cert_pem=user.cert.read_bytes(),
            key_pem=user.private_key.read_bytes(),
        )

    def pids(self) -> list[int]:
        return [node.pid for node in self.network.nodes.values() if node.pid is not None]

    def close(self) -> None:
        self.network.stop_all()


def ensure_etcd(report: Callable[[str], None]) -> str:
    """The path of the `etcd` binary, installing the distribution's `etcd-server` package if missing."""
    found = shutil.which("etcd")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None:
        raise SystemUnavailable(
            f"etcd is not installed and there is no apt-get: install {ETCD_PACKAGE} (etcd 3.4+)"
        )
    report(f"etcd is not installed: installing the {ETCD_PACKAGE} package with apt-get")
    result = subprocess.run(
        [apt, "install", "-y", "--no-install-recommends", ETCD_PACKAGE],
        capture_output=True,
        text=True,
        check=False,
        env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )
    found = shutil.which("etcd")
    if result.returncode != 0 or found is None:
        last_lines = "\n".join(result.stderr.strip().splitlines()[-3:])
        raise SystemUnavailable(
            f"could not install {ETCD_PACKAGE} with apt-get (as root, with the package lists: "
            f"`apt-get update`); install it yourself or run without --vs-etcd.\n{last_lines}"
        )
    return found


def _free_port() -> int:
    """A port free on loopback now (etcd needs its ports up front; a clash makes it exit, reported)."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class EtcdTls:
    """The files of a throwaway CA and of the one identity it issued for every etcd member and client."""

    ca_cert: Path
    cert: Path
    key: Path

    def member_flags(self) -> list[str]:
        """Mutual TLS for clients and peers alike (sealchain's client and peer APIs both ask for it)."""
        return [
            f"--cert-file={self.cert}",
            f"--key-file={self.key}",
            f"--trusted-ca-file={self.ca_cert}",
            "--client-cert-auth",
            f"--peer-cert-file={self.cert}",
            f"--peer-key-file={self.key}",
            f"--peer-trusted-ca-file={self.ca_cert}",
            "--peer-client-cert-auth",
        ]


def write_etcd_tls(directory: Path) -> EtcdTls:
    """A CA and one loopback identity it endorses (P-384, as sealchain's), written to `directory`."""
    directory.mkdir(parents=True, mode=DIRECTORY_MODE)
    now = datetime.now(UTC)
    validity = {"not_before": now - timedelta(minutes=5), "not_after": now + timedelta(days=1)}
    ca = ServiceIdentity.create(os.urandom(MIN_ENTROPY_BYTES), **validity)
    member_key = identity_key_from_entropy(os.urandom(MIN_ENTROPY_BYTES))
    member = ca.endorse(member_key, [LOOPBACK, "localhost"], **validity)
    tls = EtcdTls(directory / "ca.pem", directory / "member.pem", directory / "member.key")
    create_file(tls.ca_cert, ca.cert_pem.encode(), PUBLIC_MODE)
    create_file(tls.cert, member.cert_pem.encode(), PUBLIC_MODE)
    create_file(tls.key, private_key_pem(member_key).encode(), PRIVATE_MODE)
    return tls


class EtcdCluster:
    """A fresh etcd cluster of `members` on loopback with data directories under `root` (fsync on)."""

    name = "etcd"

    def __init__(self, root: Path, members: int, binary: str) -> None:
        self.root = root
        self.members = members
        self.binary = binary
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> EtcdSpec:
        client_ports = [_free_port() for _ in range(self.members)]
        peer_ports = [_free_port() for _ in range(self.members)]
        metrics_ports = [_free_port() for _ in range(self.members)]
        tls = write_etcd_tls(self.root / "tls")
        cluster = ",".join(f"m{i}=https://{LOOPBACK}:{port}" for i, port in enumerate(peer_ports))
        for i in range(self.members):
            directory = self.root / f"m{i}"
            directory.mkdir(parents=True, mode=0o700)
            client_url = f"https://{LOOPBACK}:{client_ports[i]}"
            peer_url = f"https://{LOOPBACK}:{peer_ports[i]}"
            with open(directory / "etcd.log", "ab") as output:
                self.processes.append(
                    subprocess.Popen(
                        [
                            self.binary,
                            f"--name=m{i}",
                            f"--data-dir={directory / 'data'}",
                            f"--listen-client-urls={client_url}",
                            f"--advertise-client-urls={client_url}",
                            f"--listen-peer-urls={peer_url}",
                            f"--initial-advertise-peer-urls={peer_url}",
                            f"--initial-cluster={cluster}",
                            "--initial-cluster-state=new",
                            "--initial-cluster-token=sealchain-bench",
                            f"--listen-metrics-urls=http://{LOOPBACK}:{metrics_ports[i]}",
                            *tls.member_flags(),
                        ],
                        stdin=subprocess.DEVNULL,
                        stdout=output,
                        stderr=subprocess.STDOUT,
                    )
                )
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        for i, port in enumerate(metrics_ports):
            wait_for(f"etcd member m{i} to be healthy", functools.partial(self._healthy, i, port), deadline)
        addresses = tuple(f"{LOOPBACK}:{port}" for port in client_ports)
        return EtcdSpec(addresses, tls.ca_cert.read_bytes(), tls.cert.read_bytes(), tls.key.read_bytes())

    def _healthy(self, index: int, metrics_port: int) -> bool | None:
        process = self.processes[index]
        if process.poll() is not None:
            log = self.root / f"m{index}" / "etcd.log"
            raise SystemUnavailable(
                f"etcd member m{index} exited with status {process.returncode} (see {log})"
            )
        try:
            with urllib.request.urlopen(f"http://{LOOPBACK}:{metrics_port}/health", timeout=2) as response:
                healthy = json.loads(response.read()).get("health") == "true"
        except (urllib.error.URLError, OSError, ValueError):
            return None
        return True if healthy else None

    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + ETCD_STOP_GRACE_SECONDS
        for process in self.processes:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
