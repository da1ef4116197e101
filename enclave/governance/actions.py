"""Validate (pure): a proposal's actions, CCF's `{"name": ..., "args": {...}}`, into typed actions.

CCF's action and argument names where CCF has the action (its default constitution's `actions.js`):
`set_member` (`cert`, `encryption_pub_key`, `member_data`), `remove_member` (`member_id`),
`set_member_data` (`member_id`, `member_data`), `set_user` (`cert`, `user_data`), `remove_user`
(`user_id`), `set_user_data` (`user_id`, `user_data`), `transition_node_to_trusted` (`node_id`,
`valid_from`), `remove_node` (`node_id`), `set_constitution` (`constitution`, here a JSON object),
`transition_service_to_open` (`next_service_identity`, `previous_service_identity`, both optional here),
`set_recovery_threshold` (`recovery_threshold`), `trigger_ledger_rekey`, `trigger_snapshot`. sealchain's own:
`add_measurement` / `remove_measurement` (`platform`, `measurement` hex), standing for CCF's per-TEE
`add_snp_measurement`, `add_virtual_measurement`, ... Unknown argument names are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from enclave.crypto.certs import CertificateFormatError, certificate_pem, load_certificate_pem
from enclave.crypto.ids import MemberId, NodeId, UserId, member_id_of, user_id_of
from enclave.governance.constitution import Constitution, InvalidConstitution, parse_constitution
from enclave.governance.errors import MalformedProposal
from enclave.platform.api import MEASUREMENT_SIZE, Measurement, PlatformName

# CCF: at most 255 recovery members (Shamir shares are indexed by one byte).
MAX_RECOVERY_THRESHOLD = 255
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class SetMember:
    cert: x509.Certificate
    encryption_pub_key: str | None
    member_data: object

    @property
    def member_id(self) -> MemberId:
        return member_id_of(self.cert)

    @property
    def cert_pem(self) -> str:
        return certificate_pem(self.cert)


@dataclass(frozen=True, slots=True)
class RemoveMember:
    member_id: MemberId


@dataclass(frozen=True, slots=True)
class SetMemberData:
    member_id: MemberId
    member_data: object


@dataclass(frozen=True, slots=True)
class SetUser:
    cert: x509.Certificate
    user_data: object

    @property
    def user_id(self) -> UserId:
        return user_id_of(self.cert)

    @property
    def cert_pem(self) -> str:
        return certificate_pem(self.cert)


@dataclass(frozen=True, slots=True)
class RemoveUser:
    user_id: UserId


@dataclass(frozen=True, slots=True)
class SetUserData:
    user_id: UserId
    user_data: object


@dataclass(frozen=True, slots=True)
class TransitionNodeToTrusted:
    node_id: NodeId
    valid_from: str


@dataclass(frozen=True, slots=True)
class RemoveNode:
    node_id: NodeId


@dataclass(frozen=True, slots=True)
class AddMeasurement:
    platform: PlatformName
    measurement: Measurement


@dataclass(frozen=True, slots=True)
class RemoveMeasurement:
    platform: PlatformName
    measurement: Measurement


@dataclass(frozen=True, slots=True)
class SetConstitution:
    constitution: Constitution


@dataclass(frozen=True, slots=True)
class TransitionServiceToOpen:
    pass


@dataclass(frozen=True, slots=True)
class SetRecoveryThreshold:
    recovery_threshold: int


@dataclass(frozen=True, slots=True)
class TriggerLedgerRekey:
    pass


@dataclass(frozen=True, slots=True)
class TriggerSnapshot:
    pass


Action = (
    SetMember
    | RemoveMember
    | SetMemberData
    | SetUser
    | RemoveUser
    | SetUserData
    | TransitionNodeToTrusted
    | RemoveNode
    | AddMeasurement
    | RemoveMeasurement
    | SetConstitution
    | TransitionServiceToOpen
    | SetRecoveryThreshold
    | TriggerLedgerRekey
    | TriggerSnapshot
)


class _Args:
    """One action's arguments, read strictly: each read names the argument, leftovers are refused."""

    def __init__(self, action: str, args: Mapping[str, object]) -> None:
        self._action = action
        self._args = args
        self._read: set[str] = set()

    def _error(self, name: str, expected: str) -> MalformedProposal:
        return MalformedProposal(f"{self._action}: argument {name!r} must be {expected}")

    def optional(self, name: str) -> object:
        self._read.add(name)
        return self._args.get(name)

    def string(self, name: str) -> str:
        value = self.optional(name)
        if not isinstance(value, str) or not value:
            raise self._error(name, "a non-empty string")
        return value

    def optional_string(self, name: str) -> str | None:
        value = self.optional(name)
        if value is not None and not isinstance(value, str):
            raise self._error(name, "a string")
        return value

    def entity_id(self, name: str) -> str:
        """CCF's member, user and node ids: 64 lowercase hex characters."""
        value = self.optional(name)
        if not isinstance(value, str) or len(value) != 64 or not set(value) <= _HEX:
            raise self._error(name, "an id of 64 lowercase hex characters")
        return value

    def certificate(self, name: str) -> x509.Certificate:
        try:
            return load_certificate_pem(self.string(name).encode())
        except CertificateFormatError as exc:
            raise self._error(name, f"a PEM certificate with an EC P-384 key ({exc})") from None

    def public_key_pem(self, name: str) -> str | None:
        value = self.optional_string(name)
        if value is not None:
            try:
                load_pem_public_key(value.encode())
            except (ValueError, TypeError):
                raise self._error(name, "a PEM public key") from None
        return value

    def platform(self, name: str) -> PlatformName:
        value = self.string(name)
        try:
            return PlatformName(value)
        except ValueError:
            raise self._error(name, f"one of {[p.value for p in PlatformName]}") from None

    def measurement(self, name: str) -> Measurement:
        value = self.string(name)
        if len(value) != 2 * MEASUREMENT_SIZE or not set(value) <= _HEX:
            raise self._error(name, f"{MEASUREMENT_SIZE} bytes as lowercase hex")
        return Measurement(bytes.fromhex(value))

    def time(self, name: str) -> str:
        """CCF accepts ISO 8601 or ASN.1 UTCTime/GeneralizedTime (`YYYYMMDDhhmmssZ`) strings."""
        value = self.string(name)
        for parse in (datetime.fromisoformat, lambda v: datetime.strptime(v, "%Y%m%d%H%M%SZ")):
            try:
                parse(value)
            except ValueError:
                continue
            return value
        raise self._error(name, "an ISO 8601 or YYYYMMDDhhmmssZ time")

    def threshold(self, name: str) -> int:
        value = self.optional(name)
        if type(value) is not int or not 1 <= value <= MAX_RECOVERY_THRESHOLD:
            raise self._error(name, f"an integer from 1 to {MAX_RECOVERY_THRESHOLD}")
        return value

    def finish(self) -> None:
        unknown = sorted(set(self._args) - self._read)
        if unknown:
            raise MalformedProposal(f"{self._action}: unknown arguments {unknown}")


