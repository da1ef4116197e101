"""Channels to a service's nodes, and failover between them: what `Client` and `GovernanceClient` share.

A connection authenticates with a member's or user's certificate (mTLS) and trusts only nodes endorsed by
the service certificate. A call goes to one node; when that node cannot serve it (unreachable, or a
refusal the caller declares "another node may serve") the call moves on to the next node, with
exponential backoff, until the call's deadline. Every other refusal is raised at once as `ClientError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar

import grpc

from enclave.runtime.messages import ErrorCode
from node.network import read_network_file
from node.rpc import convert
from node.rpc.tls import channel_credentials
from sealchain.workspace import Role, Workspace, WorkspaceError

DEFAULT_TIMEOUT_SECONDS = 30.0
_INITIAL_BACKOFF_SECONDS = 0.05
_MAX_BACKOFF_SECONDS = 0.5
_RETRYABLE_STATUS = frozenset({grpc.StatusCode.UNAVAILABLE})
# gRPC's words when a call failed because no connection to the node could be made (so nothing was sent);
# a connection lost during a call reads differently ("Socket closed", "Connection reset", ...).
_NEVER_CONNECTED = "failed to connect"

Stub = TypeVar("Stub")
_Result = TypeVar("_Result")


class ClientError(Exception):
    """A call the service refused or could not serve. `code` is the node's `ErrorCode` value (e.g.
    "NotAUser") or, for a transport failure, the gRPC status name (e.g. "UNAVAILABLE")."""

    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class ServiceAccess:
    """Where a service's nodes are and who calls them: client endpoints ("host:port"), the service
    certificate that endorses the nodes, and the caller's certificate and private key (PEM)."""

    addresses: tuple[str, ...]
    service_cert_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    @classmethod
    def from_workspace(cls, workspace: Path | None, identity: str) -> ServiceAccess:
        """The network recorded in the workspace's `network.json`, as `identity` (a user's or a member's
        name, e.g. "user0" or "member1"); `WorkspaceError` ("unknown_identity") for anyone else."""
        ws = Workspace.locate(workspace)
        role = Role.MEMBER if identity in ws.identity_names(Role.MEMBER) else Role.USER
        files = ws.identity_files(role, identity)
        if not files.cert.exists():
            raise WorkspaceError("unknown_identity", f"no user or member named {identity!r} in {ws.root}")
        return cls.to_network(ws, files.cert.read_bytes(), files.private_key.read_bytes())

    @classmethod
    def to_network(cls, workspace: Workspace, cert_pem: bytes, key_pem: bytes) -> ServiceAccess:
        """The network recorded in the workspace's `network.json`, as the holder of `cert_pem`."""
        network = read_network_file(workspace.root)
        return cls(
            tuple(node.client_address for node in network.nodes),
            service_cert_pem=(workspace.root / network.service_cert).read_bytes(),
            cert_pem=cert_pem,
            key_pem=key_pem,
        )


def refusal(
    code: ErrorCode, details: str, *, once: bool, another_node_may_serve: Collection[ErrorCode]
) -> ClientError:
    """The node's refusal `code`, retryable on the next node when `another_node_may_serve` it, except
    that a request that must not run twice (`once`) is not retried when its outcome is unknown."""
    retryable = code in another_node_may_serve and not (once and code is ErrorCode.OUTCOME_UNKNOWN)
    return ClientError(code.value, details, retryable=retryable)


def transport_failure(status: grpc.StatusCode, details: str, address: str, *, once: bool) -> ClientError:
    """A call to `address` that failed in transport with `status`. A request that must not run twice
    (`once`) is retryable only when no connection could be made, so nothing was sent."""
    if once and not (status is grpc.StatusCode.UNAVAILABLE and _NEVER_CONNECTED in details.lower()):
        # Sent, then the call failed in transport: it may have run.
        return ClientError(status.name, f"{address}: {details} (the outcome is unknown)")
    return ClientError(status.name, f"{address}: {details}", retryable=status in _RETRYABLE_STATUS)


