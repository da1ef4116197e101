"""Shamir's secret sharing over GF(2^8): any threshold of shares gives the secret, fewer give nothing."""

from __future__ import annotations

import random
from itertools import combinations, product

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enclave.platform.api import RandomBytes
from enclave.recovery.errors import InvalidShare, InvalidSharingParameters
from enclave.recovery.shamir import Share, combine, split


def coefficients(*values: int) -> RandomBytes:
    """Randomness that is exactly these polynomial coefficients (one byte secrets only)."""

    def random_bytes(size: int) -> bytes:
        assert size == len(values), "split asks for one random byte per coefficient"
        return bytes(values)

    return random_bytes


@st.composite
def sharings(draw: st.DrawFn) -> tuple[bytes, list[Share], list[int]]:
    """A random secret split k-of-n (k <= n <= 10), and which k shares to combine."""
    count = draw(st.integers(1, 10))
    threshold = draw(st.integers(1, count))
    secret = draw(st.binary(min_size=1, max_size=48))
    seed = draw(st.integers(0, 2**32))
    shares = split(secret, threshold, count, random.Random(seed).randbytes)
    chosen = draw(st.permutations(range(count)))[:threshold]
    return secret, shares, chosen


@given(sharings())
def test_any_threshold_shares_of_a_random_secret_give_it_back(
    sharing: tuple[bytes, list[Share], list[int]],
) -> None:
    secret, shares, chosen = sharing
    assert [share.index for share in shares] == list(range(1, len(shares) + 1))
    assert all(len(share.value) == len(secret) for share in shares)
    assert combine([shares[i] for i in chosen]) == secret
    # more shares than needed lie on the same polynomials
    assert combine(shares) == secret


def test_every_subset_of_the_threshold_size_reconstructs() -> None:
    secret = bytes(range(32))
    for count in range(1, 11):
        for threshold in range(1, count + 1):
            shares = split(secret, threshold, count, random.Random(count * 10 + threshold).randbytes)
            for subset in combinations(shares, threshold):
                assert combine(subset) == secret


def test_one_share_below_the_threshold_leaves_every_secret_byte_equally_likely() -> None:
    # Threshold 2: over every coefficient, share 3's value is each byte exactly once, whatever the secret,
    # so that one share says nothing about the secret.
    for secret in range(256):
        values = {
            split(bytes([secret]), 2, 3, coefficients(coefficient))[2].value for coefficient in range(256)
        }
        assert len(values) == 256


def test_two_shares_below_threshold_three_are_independent_of_the_secret() -> None:
    # Over all 65536 coefficient pairs, shares 2 and 5 take every pair of values exactly once, for a
    # secret of 0x00 as for 0xff.
    for secret in (0x00, 0xFF):
        pairs = set()
        for first, second in product(range(256), repeat=2):
            shares = split(bytes([secret]), 3, 5, coefficients(first, second))
            pairs.add((shares[1].value, shares[4].value))
        assert len(pairs) == 65536


def test_shares_are_points_of_a_polynomial_over_the_aes_field() -> None:
    # Secret 0, one coefficient 0x57: share x holds 0x57 * x in GF(2^8), and FIPS-197 4.2 has
    # {57} * {83} = {c1}.
    shares = split(b"\x00", 2, 0x83, coefficients(0x57))
    assert shares[0x83 - 1] == Share(0x83, b"\xc1")
    assert shares[0] == Share(1, b"\x57")


def test_threshold_one_gives_every_member_the_secret() -> None:
    shares = split(b"secret", 1, 4, random.Random(1).randbytes)
    assert all(share.value == b"secret" for share in shares)


def test_a_share_round_trips_through_bytes_and_never_prints_its_value() -> None:
    share = split(b"\xab" * 32, 2, 3, random.Random(2).randbytes)[1]
    assert share.to_bytes()[0] == 2
    assert Share.from_bytes(share.to_bytes()) == share
    assert share.value.hex() not in repr(share)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x01", b"\x00secret"],
    ids=["empty", "index without value", "index zero"],
)
def test_malformed_share_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidShare):
        Share.from_bytes(data)


@pytest.mark.parametrize(("index", "value"), [(0, b"x"), (256, b"x"), (-1, b"x"), (1, b"")])
def test_a_share_outside_the_field_or_empty_is_refused(index: int, value: bytes) -> None:
    with pytest.raises(InvalidShare):
        Share(index, value)


def test_shares_that_cannot_belong_together_are_refused() -> None:
    shares = split(b"0123456789", 2, 3, random.Random(3).randbytes)
    with pytest.raises(InvalidShare):
        combine([])
    with pytest.raises(InvalidShare):
        combine([shares[0], Share(2, b"short")])
    with pytest.raises(InvalidShare):
        combine([shares[0], shares[0]])
    with pytest.raises(InvalidShare):
        combine([shares[0], Share(1, shares[1].value)])


@pytest.mark.parametrize(
    ("secret", "threshold", "count"),
    [(b"", 1, 1), (b"s", 0, 3), (b"s", 4, 3), (b"s", 2, 256), (b"s", 0, 0)],
    ids=["empty secret", "threshold 0", "threshold above count", "more than 255 shares", "no shares"],
)
def test_impossible_sharings_are_refused(secret: bytes, threshold: int, count: int) -> None:
    with pytest.raises(InvalidSharingParameters):
        split(secret, threshold, count, random.Random(4).randbytes)
