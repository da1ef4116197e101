"""Governance for one in-process host: its first member signs real COSE requests, given to the host as the
client API gives them (the member's certificate as the TLS caller)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from cryptography.hazmat.primitives import serialization

from enclave.crypto.cose import GovMessageType
from enclave.runtime import messages as m
from node.host import Host
from node.network import is_open, is_primary
from sealchain.governance import MemberSigner

DEADLINE_SECONDS = 20.0
T = TypeVar("T")


async def until(what: str, probe: Callable[[], Awaitable[T | None]]) -> T:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while (value := await probe()) is None:
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)
    return value


async def until_status(
    host: Host, what: str, accept: Callable[[m.NodeStatusReport], bool]
) -> m.NodeStatusReport:
    async def probe() -> m.NodeStatusReport | None:
        report = await host.node_status()
        return report if accept(report) else None

    return await until(what, probe)


class FirstMember:
    """The host's first configured member (keygen files `memberN_cert.pem` and `memberN_privk.pem`)."""

    def __init__(self, host: Host) -> None:
        cert_path = host.config.path(host.config.identities.members[0])
        key_path = cert_path.with_name(cert_path.name.replace("_cert.pem", "_privk.pem"))
        self.signer = MemberSigner.from_files(cert_path, key_path)
        self.host = host

    def sign(self, msg_type: GovMessageType, payload: object, proposal_id: str | None = None) -> bytes:
        content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.signer.sign(msg_type, content, proposal_id=proposal_id)

    async def submit(
        self, msg_type: GovMessageType, payload: object, proposal_id: str | None = None
    ) -> m.GovernanceResult:
        signed = self.sign(msg_type, payload, proposal_id)
        caller = self.signer.cert.public_bytes(serialization.Encoding.DER)
        result = await self.host.client_call(caller, m.GovSubmit(signed))
        assert isinstance(result, m.GovernanceResult) and result.status is m.TxStatus.COMMITTED, result
        return result

    async def pass_proposal(self, *actions: tuple[str, dict[str, object]]) -> m.GovernanceResult:
        proposal = {"actions": [{"name": name, "args": args} for name, args in actions]}
        proposed = await self.submit(GovMessageType.PROPOSAL, proposal)
        return await self.submit(GovMessageType.BALLOT, {"vote": "accept"}, proposed.proposal_id)


async def open_service(host: Host) -> None:
    """As `network up` does: the member acks the state digest, then opens the service by a proposal."""
    await until_status(host, "genesis to lead", is_primary)
    member = FirstMember(host)
    issued = await member.submit(GovMessageType.STATE_DIGEST, b"")
    await member.submit(GovMessageType.ACK, json.loads(issued.body_json))
    opened = await member.pass_proposal(("transition_service_to_open", {}))
    assert opened.proposal_state == "Accepted", opened
    await until_status(host, "the service to open", is_open)
