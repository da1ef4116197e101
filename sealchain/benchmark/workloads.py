"""What a simulated client does, and how the benchmark checks afterwards that nothing acknowledged was lost.

- `puts`: each client writes new keys (100-byte values) to a private map, each put waiting for commit;
  every acknowledged key is read back at the end and must hold its value.
- `gets`: linearizable reads of keys preloaded before the run; a wrong value is an error.
- `smallbank`: the standard SmallBank mix (H-Store / OLTP-Bench weights) over sealchain's `smallbank`
  procedures (docs/apps.md); etcd's clients run the same procedures themselves (`etcd_smallbank`). A
  refusal the procedure defines (InsufficientFunds) is a business outcome, counted apart, not an error.
  Money is conserved except by deposits, savings transactions and cheques, so the sum of every balance
  at the end must equal the opening sum plus the acknowledged changes.
"""

from __future__ import annotations

import asyncio
import enum
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from sealchain.benchmark.targets import CallFailed, Target, prefix_end

VALUE_BYTES = 100
PRELOADED_KEYS = 500
ACCOUNTS = 500
OPENING_BALANCE = 10**9
SETUP_CONCURRENCY = 32
# OLTP-Bench's SmallBank mix, in percent.
SMALLBANK_MIX = (
    ("amalgamate", 15),
    ("balance", 15),
    ("deposit_checking", 15),
    ("send_payment", 25),
    ("transact_savings", 15),
    ("write_check", 15),
)
BUSINESS_REFUSALS = ("InsufficientFunds",)

_Item = TypeVar("_Item")


class Workload(enum.StrEnum):
    PUTS = "puts"
    GETS = "gets"
    SMALLBANK = "smallbank"


@dataclass(slots=True)
class Acknowledged:
    """What one client process had acknowledged: the keys it put, SmallBank's net change of money, and
    the requests the application refused by its own rules."""

    keys: list[bytes] = field(default_factory=list)
    money_delta: int = 0
    refused: int = 0

    def absorb(self, other: Acknowledged) -> None:
        self.keys.extend(other.keys)
        self.money_delta += other.money_delta
        self.refused += other.refused


def value_for(key: bytes) -> bytes:
    """The value put at `key`: derived from the key, so reading it back checks it."""
    return (key * (VALUE_BYTES // len(key) + 1))[:VALUE_BYTES]


def key_prefix(tag: str) -> bytes:
    return f"bench/{tag}/".encode()


def account(tag: str, index: int) -> str:
    return f"{tag}-{index}"


async def operate(
    workload: Workload,
    target: Target,
    tag: str,
    *,
    client: int,
    sequence: int,
    rng: random.Random,
    acked: Acknowledged,
) -> None:
    """One request of `workload` by `client`; `CallFailed` if the system refused or failed it."""
    match workload:
        case Workload.PUTS:
            key = key_prefix(tag) + b"%d/%d" % (client, sequence)
            await target.put(client, key, value_for(key))
            acked.keys.append(key)
        case Workload.GETS:
            key = key_prefix(tag) + b"%d" % rng.randrange(PRELOADED_KEYS)
            if await target.get(client, key) != value_for(key):
                raise CallFailed("WrongValue", f"{key!r} does not hold the value put there")
        case Workload.SMALLBANK:
            await _smallbank_transaction(target, tag, client, rng, acked)


async def _smallbank_transaction(
    target: Target, tag: str, client: int, rng: random.Random, acked: Acknowledged
) -> None:
    names, weights = zip(*SMALLBANK_MIX, strict=True)
    kind = rng.choices(names, weights)[0]
    first, second = (account(tag, i) for i in rng.sample(range(ACCOUNTS), 2))
    amount = rng.randint(1, 100)
    arguments: dict[str, object] = {"name": first, "amount": amount}
    if kind == "amalgamate":
        arguments = {"from": first, "to": second}
    elif kind == "balance":
        arguments = {"name": first}
    elif kind == "send_payment":
        arguments = {"from": first, "to": second, "amount": amount}
    try:
        result = await target.call(client, f"smallbank.{kind}", arguments)
    except CallFailed as failure:
        if failure.code == "ProcedureFailed" and failure.message.startswith(BUSINESS_REFUSALS):
            acked.refused += 1
            return
        raise
    if kind in ("deposit_checking", "transact_savings"):
        acked.money_delta += amount
    elif kind == "write_check":
        assert isinstance(result, dict)
        acked.money_delta -= int(result["charged"])


async def prepare(workload: Workload, target: Target, tag: str) -> None:
    """What the workload's runs read: the preloaded keys of `gets`, SmallBank's accounts."""
    match workload:
        case Workload.PUTS:
            return
        case Workload.GETS:
            keys = (key_prefix(tag) + b"%d" % i for i in range(PRELOADED_KEYS))
            await _concurrently(lambda key: target.put(0, key, value_for(key)), keys)
        case Workload.SMALLBANK:
            names = (account(tag, i) for i in range(ACCOUNTS))
            await _concurrently(
                lambda name: target.call(
                    0,
                    "smallbank.create_account",
                    {"name": name, "checking": OPENING_BALANCE, "savings": OPENING_BALANCE},
                ),
                names,
            )


async def verify(workload: Workload, target: Target, tag: str, acked: Acknowledged) -> list[str]:
    """What went missing: every acknowledged put must be readable with its value; SmallBank's money must
    add up. Empty when everything acknowledged is there."""
    match workload:
        case Workload.PUTS:
            prefix = key_prefix(tag)
            stored = await target.read_range(prefix, prefix_end(prefix))
            lost = [key for key in acked.keys if stored.get(key) != value_for(key)]
            if lost:
                return [f"{len(lost)} of {len(acked.keys)} acknowledged puts lost, e.g. {lost[0]!r}"]
            return []
        case Workload.GETS:
            return []
        case Workload.SMALLBANK:
            totals: list[int] = []

            async def total_of(name: str) -> None:
                balance = await target.call(0, "smallbank.balance", {"name": name})
                assert isinstance(balance, dict)
                totals.append(int(balance["total"]))

            await _concurrently(total_of, (account(tag, i) for i in range(ACCOUNTS)))
            expected = ACCOUNTS * 2 * OPENING_BALANCE + acked.money_delta
            if sum(totals) != expected:
                return [f"SmallBank holds {sum(totals)} cents, the acknowledged transactions say {expected}"]
            return []


async def _concurrently(action: Callable[[_Item], Awaitable[object]], items: Iterable[_Item]) -> None:
    """Runs `action` on every item, SETUP_CONCURRENCY at a time."""
    pending = iter(items)

    async def worker() -> None:
        for item in pending:
            await action(item)

    await asyncio.gather(*(worker() for _ in range(SETUP_CONCURRENCY)))
