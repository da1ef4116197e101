"""`network.json` (DESIGN.md section 7): written and read back as documented; a damaged one is named."""

from __future__ import annotations

import json

import pytest

from node.network import NetworkError, NetworkFile, NodeRecord

NETWORK = NetworkFile(
    service_cert="service_cert.pem",
    nodes=(
        NodeRecord(
            name="node0",
            node_id="ab" * 32,
            client_address="127.0.0.1:4100",
            pid=1234,
            config="nodes/node0/config.toml",
            ledger_dir="nodes/node0/ledger",
        ),
    ),
    members=("member0", "member1"),
    users=("user0",),
)


def test_network_json_has_the_documented_shape() -> None:
    document = json.loads(NETWORK.to_json())

    assert document == {
        "service_cert": "service_cert.pem",
        "nodes": [
            {
                "name": "node0",
                "node_id": "ab" * 32,
                "client_address": "127.0.0.1:4100",
                "pid": 1234,
                "config": "nodes/node0/config.toml",
                "ledger_dir": "nodes/node0/ledger",
            }
        ],
        "members": ["member0", "member1"],
        "users": ["user0"],
    }
    assert NetworkFile.from_json(NETWORK.to_json()) == NETWORK


@pytest.mark.parametrize(
    "damaged",
    [
        "not json",
        "{}",
        '{"service_cert": "s", "nodes": [{"name": "n"}], "members": [], "users": []}',
        '{"service_cert": "s", "nodes": [], "members": [1], "users": []}',
        NETWORK.to_json().replace('"pid": 1234', '"pid": "1234"'),
        NETWORK.to_json().replace('"pid": 1234', '"pid": true'),
    ],
)
def test_a_damaged_network_json_is_a_clear_error(damaged: str) -> None:
    with pytest.raises(NetworkError, match=r"network\.json is malformed") as raised:
        NetworkFile.from_json(damaged)
    assert raised.value.code == "bad_network_json"
