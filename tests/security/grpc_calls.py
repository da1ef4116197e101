"""Raw gRPC calls to one node, as an attacker makes them: any bytes to any method, the answer's status."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

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
