"""Disaster recovery on real enclaves: a service is gone, a new node starts from its ledger, the members
open it, and the recovery member's share restores the private state written under every ledger secret."""

from __future__ import annotations

import base64
import random

from enclave.crypto.cose import GovMessageType
from enclave.ledger.tables import SINGLETON_KEY
from enclave.recovery.shares import decrypt_share, issued_from_json
from enclave.runtime import messages as m
from enclave.runtime.recovery_shares import RECOVERY_SHARES
from tests.enclave.runtime.node_helpers import ask, committed, give, govern, pass_proposal, tick_for_a_while
from tests.enclave.runtime.test_recovery_shares import ENCRYPTION_PRIVATE_PEM, recovery_member_service
from tests.sim.simulation import MAP
from tests.sim.world import EPOCH_MS, SETTINGS, Disk, Host, addresses, new_enclave, provisioned


def put(host: Host, key: bytes, value: bytes) -> None:
    written = ask(host, m.Put(MAP, key, value))
    assert isinstance(written, m.WriteResult) and written.status is m.TxStatus.COMMITTED, written


def read(host: Host, key: bytes) -> bytes | None:
    answer = ask(host, m.Get(MAP, key))
    assert isinstance(answer, m.GetResult), answer
    return answer.value


def status(host: Host) -> str | None:
    give(host, m.NodeStatusQuery(77))
    return host.statuses[-1].service_status


def my_share(host: Host) -> bytes:
    """What `sealchain gov share submit` does on the member's machine."""
    assert host.enclave is not None and host.enclave.node is not None
    raw = host.enclave.node.rep.kv.begin_committed().get(RECOVERY_SHARES, SINGLETON_KEY)
    assert raw is not None
    (encrypted,) = issued_from_json(raw).encrypted_shares.values()
    return decrypt_share(encrypted, ENCRYPTION_PRIVATE_PEM).to_bytes()


def submit(host: Host, share: bytes) -> m.GovernanceResult:
    payload = {"share": base64.b64encode(share).decode()}
    return committed(govern(host, GovMessageType.RECOVERY_SHARE, payload))


def test_a_new_node_recovers_a_lost_service_from_its_ledger_and_a_members_share() -> None:
    old = recovery_member_service()
    put(old, b"first secret", b"written under the first ledger secret")
    assert pass_proposal(old, ("trigger_ledger_rekey", {})).proposal_state == "Accepted"
    tick_for_a_while(old)
    put(old, b"second secret", b"written under the second")
    tick_for_a_while(old)
    # Executed, and then the service was gone before any signature after it reached the disk (the ledger
    # is cut there): never committed, not recovered.
    give(old, m.ClientRequest(9999, provisioned().user_cert_der, m.Put(MAP, b"never signed", b"lost", False)))
    unsigned = old.answers.pop(9999)
    assert isinstance(unsigned, m.WriteResult)
    ledger = old.written.ledger[: unsigned.txid.seqno]

    # The new node's host holds a copy of the old ledger files (a recover-mode start reads them).
    new = Host(1, new_enclave(1, random.Random(21)), written=Disk(list(ledger)), durable=Disk(list(ledger)))
    effects = give(new, m.RecoverNetwork(EPOCH_MS + 10_000, addresses(1), tuple(ledger), SETTINGS))
    tick_for_a_while(new)
    assert any(isinstance(effect, m.ServiceCreated) for effect in effects)
    assert status(new) == "Recovering"
    assert new.service_cert_pem != old.service_cert_pem
    assert ask(new, m.Get(MAP, b"first secret")) == m.CallError(
        m.ErrorCode.SERVICE_NOT_OPEN, "the service is not open to users yet"
    )

    assert pass_proposal(new, ("transition_service_to_open", {})).proposal_state == "Accepted"
    assert status(new) == "WaitingForRecoveryShares"
    share = my_share(new)
    forged = share[:-1] + bytes([share[-1] ^ 1])
    failed = submit(new, forged)
    assert "failure" in failed.body_json and status(new) == "WaitingForRecoveryShares"

    opened = submit(new, share)
    tick_for_a_while(new)

    assert '"service": "Open"' in opened.body_json and status(new) == "Open"
    assert read(new, b"first secret") == b"written under the first ledger secret"
    assert read(new, b"second secret") == b"written under the second"
    assert read(new, b"never signed") is None
    put(new, b"after", b"the recovery")
    assert read(new, b"after") == b"the recovery"
