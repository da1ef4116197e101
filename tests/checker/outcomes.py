"""How a client's error decides a recorded operation's outcome (shared by the workloads that record
histories: tests/integration/test_linearizability.py, tests/nemesis/workload.py)."""

from __future__ import annotations

from enclave.runtime.messages import ErrorCode

# Refusals decided from the request alone, before anything executes: the same on any node, at any
# attempt of a failed-over call, so no earlier attempt can have taken effect either.
REFUSED_BEFORE_EXECUTING = frozenset(
    code.value for code in (ErrorCode.NOT_A_USER, ErrorCode.RESERVED_MAP, ErrorCode.INVALID_ARGUMENT)
)
