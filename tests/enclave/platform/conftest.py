"""A small simulated world: vendor roots, provisioned machines, and an attacker with roots of its own."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from enclave.crypto.keys import MIN_ENTROPY_BYTES, identity_key_from_entropy, public_key_der
from enclave.platform.api import Measurement, Platform, PlatformName
from enclave.platform.backends import open_platform
from enclave.platform.policy import TrustPolicy
from enclave.platform.provisioning import Machine, VendorRoot, create_vendor_roots, provision_machine

PROVISIONED_AT = datetime(2026, 1, 1, tzinfo=UTC)
VERIFIED_AT = PROVISIONED_AT + timedelta(days=30)
TRUSTED_CODE = Measurement(hashlib.sha256(b"the trusted code").digest())
OTHER_CODE = Measurement(hashlib.sha256(b"other code").digest())


@dataclass(frozen=True)
class World:
    rng: random.Random
    roots: dict[PlatformName, VendorRoot]
    machine: Machine
    other_machine: Machine
    attacker_machine: Machine  # provisioned by roots nobody pinned
    policy: TrustPolicy
    node_key_der: bytes  # the identity key the attested node proves it holds
    other_key_der: bytes

    def platform(
        self, name: PlatformName, machine: Machine | None = None, measurement: Measurement = TRUSTED_CODE
    ) -> Platform:
        return open_platform(name, machine or self.machine, measurement, self.rng.randbytes)


def make_world(seed: int = 1) -> World:
    rng = random.Random(seed)
    roots = create_vendor_roots(now=PROVISIONED_AT, random_bytes=rng.randbytes)
    attacker_roots = create_vendor_roots(now=PROVISIONED_AT, random_bytes=rng.randbytes)

    def provision(name: str, by: dict[PlatformName, VendorRoot]) -> Machine:
        return provision_machine(name, by, now=PROVISIONED_AT, random_bytes=rng.randbytes)

    def key_der() -> bytes:
        return public_key_der(identity_key_from_entropy(rng.randbytes(MIN_ENTROPY_BYTES)).public_key())

    return World(
        rng=rng,
        roots=roots,
        machine=provision("machine0", roots),
        other_machine=provision("machine1", roots),
        attacker_machine=provision("machine0", attacker_roots),
        policy=TrustPolicy(
            roots={name: root.certificate for name, root in roots.items()},
            allowed_measurements=frozenset({TRUSTED_CODE}),
            min_security_version=1,
        ),
        node_key_der=key_der(),
        other_key_der=key_der(),
    )


@pytest.fixture(scope="session")
def world() -> World:
    return make_world()


@pytest.fixture(params=list(PlatformName), ids=str)
def backend(request: pytest.FixtureRequest) -> PlatformName:
    name: PlatformName = request.param
    return name
