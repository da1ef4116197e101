"""The ledger secret chain: from the newest ledger secret, every older one and where it applies from."""

from __future__ import annotations

import random

import pytest

from enclave.ledger.ledger_secrets import LedgerSecret, LedgerSecrets
from enclave.recovery.errors import ChainBroken, RecoveryFormatError
from enclave.recovery.secret_chain import unwrap_previous, wrap_previous

GENESIS = LedgerSecret(bytes([1]) * 32)
SECOND = LedgerSecret(bytes([2]) * 32)
THIRD = LedgerSecret(bytes([3]) * 32)


def rekeyed_twice() -> tuple[bytes, bytes]:
    """Rekeys at seqno 100 and 250: each new secret keeps the previous one, wrapped under itself."""
    randomness = random.Random(7).randbytes
    return wrap_previous(GENESIS, 1, SECOND, randomness), wrap_previous(SECOND, 100, THIRD, randomness)


def test_walking_back_from_the_newest_secret_gives_every_older_one() -> None:
    wrapped_genesis, wrapped_second = rekeyed_twice()
    # After a disaster, recovery gives back only the newest secret (from seqno 250).
    recovered = LedgerSecrets()
    second_from, second = unwrap_previous(wrapped_second, THIRD)
    genesis_from, genesis = unwrap_previous(wrapped_genesis, second)
    recovered.add(genesis_from, genesis)
    recovered.add(second_from, second)
    recovered.add(250, THIRD)
    assert [(start, secret.key) for start, secret in recovered.versions()] == [
        (1, GENESIS.key),
        (100, SECOND.key),
        (250, THIRD.key),
    ]


def test_a_tampered_link_is_refused() -> None:
    _, wrapped_second = rekeyed_twice()
    for position in range(len(wrapped_second)):
        tampered = bytearray(wrapped_second)
        tampered[position] ^= 0x01
        with pytest.raises((ChainBroken, RecoveryFormatError)):
            unwrap_previous(bytes(tampered), THIRD)


def test_moving_a_secret_to_another_seqno_is_refused() -> None:
    _, wrapped_second = rekeyed_twice()
    moved = wrapped_second[:1] + (5).to_bytes(8, "big") + wrapped_second[9:]
    with pytest.raises(ChainBroken):
        unwrap_previous(moved, THIRD)


def test_a_link_opens_only_under_the_secret_that_wrapped_it() -> None:
    wrapped_genesis, wrapped_second = rekeyed_twice()
    with pytest.raises(ChainBroken):
        unwrap_previous(wrapped_genesis, THIRD)
    with pytest.raises(ChainBroken):
        unwrap_previous(wrapped_second, SECOND)


@pytest.mark.parametrize(
    "wrapped", [b"", b"\x01" * 10, b"\x02" + bytes(68)], ids=["empty", "short", "version 2"]
)
def test_bytes_that_are_not_a_link_are_refused(wrapped: bytes) -> None:
    with pytest.raises(RecoveryFormatError):
        unwrap_previous(wrapped, THIRD)


def test_a_seqno_outside_a_u64_is_refused() -> None:
    for seqno in (-1, 1 << 64):
        with pytest.raises(RecoveryFormatError):
            wrap_previous(GENESIS, seqno, SECOND, random.Random(8).randbytes)
