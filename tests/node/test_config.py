"""Node config files: what an operator writes is read back exactly, and every mistake is named."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from enclave.platform.api import PlatformName
from node.config import (
    Address,
    ConfigError,
    ConsensusSettings,
    NodeMode,
    load_config,
    parse_config,
    render_config,
    write_config,
)
from node.ledger_files import FsyncPolicy

GENESIS_CONFIG = """
name = "node0"
mode = "start"

[client]
bind = "127.0.0.1:0"
[peer]
bind = "127.0.0.1:4101"
advertised = "127.0.0.1:5101"
[operator]
bind = "127.0.0.1:0"

[paths]
ledger_dir = "ledger"
state_dir = "state"
sealed_secrets = "sealed_secrets.bin"
raft_state = "raft_state.json"
log_file = "node.log"
service_cert = "../../service_cert.pem"

[platform]
dir = "../../platform"
machine = "node0"
backend = "sgx-sim"

[identities]
members = ["../../members/member0_cert.pem"]
users = ["../../users/user0_cert.pem"]

[consensus]
tick_interval_ms = 20
fsync = "never"
"""

FILE = Path("/ws/nodes/node0/config.toml")


def parse(text: str) -> object:
    return parse_config(text, FILE)


def test_a_genesis_config_reads_as_written() -> None:
    config = parse_config(GENESIS_CONFIG, FILE)

    assert config.name == "node0"
    assert config.mode is NodeMode.START
    assert config.peer.bind == Address("127.0.0.1", 4101)
    assert config.peer.advertised == Address("127.0.0.1", 5101)
    assert config.client.advertised == config.client.bind == Address("127.0.0.1", 0)
    assert config.backend is PlatformName.SGX_SIM
    assert config.path(config.ledger_dir) == Path("/ws/nodes/node0/ledger")
    assert config.path(config.service_cert) == Path("/ws/nodes/node0/../../service_cert.pem")
    assert config.consensus == ConsensusSettings(tick_interval_ms=20, fsync=FsyncPolicy.NEVER)
    assert config.join_target is None
    assert config.path(config.snapshots_dir) == Path("/ws/nodes/node0/snapshots")  # the default


def test_snapshot_settings_read_as_written_and_round_trip() -> None:
    text = GENESIS_CONFIG.replace('state_dir = "state"', 'state_dir = "state"\nsnapshots_dir = "/snaps"')
    text = text.replace("tick_interval_ms = 20", "tick_interval_ms = 20\nsnapshot_interval_txs = 500")
    config = parse_config(text, FILE)
    assert config.snapshots_dir == Path("/snaps")
    assert config.consensus.snapshot_interval_txs == 500
    assert parse_config(render_config(config), FILE) == config


def test_the_append_window_is_optional_and_round_trips() -> None:
    assert parse_config(GENESIS_CONFIG, FILE).consensus.max_inflight_appends == 4
    text = GENESIS_CONFIG.replace("tick_interval_ms = 20", "tick_interval_ms = 20\nmax_inflight_appends = 16")
    config = parse_config(text, FILE)
    assert config.consensus.max_inflight_appends == 16
    assert parse_config(render_config(config), FILE) == config


def test_picked_ports_are_recorded_and_read_back(tmp_path: Path) -> None:
    file = tmp_path / "config.toml"
    file.write_text(GENESIS_CONFIG)
    config = load_config(file)

    bound = config.with_bound_ports(client=4100, peer=4101, operator=4102)
    write_config(file, bound)

    again = load_config(file)
    assert again == bound
    assert again.client.advertised == Address("127.0.0.1", 4100)
    assert again.peer.advertised == Address("127.0.0.1", 5101)  # an explicit advertised port is kept
    assert again.operator.bind.port == 4102


def test_rendering_round_trips_a_join_config() -> None:
    config = replace(
        parse_config(GENESIS_CONFIG, FILE), mode=NodeMode.JOIN, join_target=Address("127.0.0.1", 4101)
    )
    assert parse_config(render_config(config), FILE) == config
    upgrading = replace(config, join_service_measurements=(bytes(range(32)), b"\xff" * 32))
    assert parse_config(render_config(upgrading), FILE) == upgrading


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace('mode = "start"', 'mode = "begin"'), "mode is 'begin'; expected one of: start"),
        (lambda t: t.replace('name = "node0"\n', ""), "name is missing"),
        (lambda t: t.replace('backend = "sgx-sim"', 'backend = "tdx"'), "platform.backend is 'tdx'"),
        (
            lambda t: t.replace('bind = "127.0.0.1:4101"', 'bind = "127.0.0.1"'),
            "peer.bind: '127.0.0.1' is not",
        ),
        (lambda t: t.replace('bind = "127.0.0.1:4101"', 'bind = "h:70000"'), "port 70000 is out of range"),
        (lambda t: t.replace("tick_interval_ms = 20", "tick_interval_ms = 0"), "must be positive"),
        (
            lambda t: t.replace("tick_interval_ms = 20", "tick_interval_ms = 20\nsnapshot_interval_txs = 0"),
            "snapshot_interval_txs must be positive",
        ),
        (
            lambda t: t.replace("tick_interval_ms = 20", "tick_interval_ms = 20\nmax_inflight_appends = 0"),
            "max_inflight_appends must be positive",
        ),
        (lambda t: t.replace("tick_interval_ms = 20", "tick_interval_ms = true"), "must be an integer"),
        (lambda t: t.replace("tick_interval_ms = 20", 'tick_interval_ms = "20"'), "must be an integer"),
        (lambda t: t.replace('fsync = "never"', 'fsync = "sometimes"'), "consensus.fsync is 'sometimes'"),
        (
            lambda t: t.replace("[consensus]", "[consensus]\ntick_intervall_ms = 5"),
            "tick_intervall_ms is not a",
        ),
        (lambda t: t + "\n[extra]\n", "extra is not a known setting"),
        (
            lambda t: t.replace('members = ["../../members/member0_cert.pem"]', "members = []"),
            "at least one member",
        ),
        (lambda t: t.replace('mode = "start"', 'mode = "join"'), "join.target is missing"),
        (
            lambda t: t + '\n[join]\nservice_measurements = ["abcd"]\n',
            "join.service_measurements must list 32-byte values in hex",
        ),
        (
            lambda t: t + '\n[join]\nservice_measurements = ["' + "zz" * 32 + '"]\n',
            "join.service_measurements must list 32-byte values in hex",
        ),
        (lambda t: t.replace("[paths]", "[paths"), "not valid TOML"),
    ],
)
def test_a_bad_config_is_a_clear_error(change: object, message: str) -> None:
    assert callable(change)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as raised:
        parse_config(change(GENESIS_CONFIG), FILE)
    assert str(FILE) in str(raised.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "absent.toml")
