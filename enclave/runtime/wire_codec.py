"""A strict msgpack codec for frozen dataclass messages, driven by their type hints.

One canonical encoding per message: `[type tag, field 1, field 2, ...]`, fields in declaration order.
A field is encoded by its declared type: `bytes` as msgpack bin, `str` as str, `int`/`bool` as such
(`NewType`s as their base type), `None` as nil, an Enum as its value, a tuple as an array, a nested
message as a tagged array (so unions of messages need no extra discriminator). Decoding is strict: every
field must have exactly its declared type, tags and arities must match, nothing may trail, extension
types are refused; anything else raises the codec's error type and nothing else.

Used by the host/enclave boundary (boundary.py) and the peer protocol inside channels (peer_wire.py).
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Any, Union, get_args, get_origin, get_type_hints

import msgpack

_Decoder = Callable[[object, str], object]
_INT_MIN = -(1 << 63)
_INT_MAX = (1 << 64) - 1


class MessageCodec:
    """Encodes and decodes the dataclasses in `message_types` (tags are class names, so they must be
    unique); `error` is raised for every malformed input."""

    __slots__ = ("_by_tag", "_decoders", "_error", "_fields")

    def __init__(self, message_types: Iterable[type[Any]], error: type[Exception]) -> None:
        self._error = error
        self._by_tag: dict[str, type[Any]] = {}
        for cls in message_types:
            assert cls.__name__ not in self._by_tag, f"two message types named {cls.__name__}"
            self._by_tag[cls.__name__] = cls
        # Per field: its name, and whether its value goes to msgpack as it is (str, bytes, bool, and int
        # whose range msgpack itself checks), which spares the generic encoder on the hot path.
        self._fields: dict[type[Any], tuple[tuple[str, bool], ...]] = {
            cls: tuple(
                (field.name, _base(get_type_hints(cls)[field.name]) in (str, bytes, bool, int))
                for field in dataclasses.fields(cls)
            )
            for cls in self._by_tag.values()
        }
        self._decoders: dict[type[Any], tuple[tuple[str, _Decoder], ...]] = {
            cls: tuple(
                (field.name, self._compile(get_type_hints(cls)[field.name]))
                for field in dataclasses.fields(cls)
            )
            for cls in self._by_tag.values()
        }

    # -- encoding ---------------------------------------------------------------------------------------

    def encode(self, message: object) -> list[object]:
        """The msgpack-ready form of `message` (a tagged array)."""
        encode_value = self._encode_value
        return [
            type(message).__name__,
            *[
                getattr(message, name) if plain else encode_value(getattr(message, name))
                for name, plain in self._fields[type(message)]
            ],
        ]

    def _encode_value(self, value: object) -> object:
        if value is None or isinstance(value, (bool, str, bytes)):
            return value
        if isinstance(value, int):
            if not _INT_MIN <= value <= _INT_MAX:
                raise ValueError(f"integer {value} does not fit the msgpack encoding")
            return value
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, tuple):
            return [self._encode_value(item) for item in value]
        if type(value) in self._fields:
            return self.encode(value)
        raise TypeError(f"{type(value).__name__} has no wire encoding")

    # -- decoding ---------------------------------------------------------------------------------------

    def unpack(self, data: bytes) -> object:
        """Plain msgpack decoding, strict: no extension types, no trailing bytes."""
        try:
            return msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True, ext_hook=self._no_ext)
        except self._error:
            raise
        except Exception as exc:  # msgpack raises several unrelated types for garbage and truncation
            raise self._error(f"not msgpack: {type(exc).__name__}: {exc}") from None

    def _no_ext(self, code: int, data: bytes) -> object:
        raise self._error(f"msgpack extension type {code} is not part of the format")

    def decode(self, raw: object, allowed: tuple[type[Any], ...], where: str) -> object:
        """The message in the tagged array `raw`, which must be of one of the `allowed` types."""
        if not isinstance(raw, list) or not raw or not isinstance(raw[0], str):
            raise self._error(f"{where}: expected a tagged array")
        cls = self._by_tag.get(raw[0])
        if cls is None or cls not in allowed:
            raise self._error(f"{where}: unexpected message type {raw[0]!r}")
        fields = self._decoders[cls]
        if len(raw) != len(fields) + 1:
            raise self._error(f"{where}: {cls.__name__} has {len(fields)} fields, got {len(raw) - 1}")
        values = {name: decode(value, name) for (name, decode), value in zip(fields, raw[1:], strict=True)}
        try:
            return cls(**values)
        except ValueError as exc:  # a message's own validation (__post_init__)
            raise self._error(f"{where}: {exc}") from None

    # Decoders are compiled once per declared type (a closure per field), not interpreted per value:
    # this is on the hot path of every peer frame and boundary call.

    def _compile(self, expected: Any) -> _Decoder:
        error = self._error
        supertype = getattr(expected, "__supertype__", None)
        if supertype is not None:  # a NewType
            return self._compile(supertype)
        if get_origin(expected) is Union or isinstance(expected, types.UnionType):
            return self._compile_union(get_args(expected))
        if get_origin(expected) is tuple:
            item_type, ellipsis = get_args(expected)
            assert ellipsis is Ellipsis, f"only homogeneous tuples have a wire encoding ({expected})"
            item = self._compile(item_type)

            def decode_tuple(raw: object, where: str) -> object:
                if not isinstance(raw, list):
                    raise error(f"{where}: expected an array")
                return tuple(item(value, where) for value in raw)

            return decode_tuple
        if expected is type(None):

            def decode_none(raw: object, where: str) -> object:
                if raw is not None:
                    raise error(f"{where}: expected nil")
                return None

            return decode_none
        if expected in (bool, str, bytes, int):

            def decode_plain(raw: object, where: str) -> object:
                if type(raw) is not expected:
                    raise error(f"{where}: expected {expected.__name__}, got {type(raw).__name__}")
                return raw

            return decode_plain
        if isinstance(expected, type) and issubclass(expected, Enum):

            def decode_enum(raw: object, where: str) -> object:
                try:
                    return expected(raw)
                except ValueError:
                    raise error(f"{where}: {raw!r} is not a {expected.__name__}") from None

            return decode_enum
        assert expected in self._by_tag.values(), f"no wire encoding for {expected!r}"
        allowed = (expected,)
        return lambda raw, where: self.decode(raw, allowed, where)

    def _compile_union(self, options: tuple[Any, ...]) -> _Decoder:
        nullable = type(None) in options
        messages = tuple(option for option in options if option in self._by_tag.values())
        if messages:
            inner: _Decoder = lambda raw, where: self.decode(raw, messages, where)  # noqa: E731
        else:
            plain = [option for option in options if option is not type(None)]
            assert len(plain) == 1, f"ambiguous union {options!r}"
            inner = self._compile(plain[0])
        if not nullable:
            return inner
        return lambda raw, where: None if raw is None else inner(raw, where)


def _base(hint: Any) -> Any:
    """The type under a NewType (itself otherwise)."""
    return getattr(hint, "__supertype__", hint)


def pack(value: object) -> bytes:
    packed: bytes = msgpack.packb(value, use_bin_type=True)
    return packed
