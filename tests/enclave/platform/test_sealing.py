"""Sealing: a node's secrets come back after a restart, and only to the same code on the same machine."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enclave.platform.api import PlatformName
from enclave.platform.backends import open_platform
from enclave.platform.errors import (
    MalformedSealedBlob,
    SealedBlobTampered,
    SealedForOtherCode,
    SealedOnOtherMachine,
    UnsealError,
    UnsupportedSealedBlobVersion,
)
from enclave.platform.sealing import NONCE_SIZE, SEALED_MAGIC, Sealer

from .conftest import OTHER_CODE, TRUSTED_CODE, World, make_world

CONTEXT = b"ledger secrets"
SECRET = b"the ledger secret of view 3"


def test_sealed_data_unseals_on_the_same_code_and_machine(world: World, backend: PlatformName) -> None:
    sealed = world.platform(backend).seal(SECRET, CONTEXT)

    # A restarted enclave: a new platform object for the same machine and code.
    assert world.platform(backend).unseal(sealed, CONTEXT) == SECRET
    assert SECRET not in sealed


def test_other_code_cannot_unseal(world: World, backend: PlatformName) -> None:
    sealed = world.platform(backend).seal(SECRET, CONTEXT)

    with pytest.raises(SealedForOtherCode):
        world.platform(backend, measurement=OTHER_CODE).unseal(sealed, CONTEXT)


def test_another_machine_cannot_unseal(world: World, backend: PlatformName) -> None:
    sealed = world.platform(backend).seal(SECRET, CONTEXT)

    with pytest.raises(SealedOnOtherMachine):
        world.platform(backend, world.other_machine).unseal(sealed, CONTEXT)


def test_the_other_backend_on_the_same_machine_cannot_unseal(world: World) -> None:
    sealed = world.platform(PlatformName.SGX_SIM).seal(SECRET, CONTEXT)

    with pytest.raises(SealedOnOtherMachine):
        world.platform(PlatformName.VBS_SIM).unseal(sealed, CONTEXT)


def test_a_flipped_ciphertext_byte_is_detected(world: World, backend: PlatformName) -> None:
    sealed = bytearray(world.platform(backend).seal(SECRET, CONTEXT))
    sealed[-20] ^= 0x80

    with pytest.raises(SealedBlobTampered):
        world.platform(backend).unseal(bytes(sealed), CONTEXT)


def test_a_flipped_nonce_byte_is_detected(world: World, backend: PlatformName) -> None:
    sealed = bytearray(world.platform(backend).seal(SECRET, CONTEXT))
    header_size = len(sealed) - len(SECRET) - 16
    sealed[header_size - NONCE_SIZE] ^= 0x01

    with pytest.raises(SealedBlobTampered):
        world.platform(backend).unseal(bytes(sealed), CONTEXT)


def test_another_context_cannot_unseal(world: World, backend: PlatformName) -> None:
    sealed = world.platform(backend).seal(SECRET, CONTEXT)

    with pytest.raises(SealedBlobTampered):
        world.platform(backend).unseal(sealed, b"member keys")


def test_a_blob_truncated_into_its_header_is_malformed(world: World, backend: PlatformName) -> None:
    sealed = world.platform(backend).seal(SECRET, CONTEXT)

    with pytest.raises(MalformedSealedBlob, match="truncated"):
        world.platform(backend).unseal(sealed[:40], CONTEXT)


def test_a_blob_missing_its_last_byte_fails_authentication(world: World, backend: PlatformName) -> None:
    sealed = world.platform(backend).seal(SECRET, CONTEXT)

    with pytest.raises(SealedBlobTampered):
        world.platform(backend).unseal(sealed[:-1], CONTEXT)


def test_an_unknown_blob_version_is_rejected(world: World, backend: PlatformName) -> None:
    sealed = world.platform(backend).seal(SECRET, CONTEXT)
    version_2 = SEALED_MAGIC + (2).to_bytes(2, "big") + sealed[len(SEALED_MAGIC) + 2 :]

    with pytest.raises(UnsupportedSealedBlobVersion):
        world.platform(backend).unseal(version_2, CONTEXT)


def test_the_nonce_comes_from_the_injected_randomness(world: World) -> None:
    machine = world.machine

    def seal_with_seed(seed: int) -> bytes:
        platform = open_platform(PlatformName.SGX_SIM, machine, TRUSTED_CODE, random.Random(seed).randbytes)
        return platform.seal(SECRET, CONTEXT)

    assert seal_with_seed(5) == seal_with_seed(5)
    assert seal_with_seed(5) != seal_with_seed(6)


def test_randomness_of_the_wrong_size_is_our_bug(world: World) -> None:
    sealer = Sealer(world.machine.sealing_secret, PlatformName.SGX_SIM, TRUSTED_CODE, lambda n: bytes(n - 1))

    with pytest.raises(ValueError, match="12"):
        sealer.seal(SECRET, CONTEXT)


PROPERTY_WORLD = make_world(seed=3)
SEALER = PROPERTY_WORLD.platform(PlatformName.VBS_SIM)
SEALED = SEALER.seal(SECRET, CONTEXT)


def is_refused(blob: bytes) -> bool:
    try:
        SEALER.unseal(blob, CONTEXT)
    except UnsealError:
        return True
    return False


@given(st.binary(max_size=500), st.binary(max_size=100))
def test_any_plaintext_and_context_round_trip(plaintext: bytes, context: bytes) -> None:
    assert SEALER.unseal(SEALER.seal(plaintext, context), context) == plaintext


@given(st.binary(max_size=300))
def test_garbage_is_refused(garbage: bytes) -> None:
    assert is_refused(garbage)


@given(st.data())
def test_every_truncation_is_refused(data: st.DataObject) -> None:
    assert is_refused(SEALED[: data.draw(st.integers(0, len(SEALED) - 1))])


@given(st.integers(0, len(SEALED) - 1), st.integers(1, 255))
def test_every_single_byte_change_is_refused(position: int, xor: int) -> None:
    changed = bytearray(SEALED)
    changed[position] ^= xor
    assert is_refused(bytes(changed))