def _parse_action(name: str, args: _Args) -> Action:
    action: Action
    match name:
        case "set_member":
            action = SetMember(
                args.certificate("cert"),
                args.public_key_pem("encryption_pub_key"),
                args.optional("member_data"),
            )
        case "remove_member":
            action = RemoveMember(MemberId(args.entity_id("member_id")))
        case "set_member_data":
            action = SetMemberData(MemberId(args.entity_id("member_id")), args.optional("member_data"))
        case "set_user":
            action = SetUser(args.certificate("cert"), args.optional("user_data"))
        case "remove_user":
            action = RemoveUser(UserId(args.entity_id("user_id")))
        case "set_user_data":
            action = SetUserData(UserId(args.entity_id("user_id")), args.optional("user_data"))
        case "transition_node_to_trusted":
            node_id = NodeId(args.entity_id("node_id"))
            # CCF: how long the node certificate it re-issues is valid; ours was endorsed at join.
            if not isinstance(args.optional("validity_period_days") or 1, int):
                raise MalformedProposal(f"{name}: argument 'validity_period_days' must be an integer")
            action = TransitionNodeToTrusted(node_id, args.time("valid_from"))
        case "remove_node":
            action = RemoveNode(NodeId(args.entity_id("node_id")))
        case "add_measurement":
            action = AddMeasurement(args.platform("platform"), args.measurement("measurement"))
        case "remove_measurement":
            action = RemoveMeasurement(args.platform("platform"), args.measurement("measurement"))
        case "set_constitution":
            try:
                constitution = parse_constitution(args.optional("constitution"), ACTION_NAMES)
            except InvalidConstitution as exc:
                raise MalformedProposal(f"set_constitution: {exc}") from None
            action = SetConstitution(constitution)
        case "transition_service_to_open":
            args.optional_string("next_service_identity")
            args.optional_string("previous_service_identity")
            action = TransitionServiceToOpen()
        case "set_recovery_threshold":
            action = SetRecoveryThreshold(args.threshold("recovery_threshold"))
        case "trigger_ledger_rekey":
            action = TriggerLedgerRekey()
        case "trigger_snapshot":
            action = TriggerSnapshot()
        case _:
            raise MalformedProposal(f"unknown action {name!r}")
    args.finish()
    return action


ACTION_NAMES = frozenset(
    {
        "set_member",
        "remove_member",
        "set_member_data",
        "set_user",
        "remove_user",
        "set_user_data",
        "transition_node_to_trusted",
        "remove_node",
        "add_measurement",
        "remove_measurement",
        "set_constitution",
        "transition_service_to_open",
        "set_recovery_threshold",
        "trigger_ledger_rekey",
        "trigger_snapshot",
    }
)

# Actions after which every other open proposal is Dropped: its ballots were cast by another set of
# voters, under another constitution, or for another allow-list of code.
INVALIDATING_ACTIONS = (SetMember, RemoveMember, SetConstitution, AddMeasurement, RemoveMeasurement)


def parse_action(entry: object) -> tuple[str, Action]:
    """One `{"name": ..., "args": {...}}` entry (args may be omitted for actions that take none)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise MalformedProposal('an action is an object {"name": ..., "args": {...}}')
    if set(entry) - {"name", "args"}:
        raise MalformedProposal(f"an action has only 'name' and 'args', not {sorted(set(entry))}")
    args = entry.get("args", {})
    if not isinstance(args, dict):
        raise MalformedProposal(f"{entry['name']}: 'args' must be an object")
    return entry["name"], _parse_action(entry["name"], _Args(entry["name"], args))
