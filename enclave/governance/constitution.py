"""The constitution: how many Active members' acceptances each action needs, and resolution.

CCF's constitution is JavaScript; sealchain's is declarative JSON stored in `public:ccf.gov.constitution`
and changed only by the `set_constitution` action:

    {"default": {"type": "majority"},
     "actions": {"set_user": {"type": "k_of_n", "k": 2},
                 "remove_member": {"type": "all"},
                 "set_recovery_threshold": {"type": "fraction", "numerator": 2, "denominator": 3}}}

A proposal needs the strictest threshold of its actions. Resolution (CCF's `resolve`, run after every
ballot): Accepted once the acceptances of Active members reach the threshold, Rejected once the Active
members who have not rejected can no longer reach it, Open otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum

from enclave.crypto.ids import MemberId
from enclave.governance.tables import CONSTITUTION, KvView, read_json_object, to_json
from enclave.ledger.tables import SINGLETON_KEY


class InvalidConstitution(ValueError):
    """A constitution that does not have the shape above."""


class ThresholdKind(StrEnum):
    MAJORITY = "majority"
    ALL = "all"
    K_OF_N = "k_of_n"
    FRACTION = "fraction"


@dataclass(frozen=True, slots=True)
class Threshold:
    kind: ThresholdKind
    k: int = 0
    numerator: int = 0
    denominator: int = 1

    def required(self, active_members: int) -> int:
        """Acceptances needed out of `active_members`; at least one, so no proposal passes unvoted."""
        match self.kind:
            case ThresholdKind.MAJORITY:
                needed = active_members // 2 + 1
            case ThresholdKind.ALL:
                needed = active_members
            case ThresholdKind.K_OF_N:
                needed = self.k
            case ThresholdKind.FRACTION:
                needed = -(-active_members * self.numerator // self.denominator)
        return max(needed, 1)

    def to_json(self) -> dict[str, object]:
        match self.kind:
            case ThresholdKind.MAJORITY | ThresholdKind.ALL:
                return {"type": self.kind.value}
            case ThresholdKind.K_OF_N:
                return {"type": self.kind.value, "k": self.k}
            case ThresholdKind.FRACTION:
                return {"type": self.kind.value, "numerator": self.numerator, "denominator": self.denominator}


MAJORITY = Threshold(ThresholdKind.MAJORITY)


@dataclass(frozen=True, slots=True)
class Constitution:
    default: Threshold = MAJORITY
    actions: Mapping[str, Threshold] = field(default_factory=dict)

    def required(self, action_names: Iterable[str], active_members: int) -> int:
        """The strictest threshold among the proposal's actions."""
        return max(
            (self.actions.get(name, self.default).required(active_members) for name in action_names),
            default=self.default.required(active_members),
        )

    def to_json(self) -> dict[str, object]:
        return {
            "default": self.default.to_json(),
            "actions": {name: self.actions[name].to_json() for name in sorted(self.actions)},
        }


def _positive_int(value: object, what: str) -> int:
    if type(value) is not int or value < 1:
        raise InvalidConstitution(f"{what} must be a positive integer, not {value!r}")
    return value


def parse_threshold(value: object, where: str) -> Threshold:
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise InvalidConstitution(f"{where}: a threshold is an object with a string 'type'")
    try:
        kind = ThresholdKind(value["type"])
    except ValueError:
        raise InvalidConstitution(f"{where}: unknown threshold type {value['type']!r}") from None
    expected = {
        ThresholdKind.MAJORITY: {"type"},
        ThresholdKind.ALL: {"type"},
        ThresholdKind.K_OF_N: {"type", "k"},
        ThresholdKind.FRACTION: {"type", "numerator", "denominator"},
    }[kind]
    if set(value) != expected:
        raise InvalidConstitution(f"{where}: a {kind.value} threshold has exactly {sorted(expected)}")
    match kind:
        case ThresholdKind.MAJORITY | ThresholdKind.ALL:
            return Threshold(kind)
        case ThresholdKind.K_OF_N:
            return Threshold(kind, k=_positive_int(value["k"], f"{where}: k"))
        case ThresholdKind.FRACTION:
            numerator = _positive_int(value["numerator"], f"{where}: numerator")
            denominator = _positive_int(value["denominator"], f"{where}: denominator")
            if numerator > denominator:
                raise InvalidConstitution(f"{where}: a fraction is at most 1")
            return Threshold(kind, numerator=numerator, denominator=denominator)


def parse_constitution(value: object, known_actions: Iterable[str]) -> Constitution:
    """Validate a constitution; it may only name actions governance knows."""
    if not isinstance(value, dict) or set(value) - {"default", "actions"}:
        raise InvalidConstitution("a constitution is an object with 'default' and 'actions'")
    default = parse_threshold(value.get("default", MAJORITY.to_json()), "default")
    actions = value.get("actions", {})
    if not isinstance(actions, dict):
        raise InvalidConstitution("'actions' maps action names to thresholds")
    unknown = sorted(set(actions) - set(known_actions))
    if unknown:
        raise InvalidConstitution(f"unknown actions {unknown}")
    return Constitution(default, {name: parse_threshold(t, name) for name, t in actions.items()})


def read_constitution(tx: KvView, known_actions: Iterable[str]) -> Constitution:
    """The stored constitution; majority for everything until one is set."""
    stored = read_json_object(tx, CONSTITUTION, SINGLETON_KEY)
    return Constitution() if stored is None else parse_constitution(stored, known_actions)


def constitution_value(constitution: Constitution) -> bytes:
    return to_json(constitution.to_json())


class Resolution(Enum):
    OPEN = "Open"
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


def resolve(
    required: int, active_members: frozenset[MemberId], ballots: Mapping[MemberId, bool]
) -> Resolution:
    """CCF: counted are the ballots of members Active now (`True` = accept)."""
    accepts = sum(1 for member, vote in ballots.items() if vote and member in active_members)
    rejects = sum(1 for member, vote in ballots.items() if not vote and member in active_members)
    if accepts >= required:
        return Resolution.ACCEPTED
    if len(active_members) - rejects < required:
        return Resolution.REJECTED
    return Resolution.OPEN
