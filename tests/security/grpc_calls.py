"""Raw gRPC calls to one node, as an attacker makes them: any bytes to any method, the answer's status."""

from __future__ import annotations

import os
from dataclasses import dataclass

import grpc

from enclave.ledger.entry import decode_entry
from enclave.ledger.reading import ledger_chunks, read_entries
from node.rpc.tls import channel_credentials
from tests.integration.cluster import Cluster

# The refusals a node may answer a bad request with (`node.rpc.convert`'s mapping of the enclave's
# ErrorCodes): each names what is wrong. UNKNOWN and INTERNAL name nothing: an unhandled exception.
REFUSALS = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)
CALL_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A gRPC method and the node port that serves it ("client": mTLS as user0; "join": TLS only)."""

    method: str
    port: str


class RawCaller:
    """Channels to the node's client and join ports; `call` sends bytes as the request, unparsed."""

    def __init__(self, cluster: Cluster, name: str = "node0") -> None:
        users = cluster.workspace.root / "users"
        service_cert = cluster.workspace.service_cert.read_bytes()
        user0 = ((users / "user0_cert.pem").read_bytes(), (users / "user0_privk.pem").read_bytes())
        config = cluster.local.nodes[name].config()
        self._channels = {
            "client": grpc.secure_channel(
                str(config.client.advertised), channel_credentials(service_cert, user0)
            ),
            "join": grpc.secure_channel(str(config.join_api.advertised), channel_credentials(service_cert)),
        }

    def call(self, endpoint: Endpoint, request: bytes) -> grpc.StatusCode:
        method = self._channels[endpoint.port].unary_unary(endpoint.method)
        try:
            method(request, timeout=CALL_TIMEOUT_SECONDS)
        except grpc.RpcError as error:
            code: grpc.StatusCode = error.code()
            return code
        return grpc.StatusCode.OK

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()


def quiet_last_seqno(cluster: Cluster, name: str = "node0") -> int:
    """The node's last seqno once everything it holds is committed (no signature still to come); fails
    at once if the node's process has exited."""
    report = cluster.wait_until(name, "everything committed", lambda r: r.last == r.commit)
    return report.last.seqno


# The service's own bookkeeping (signatures, elections, recovery shares re-issued after a membership
# change, rekeys, snapshot evidence): a tick may write it at any time, a request never does.
_SERVICE_OWN_MAPS = "public:ccf.internal."


def writes_after(cluster: Cluster, seqno: int, name: str = "node0") -> list[int]:
    """The seqnos after `seqno` in the node's ledger (once everything it holds is committed) whose entry
    writes a private map, a governance map or a public application map: what no refused request may
    cause. The service's own bookkeeping, which it writes on its own, is left out."""
    quiet_last_seqno(cluster, name)
    directory = cluster.ledger_dir(name)
    entries = read_entries(
        ledger_chunks(os.listdir(directory)), lambda chunk: (directory / chunk).read_bytes()
    )
    decoded = (decode_entry(entry.raw) for entry in entries if entry.seqno > seqno)
    return [
        entry.txid.seqno
        for entry in decoded
        if entry.private_domain_size > 0
        or not all(map_name.startswith(_SERVICE_OWN_MAPS) for map_name in entry.public_maps)
    ]
