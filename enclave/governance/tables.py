"""The governance maps (CCF's names where CCF has the map) and the encodings of their values.

Keys are ids as UTF-8 hex; values are JSON (canonical: sorted keys, no spaces), certificates raw PEM, as
in `enclave/ledger/tables.py`, whose maps (nodes, service info) and encodings this module reuses. The map
names of members, users and code ids are the same strings as `enclave/runtime/service_maps.py` uses.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Protocol

from enclave.crypto.ids import MemberId
from enclave.kv.write_set import MapWrites
from enclave.ledger.tables import SINGLETON_KEY
from enclave.platform.api import Measurement, PlatformName

MEMBERS_CERTS = "public:ccf.gov.members.certs"
MEMBERS_ENCRYPTION_KEYS = "public:ccf.gov.members.encryption_public_keys"
MEMBERS_INFO = "public:ccf.gov.members.info"
# CCF: the state digest a member is asked to sign to become Active.
MEMBERS_ACKS = "public:ccf.gov.members.acks"
USERS_CERTS = "public:ccf.gov.users.certs"
USERS_INFO = "public:ccf.gov.users.info"
PROPOSALS = "public:ccf.gov.proposals"
PROPOSALS_INFO = "public:ccf.gov.proposals_info"
CONSTITUTION = "public:ccf.gov.constitution"
SERVICE_CONFIG = "public:ccf.gov.service.config"
# sealchain's: every recent governance request (CCF keeps recent proposals only), for replay protection.
RECENT_REQUESTS = "public:ccf.gov.cose_recent_requests"
# sealchain's: ledger rekeys governance asked for; the runtime carries them out.
LEDGER_REKEY_REQUESTS = "public:ccf.gov.ledger_rekey_requests"
# sealchain's: snapshots governance asked for (CCF: `trigger_snapshot`); the primary takes them.
SNAPSHOT_REQUESTS = "public:ccf.gov.snapshot_requests"

# CCF: the SGX allow-list (`code_ids`) and the virtual one; sgx-sim and vbs-sim stand for them.
MEASUREMENT_MAPS: dict[PlatformName, str] = {
    PlatformName.SGX_SIM: "public:ccf.gov.nodes.code_ids",
    PlatformName.VBS_SIM: "public:ccf.gov.nodes.virtual.measurements",
}
CODE_ID_ALLOWED = "AllowedToJoin"


class KvView(Protocol):
    """What governance reads and writes: a `Transaction`, or the staged writes of a proposal's actions."""

    def get(self, map_name: str, key: bytes) -> bytes | None: ...

    def scan(self, map_name: str, prefix: bytes = b"") -> list[tuple[bytes, bytes]]: ...

    def put(self, map_name: str, key: bytes, value: bytes) -> None: ...

    def remove(self, map_name: str, key: bytes) -> None: ...


class MemberStatus(Enum):
    """CCF: a member is Accepted when set, Active once it acked the state digest."""

    ACCEPTED = "Accepted"
    ACTIVE = "Active"


class MalformedGovernanceRecord(AssertionError):
    """A governance map holds a value governance never writes: our bug (only the enclave writes them)."""


def to_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def json_object(raw: bytes, where: str) -> dict[str, object]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise MalformedGovernanceRecord(f"{where}: {exc}") from None
    if not isinstance(value, dict):
        raise MalformedGovernanceRecord(f"{where}: not a JSON object")
    return value


def read_json_object(tx: KvView, map_name: str, key: bytes) -> dict[str, object] | None:
    raw = tx.get(map_name, key)
    return None if raw is None else json_object(raw, f"{map_name}[{key!r}]")


# -- members --------------------------------------------------------------------------------------------


def member_info_value(status: MemberStatus, member_data: object) -> bytes:
    return to_json({"status": status.value, "member_data": member_data})


def _status_of(info: dict[str, object], where: str) -> MemberStatus:
    try:
        return MemberStatus(info.get("status"))
    except ValueError:
        raise MalformedGovernanceRecord(f"{where}: bad member status") from None


def member_status(tx: KvView, member_id: str) -> MemberStatus | None:
    info = read_json_object(tx, MEMBERS_INFO, member_id.encode())
    return None if info is None else _status_of(info, member_id)


def active_member_ids(tx: KvView) -> frozenset[MemberId]:
    """CCF: only Active members vote, and thresholds count Active members."""
    return frozenset(
        MemberId(key.decode())
        for key, raw in tx.scan(MEMBERS_INFO)
        if _status_of(json_object(raw, key.decode()), key.decode()) is MemberStatus.ACTIVE
    )


def member_cert_pem(tx: KvView, member_id: str) -> bytes | None:
    return tx.get(MEMBERS_CERTS, member_id.encode())


# -- service --------------------------------------------------------------------------------------------


def recovery_threshold(tx: KvView) -> int | None:
    config = read_json_object(tx, SERVICE_CONFIG, SINGLETON_KEY)
    value = None if config is None else config.get("recovery_threshold")
    return value if isinstance(value, int) else None


def allowed_measurements(tx: KvView, platform: PlatformName) -> frozenset[Measurement]:
    """The measurements governance allows to join on `platform` (CCF: code ids per TEE type)."""
    return frozenset(
        Measurement(bytes.fromhex(key.decode()))
        for key, raw in tx.scan(MEASUREMENT_MAPS[platform])
        if json.loads(raw) == CODE_ID_ALLOWED
    )


def measurement_key(measurement: Measurement) -> bytes:
    return measurement.hex().encode()


def measurement_writes(platform: PlatformName, measurement: Measurement) -> dict[str, MapWrites]:
    """Genesis: the first node's own measurement is allowed on its platform."""
    return {
        MEASUREMENT_MAPS[platform]: MapWrites(writes={measurement_key(measurement): to_json(CODE_ID_ALLOWED)})
    }
