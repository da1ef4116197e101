"""A request whose bytes do not decode as its message gets INVALID_ARGUMENT naming the method, like any
other bad input, instead of the UNKNOWN grpc.aio answers when a generated deserializer raises. On a
stream (`Client.Stream`) the first message that does not decode ends the stream that way."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError


class _Undecodable:
    """What the lenient deserializer hands the handler in place of a request that does not decode."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class InvalidArgumentOnDecodeError(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Wraps every unary and bidirectional-streaming method's handler (once per method) with a
    deserializer that does not raise. One server's: it knows a method by name only."""

    def __init__(self) -> None:
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_deserializer is None:
            return handler
        if handler.unary_unary is None and handler.stream_stream is None:
            return handler
        method: str = handler_call_details.method
        wrapped = self._handlers.get(method)
        if wrapped is None:
            wrapped = self._handlers[method] = _answering_decode_errors(method, handler)
        return wrapped


def _answering_decode_errors(method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    deserialize = handler.request_deserializer

    def lenient(data: bytes) -> Any:
        try:
            return deserialize(data)
        except DecodeError as error:
            return _Undecodable(str(error))

    async def refuse(request: _Undecodable, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT, f"the request to {method} does not decode: {request.reason}"
        )

    if handler.unary_unary is not None:
        unary = handler.unary_unary

        async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            if isinstance(request, _Undecodable):
                await refuse(request, context)
            return await unary(request, context)

        return grpc.unary_unary_rpc_method_handler(
            call, request_deserializer=lenient, response_serializer=handler.response_serializer
        )

    streaming = handler.stream_stream

    async def decoded(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        async for request in requests:
            if isinstance(request, _Undecodable):
                await refuse(request, context)
            yield request

    # grpc.aio takes a streaming handler in either shape: an async generator of responses, or a coroutine
    # that writes them (`context.write`).
    if inspect.isasyncgenfunction(streaming):

        async def responses(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            async for response in streaming(decoded(requests, context), context):
                yield response

        behaviour = responses
    else:

        async def written(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            return await streaming(decoded(requests, context), context)

        behaviour = written
    return grpc.stream_stream_rpc_method_handler(
        behaviour, request_deserializer=lenient, response_serializer=handler.response_serializer
    )
