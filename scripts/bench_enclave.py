"""Throughput and commit latency of the enclave runtime: three real enclaves (sgx-sim) in one process, an
in-memory network that delivers every frame at once, no disk. Each round the primary receives one
`ClientRequestBatch` of writes (through the byte boundary, as the host sends it), then every node ticks and
the frames are delivered until the network is quiet. A write counts once its Committed answer is out.

    scripts/bench-enclave [--rounds N] [--batch B] [--value-size BYTES]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import deque
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import CertificateBuilder, Name, NameAttribute
from cryptography.x509.oid import NameOID

from enclave.crypto.certs import certificate_pem
from enclave.crypto.cose import GovMessageType, sign_request
from enclave.crypto.keys import MIN_ENTROPY_BYTES, identity_key_from_entropy
from enclave.platform.api import Measurement, PlatformName
from enclave.platform.backends import open_platform
from enclave.platform.provisioning import create_vendor_roots, provision_machine
from enclave.runtime import messages as m
from enclave.runtime.boundary import EnclaveBoundary, decode_effects, encode_input
from enclave.runtime.enclave import Enclave

NOW = datetime(2026, 6, 1, tzinfo=UTC)
TICK_MS = 10
SETTINGS = m.ConsensusSettings(signature_interval_txs=5000, signature_interval_ms=10)


def addresses(index: int) -> m.NodeAddresses:
    return m.NodeAddresses(f"127.0.0.{index + 1}:8001", f"127.0.0.{index + 1}:8000")


class Cluster:
    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        roots = create_vendor_roots(now=NOW, random_bytes=rng.randbytes)
        measurement = Measurement(bytes(32))
        self.enclaves: list[Enclave] = []
        for index in range(3):
            machine = provision_machine(f"bench{index}", roots, now=NOW, random_bytes=rng.randbytes)
            random_bytes = random.Random(rng.getrandbits(64)).randbytes
            platform = open_platform(PlatformName.SGX_SIM, machine, measurement, random_bytes)
            vendor_roots = {name: root.certificate for name, root in roots.items()}
            self.enclaves.append(Enclave(platform, random_bytes, vendor_roots))
        self.boundaries = [EnclaveBoundary(enclave) for enclave in self.enclaves]
        self.now_ms = int(NOW.timestamp() * 1000)
        self.queue: deque[tuple[int, m.HostInput]] = deque()
        self.answers: dict[int, m.CallResult] = {}
        self.join_origin: dict[int, int] = {}
        key = identity_key_from_entropy(rng.randbytes(MIN_ENTROPY_BYTES))
        subject = Name([NameAttribute(NameOID.COMMON_NAME, "bench user")])
        user = (
            CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(1)
            .not_valid_before(NOW)
            .not_valid_after(NOW.replace(year=2027))
            .sign(key, hashes.SHA384(), ecdsa_deterministic=True)
        )
        # The bench's one identity is both the user and the member (who opens the service).
        self.user_pem = certificate_pem(user)
        self.user_der = user.public_bytes(serialization.Encoding.DER)
        self.member_key, self.member_cert = key, user
        self.governance_requests = 0

    def node_index(self, node_id: str) -> int:
        return next(
            i for i, e in enumerate(self.enclaves) if e.node is not None and e.node.node_id == node_id
        )

    def give(self, index: int, message: m.HostInput) -> None:
        for effect in decode_effects(self.boundaries[index].handle(encode_input(message))):
            match effect:
                case m.SendToPeer():
                    sender = self.enclaves[index].node
                    assert sender is not None
                    message_ = m.PeerMessage(sender.node_id, effect.frame)
                    self.queue.append((self.node_index(effect.node_id), message_))
                case m.SendJoinRequest():
                    request_id = len(self.join_origin) + 1
                    self.join_origin[request_id] = index
                    self.queue.append((0, m.JoinRequestReceived(request_id, effect.request)))
                case m.RespondToJoin():
                    self.queue.append(
                        (self.join_origin[effect.request_id], m.JoinResponseReceived(effect.response))
                    )
                case m.RespondToClient():
                    self.answers[effect.request_id] = effect.result
                case _:
                    pass

    def settle(self) -> None:
        while self.queue:
            index, message = self.queue.popleft()
            self.give(index, message)

    def tick(self) -> None:
        self.now_ms += TICK_MS
        for index, enclave in enumerate(self.enclaves):
            if enclave.state is not m.LifecycleState.UNINITIALIZED:
                self.give(index, m.Tick(self.now_ms))
        self.settle()

    def leader(self) -> int:
        for index, enclave in enumerate(self.enclaves):
            if enclave.node is not None and enclave.node.rep.can_propose():
                return index
        raise RuntimeError("no leader")

    def start(self) -> None:
        members = (m.MemberInfo(self.user_pem),)
        self.give(0, m.StartNetwork(self.now_ms, addresses(0), members, (self.user_pem,), SETTINGS))
        node = self.enclaves[0].node
        assert node is not None
        service_cert = node.secrets.service.cert_pem
        for index in (1, 2):
            self.give(
                index, m.JoinNetwork(self.now_ms, addresses(index), addresses(0).peer, service_cert, SETTINGS)
            )
        self.settle()
        for _ in range(500):
            if len(node.rep.raft.configuration.voters) == 3:
                break
            self.tick()
        digest = self.govern(GovMessageType.STATE_DIGEST, b"").body_json.encode()
        self.govern(GovMessageType.ACK, digest)
        proposal = b'{"actions": [{"name": "transition_service_to_open"}]}'
        proposed = self.govern(GovMessageType.PROPOSAL, proposal)
        self.govern(GovMessageType.BALLOT, b'{"vote": "accept"}', proposed.proposal_id)

    def govern(
        self, msg_type: GovMessageType, payload: bytes, proposal_id: str | None = None
    ) -> m.GovernanceResult:
        """The member's signed request, through the primary, ticked until it commits."""
        self.governance_requests += 1
        request_id = 1_000_000_000 + self.governance_requests
        signed = sign_request(
            payload,
            self.member_key,
            self.member_cert,
            msg_type=msg_type,
            created_at=self.now_ms // 1000 - self.governance_requests,
            proposal_id=proposal_id,
        )
        self.give(self.leader(), m.ClientRequest(request_id, self.user_der, m.GovSubmit(signed)))
        while request_id not in self.answers:
            self.tick()
        result = self.answers.pop(request_id)
        assert isinstance(result, m.GovernanceResult) and result.status is m.TxStatus.COMMITTED, result
        return result


