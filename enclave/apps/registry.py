"""Every procedure of every app by name, and one call run end to end: find, decode the msgpack arguments,
run in the caller's transaction, encode the msgpack result (DESIGN.md section 6: application values are
msgpack). Every refusal is a `ProcedureError`; a KV `Conflict` passes through so that the runtime
re-executes the call (enclave/kv/execute.py)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import msgpack

from enclave.apps import kv, smallbank
from enclave.apps.api import Caller, ErrorCode, Procedure, ProcedureError
from enclave.kv.transaction import Transaction

# The maps apps keep their state in: no other app (`kv` included) may touch them.
APP_MAPS = smallbank.MAPS

PROCEDURES: Mapping[str, Procedure] = MappingProxyType(
    {procedure.name: procedure for procedure in (*kv.procedures(APP_MAPS), *smallbank.PROCEDURES)}
)


def find(name: str) -> Procedure:
    procedure = PROCEDURES.get(name)
    if procedure is None:
        raise ProcedureError(ErrorCode.UNKNOWN_PROCEDURE, f"no procedure {name!r}")
    return procedure


def _refuse_ext(code: int, data: bytes) -> object:
    raise ProcedureError(ErrorCode.INVALID_ARGUMENTS, f"arguments may not hold msgpack extension type {code}")


def _unique_keys(pairs: list[tuple[object, object]]) -> dict[object, object]:
    decoded = dict(pairs)
    if len(decoded) != len(pairs):
        raise ProcedureError(ErrorCode.INVALID_ARGUMENTS, "arguments repeat a map key")
    return decoded


def decode_args(raw: bytes) -> dict[str, object]:
    """The arguments: one msgpack map with text keys and nothing after it (no repeated keys, no extension
    types but msgpack's timestamp, which no procedure takes). b"" is {}."""
    if raw == b"":
        return {}
    try:
        args = msgpack.unpackb(raw, raw=False, ext_hook=_refuse_ext, object_pairs_hook=_unique_keys)
    except ProcedureError:
        raise
    except (ValueError, msgpack.UnpackException) as error:
        raise ProcedureError(
            ErrorCode.INVALID_ARGUMENTS, f"arguments are not valid msgpack ({type(error).__name__}) {error}"
        ) from None
    if not isinstance(args, dict):
        raise ProcedureError(
            ErrorCode.INVALID_ARGUMENTS, f"arguments must be a map, not {type(args).__name__}"
        )
    if not all(type(name) is str for name in args):
        raise ProcedureError(ErrorCode.INVALID_ARGUMENTS, "argument names must be text")
    return args


def encode_result(value: object) -> bytes:
    result: bytes = msgpack.packb(value)
    return result


def run(tx: Transaction, name: str, raw_args: bytes, caller: Caller) -> bytes:
    """Run procedure `name` with `raw_args` in `tx` for `caller`; its msgpack result. On ProcedureError
    the runtime must drop `tx` (a procedure checks before it writes, but the rule does not rely on it)."""
    procedure = find(name)
    return encode_result(procedure.run(tx, decode_args(raw_args), caller))
