"""The trusted-code measurement as a pure function of (path, bytes) pairs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enclave.platform.measurement import is_measured, measure_trusted_code

TREE = [
    ("consensus/raft.py", b"def step(): ...\n"),
    ("enclave/__init__.py", b""),
    ("enclave/kv/store.py", b"x = 1\n"),
]


def test_the_order_files_are_listed_in_does_not_matter() -> None:
    assert measure_trusted_code(TREE) == measure_trusted_code(reversed(TREE))


def test_one_changed_byte_changes_the_measurement() -> None:
    changed = [*TREE[:2], ("enclave/kv/store.py", b"x = 2\n")]

    assert measure_trusted_code(changed) != measure_trusted_code(TREE)


def test_a_renamed_or_added_file_changes_the_measurement() -> None:
    renamed = [*TREE[:2], ("enclave/kv/stores.py", b"x = 1\n")]
    added = [*TREE, ("enclave/kv/extra.py", b"")]

    assert len({measure_trusted_code(TREE), measure_trusted_code(renamed), measure_trusted_code(added)}) == 3


def test_moving_bytes_between_files_changes_the_measurement() -> None:
    # Length prefixes: the same concatenated bytes split differently are a different tree.
    one = [("enclave/a.py", b"ab"), ("enclave/b.py", b"c")]
    other = [("enclave/a.py", b"a"), ("enclave/b.py", b"bc")]

    assert measure_trusted_code(one) != measure_trusted_code(other)


@pytest.mark.parametrize(
    "path",
    [
        "enclave/__pycache__/store.cpython-311.py",
        "enclave/py.typed",
        "node/host.py",
        "/enclave/store.py",
        "enclave/../node/host.py",
        "enclave.py",
    ],
)
def test_only_python_sources_of_the_trusted_packages_are_measured(path: str) -> None:
    assert not is_measured(path)
    with pytest.raises(ValueError, match="not trusted code"):
        measure_trusted_code([*TREE, (path, b"")])


def test_a_path_listed_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        measure_trusted_code([*TREE, TREE[0]])


@given(st.dictionaries(st.from_regex(r"enclave/[a-z]{1,8}\.py", fullmatch=True), st.binary(max_size=40)))
def test_the_measurement_is_32_bytes_and_deterministic(tree: dict[str, bytes]) -> None:
    measurement = measure_trusted_code(tree.items())

    assert len(measurement) == 32
    assert measurement == measure_trusted_code(sorted(tree.items(), reverse=True))
