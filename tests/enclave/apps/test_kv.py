"""The `kv` app: users' own maps, with the service's and the other apps' maps refused."""

from __future__ import annotations

import pytest

from enclave.apps import registry
from enclave.kv.store import KvStore
from tests.enclave.apps.calls import call, refused


def test_put_then_get_delete_and_get_again() -> None:
    store = KvStore()
    assert call(store, "kv.put", {"map": "kv-map", "key": b"k", "value": b"v"}) == {}
    assert call(store, "kv.get", {"map": "kv-map", "key": b"k"}) == {"value": b"v"}
    assert call(store, "kv.delete", {"map": "kv-map", "key": b"k"}) == {}
    assert call(store, "kv.get", {"map": "kv-map", "key": b"k"}) == {"value": None}


def test_deleting_an_absent_key_is_fine() -> None:
    assert call(KvStore(), "kv.delete", {"map": "kv-map", "key": b"never"}) == {}


def test_public_and_private_maps_are_separate() -> None:
    store = KvStore()
    call(store, "kv.put", {"map": "public:kv-map", "key": b"k", "value": b"public"})
    call(store, "kv.put", {"map": "kv-map", "key": b"k", "value": b"private"})
    assert call(store, "kv.get", {"map": "public:kv-map", "key": b"k"}) == {"value": b"public"}
    assert call(store, "kv.get", {"map": "kv-map", "key": b"k"}) == {"value": b"private"}


def test_scan_lists_items_in_key_order_from_start_up_to_limit() -> None:
    store = KvStore()
    for key in (b"c", b"a", b"d", b"b"):
        call(store, "kv.put", {"map": "kv-map", "key": key, "value": key.upper()})
    assert call(store, "kv.scan", {"map": "kv-map"}) == {
        "items": [[b"a", b"A"], [b"b", b"B"], [b"c", b"C"], [b"d", b"D"]]
    }
    assert call(store, "kv.scan", {"map": "kv-map", "start": b"b", "limit": 2}) == {
        "items": [[b"b", b"B"], [b"c", b"C"]]
    }
    assert call(store, "kv.scan", {"map": "empty"}) == {"items": []}


@pytest.mark.parametrize("map_name", ["ccf.gov.users.certs", "public:ccf.internal.tree", "ccf.anything"])
def test_the_services_maps_are_refused(map_name: str) -> None:
    store = KvStore()
    calls: list[tuple[str, dict[str, object]]] = [
        ("kv.put", {"map": map_name, "key": b"k", "value": b"v"}),
        ("kv.get", {"map": map_name, "key": b"k"}),
        ("kv.delete", {"map": map_name, "key": b"k"}),
        ("kv.scan", {"map": map_name}),
    ]
    for name, args in calls:
        assert refused(store, name, args).code == "ReservedMap"


def test_smallbanks_maps_are_refused_so_kv_cannot_mint_money() -> None:
    store = KvStore()
    for map_name in sorted(registry.APP_MAPS):
        error = refused(store, "kv.put", {"map": map_name, "key": b"alice", "value": b"\xcf" + b"\xff" * 8})
        assert error.code == "ReservedMap"
        assert refused(store, "kv.get", {"map": map_name, "key": b"alice"}).code == "ReservedMap"


@pytest.mark.parametrize(
    ("name", "args", "mentions"),
    [
        ("kv.put", {"map": "kv-map", "key": b"k"}, "value"),
        ("kv.put", {"map": "kv-map", "key": b"k", "value": b"v", "ttl": 3}, "ttl"),
        ("kv.put", {"map": "kv-map", "key": "k", "value": b"v"}, "key"),
        ("kv.put", {"map": "kv-map", "key": b"k", "value": "v"}, "value"),
        ("kv.put", {"map": b"kv-map", "key": b"k", "value": b"v"}, "map"),
        ("kv.put", {"map": "", "key": b"k", "value": b"v"}, "map"),
        ("kv.get", {"map": "kv-map"}, "key"),
        ("kv.get", {"key": b"k"}, "map"),
        ("kv.delete", {"map": "kv-map", "key": None}, "key"),
        ("kv.scan", {"map": "kv-map", "limit": 0}, "limit"),
        ("kv.scan", {"map": "kv-map", "limit": 10_001}, "limit"),
        ("kv.scan", {"map": "kv-map", "limit": True}, "limit"),
        ("kv.scan", {"map": "kv-map", "limit": "5"}, "limit"),
        ("kv.scan", {"map": "kv-map", "start": "a"}, "start"),
        ("kv.scan", {"map": "kv-map", "end": b"z"}, "end"),
    ],
)
def test_bad_arguments_are_refused_naming_the_argument(
    name: str, args: dict[str, object], mentions: str
) -> None:
    error = refused(KvStore(), name, args)
    assert error.code == "InvalidArguments"
    assert mentions in error.message