def run(rounds: int, batch: int, value_size: int) -> None:
    cluster = Cluster(seed=1)
    cluster.start()
    value = bytes(value_size)
    submitted: dict[int, float] = {}
    latencies: list[float] = []
    request_id = 1
    began = time.perf_counter()
    for _ in range(rounds):
        requests = []
        for _ in range(batch):
            request_id += 1
            call = m.Put("bench", request_id.to_bytes(8, "big"), value)
            requests.append(m.ClientRequest(request_id, cluster.user_der, call))
            submitted[request_id] = time.perf_counter()
        cluster.give(cluster.leader(), m.ClientRequestBatch(tuple(requests)))
        cluster.settle()
        cluster.tick()
        now = time.perf_counter()
        for answered in [r for r in cluster.answers if r in submitted]:
            result = cluster.answers.pop(answered)
            assert isinstance(result, m.WriteResult) and result.status is m.TxStatus.COMMITTED, result
            latencies.append(now - submitted.pop(answered))
    for _ in range(20):
        if not submitted:
            break
        cluster.tick()
        now = time.perf_counter()
        for answered in [r for r in cluster.answers if r in submitted]:
            cluster.answers.pop(answered)
            latencies.append(now - submitted.pop(answered))
    seconds = time.perf_counter() - began
    latencies.sort()
    print(f"3 enclaves, {rounds} rounds x {batch} writes of {value_size} bytes")
    print(f"committed {len(latencies)} writes in {seconds:.2f} s: {len(latencies) / seconds:,.0f} tx/s")
    quantiles = statistics.quantiles(latencies, n=100)
    print(
        f"commit latency (wall, in-process): p50 {quantiles[49] * 1e3:.1f} ms, "
        f"p90 {quantiles[89] * 1e3:.1f} ms, p99 {quantiles[98] * 1e3:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--value-size", type=int, default=100)
    args = parser.parse_args()
    run(args.rounds, args.batch, args.value_size)


if __name__ == "__main__":
    main()