class Connection(Generic[Stub]):
    """One gRPC service (`stub_type`) on every node of `access`, with failover. `another_node_may_serve`:
    the node refusals after which the call is tried on the next node (besides an unreachable node)."""

    def __init__(
        self,
        access: ServiceAccess,
        stub_type: Callable[[grpc.Channel], Stub],
        *,
        another_node_may_serve: Collection[ErrorCode],
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        if not access.addresses:
            raise ValueError("a client needs at least one node address")
        self.addresses = access.addresses
        self.timeout = timeout
        self._stub_type = stub_type
        self._another_node_may_serve = frozenset(another_node_may_serve)
        self._credentials = channel_credentials(access.service_cert_pem, (access.cert_pem, access.key_pem))
        self._stubs: dict[str, tuple[grpc.Channel, Stub]] = {}
        self._current = 0

    def _opened(self, address: str) -> tuple[grpc.Channel, Stub]:
        opened = self._stubs.get(address)
        if opened is None:
            channel = grpc.secure_channel(address, self._credentials)
            opened = self._stubs[address] = (channel, self._stub_type(channel))
        return opened

    def invoke(
        self,
        method: Callable[[Stub], Callable[..., Any]],
        request: Any,
        result: Callable[[Any], _Result],
        *,
        once: bool = False,
    ) -> _Result:
        """Calls `method` of the current node's stub with `request` and converts the response with
        `result`, failing over to the next node while the failure is retryable and time remains.

        `once`: the request must not take effect twice (a write: even a put, run twice around another
        client's write, is not linearizable). It moves to another node only when it certainly did not
        run: no connection to the node could be made (gRPC failed to connect, so nothing was sent) or
        the node refused it before executing it. Otherwise the failure is raised, not retryable: its
        outcome is unknown."""
        deadline = time.monotonic() + self.timeout
        backoff = _INITIAL_BACKOFF_SECONDS
        while True:
            address = self.addresses[self._current]
            remaining = deadline - time.monotonic()
            try:
                stub = self._opened(address)[1]
                return result(method(stub)(request, timeout=max(remaining, 0.001)))
            except grpc.RpcError as error:
                failure = self._client_error(error, address, once)
            if not failure.retryable or time.monotonic() + backoff >= deadline:
                raise failure
            self._current = (self._current + 1) % len(self.addresses)
            time.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)

    def _client_error(self, error: grpc.RpcError, address: str, once: bool) -> ClientError:
        status: grpc.StatusCode = error.code()
        details: str = error.details() or status.name
        code = convert.error_from_metadata(error.trailing_metadata())
        if code is not None:
            return refusal(code, details, once=once, another_node_may_serve=self._another_node_may_serve)
        return transport_failure(status, details, address, once=once)

    def close(self) -> None:
        for channel, _ in self._stubs.values():
            channel.close()
        self._stubs.clear()


class ServiceClient(Generic[Stub]):
    """The shared shape of `Client` and `GovernanceClient`: a `Connection` to one gRPC service of the
    nodes, built from explicit PEM bytes or from a workspace, closed on leaving a `with` block."""

    # The generated stub class of the service (its constructor takes the channel).
    _stub_type: ClassVar[type[Any]]
    _another_node_may_serve: ClassVar[frozenset[ErrorCode]]

    def __init__(
        self,
        addresses: Sequence[str],
        *,
        service_cert_pem: bytes,
        cert_pem: bytes,
        key_pem: bytes,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        access = ServiceAccess(tuple(addresses), service_cert_pem, cert_pem, key_pem)
        self._connection: Connection[Stub] = Connection(
            access, self._stub_type, another_node_may_serve=self._another_node_may_serve, timeout=timeout
        )
        self.addresses = access.addresses
        self.timeout = timeout

    @classmethod
    def from_access(cls, access: ServiceAccess, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> Self:
        return cls(
            access.addresses,
            service_cert_pem=access.service_cert_pem,
            cert_pem=access.cert_pem,
            key_pem=access.key_pem,
            timeout=timeout,
        )

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
