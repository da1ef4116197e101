"""Provisioning: vendor roots and machine identities, pure functions of the injected time and randomness."""

from __future__ import annotations

import random

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from enclave.platform.api import PlatformName
from enclave.platform.policy import report_data_for
from enclave.platform.provisioning import create_vendor_roots, provision_machine

from .conftest import PROVISIONED_AT, World, make_world


def test_the_same_seed_gives_the_same_roots_machines_and_evidence() -> None:
    # Nothing reads global randomness: key generation, serials and (RFC 6979) signatures are all seeded.
    first, second = make_world(seed=11), make_world(seed=11)

    for name in PlatformName:
        assert first.roots[name].certificate == second.roots[name].certificate
        assert first.machine.identities[name].certificate == second.machine.identities[name].certificate
        report_data = report_data_for(first.node_key_der)
        assert first.platform(name).evidence(report_data) == second.platform(name).evidence(report_data)
    assert first.machine.sealing_secret == second.machine.sealing_secret


def test_roots_are_cas_and_machine_identities_are_not(world: World) -> None:
    for name in PlatformName:
        root = world.roots[name].certificate
        identity = world.machine.identities[name].certificate
        assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert not identity.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert identity.issuer == root.subject
        assert name in identity.subject.rfc4514_string()


def test_each_machine_gets_its_own_keys_and_sealing_secret() -> None:
    world = make_world(seed=13)

    for name in PlatformName:
        mine = world.machine.identities[name].certificate.public_bytes(Encoding.DER)
        theirs = world.other_machine.identities[name].certificate.public_bytes(Encoding.DER)
        assert mine != theirs
    assert world.machine.sealing_secret != world.other_machine.sealing_secret


@pytest.mark.parametrize("name", ["", "../up", "a/b", "-flag", "x" * 64])
def test_a_machine_name_must_be_plain(name: str) -> None:
    rng = random.Random(14)
    roots = create_vendor_roots(now=PROVISIONED_AT, random_bytes=rng.randbytes)

    with pytest.raises(ValueError, match="machine name"):
        provision_machine(name, roots, now=PROVISIONED_AT, random_bytes=rng.randbytes)


def test_certificate_times_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        create_vendor_roots(now=PROVISIONED_AT.replace(tzinfo=None), random_bytes=random.Random(15).randbytes)
