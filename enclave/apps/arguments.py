"""Strict reading of a procedure's arguments: the names must be exactly the expected ones, and each value
of exactly its type (msgpack `bin` is bytes, `str` is text; a bool is not an integer). Every refusal is a
`ProcedureError` that names the argument."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TypeVar

from enclave.apps.api import ErrorCode, ProcedureError

T = TypeVar("T")


def check_names(
    args: Mapping[str, object], required: Collection[str], optional: Collection[str] = ()
) -> None:
    """Refuse unknown and missing arguments before anything reads them."""
    unknown = sorted(set(args) - set(required) - set(optional))
    if unknown:
        raise ProcedureError(ErrorCode.INVALID_ARGUMENTS, f"unknown argument(s): {', '.join(unknown)}")
    missing = [name for name in required if name not in args]
    if missing:
        raise ProcedureError(ErrorCode.INVALID_ARGUMENTS, f"missing argument(s): {', '.join(missing)}")


def text(args: Mapping[str, object], name: str) -> str:
    return _exactly(args, name, str, "text", None)


def binary(args: Mapping[str, object], name: str, default: bytes | None = None) -> bytes:
    """A bytes argument; `default` when it is optional and absent."""
    return _exactly(args, name, bytes, "bytes", default)


def integer(args: Mapping[str, object], name: str, default: int | None = None) -> int:
    """An integer argument (never a bool); `default` when it is optional and absent."""
    return _exactly(args, name, int, "an integer", default)


def amount(args: Mapping[str, object], name: str, low: int, high: int) -> int:
    """An integer in [low, high]; out of range is `BadAmount`."""
    value = integer(args, name)
    if not low <= value <= high:
        raise ProcedureError(ErrorCode.BAD_AMOUNT, f"argument {name!r} must be in {low}..{high}, not {value}")
    return value


def _exactly(args: Mapping[str, object], name: str, kind: type[T], expected: str, default: T | None) -> T:
    """The argument if it is exactly of `kind` (a subclass such as bool for int is refused)."""
    if default is not None and name not in args:
        return default
    value = args[name]
    if type(value) is not kind:
        raise ProcedureError(
            ErrorCode.INVALID_ARGUMENTS, f"argument {name!r} must be {expected}, not {type(value).__name__}"
        )
    return value
