"""`Client.Stream`: many client calls in flight on one gRPC stream (proto/sealchain/v1/client.proto).

Python gRPC spends about 0.3 ms of a node's CPU on each unary call, a quarter of what a put costs a node
(docs/performance.md). A stream message costs about a third of a call, and each one here carries every
call (or answer) ready at the time, so a caller with many requests at once pays that cost once per batch
instead of once per request. Each call is still its own request to the host, as its unary RPC makes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from enclave.runtime import messages as m
from node.rpc import convert
from proto.sealchain.v1 import client_pb2

# Calls of one stream the node works on at once; beyond this it stops reading the stream, and gRPC's
# flow control makes the caller wait, so one caller cannot queue unbounded work on the node.
MAX_CALLS_IN_FLIGHT = 1024


async def serve_stream(
    ask: Callable[[m.ClientCall], Awaitable[m.CallResult]],
    requests: AsyncIterator[client_pb2.StreamRequest],
    write: Callable[[client_pb2.StreamResponse], Awaitable[None]],
) -> None:
    """Asks the host (`ask`) each call that `requests` carry, as it arrives, and `write`s the answers as
    they come, all those ready in one message. Returns once the caller has finished sending and every
    call is answered; a caller that goes away cancels what is still in flight."""
    ready: list[client_pb2.StreamedAnswer] = []
    wake = asyncio.Event()
    room = asyncio.Semaphore(MAX_CALLS_IN_FLIGHT)
    unanswered = 0
    reading = True

    def answered(answer: client_pb2.StreamedAnswer) -> None:
        nonlocal unanswered
        ready.append(answer)
        unanswered -= 1
        room.release()
        wake.set()

    async def answer(call_id: int, request: str, call: m.ClientCall) -> None:
        answered(convert.streamed_answer(call_id, request, await ask(call)))

    async def read(group: asyncio.TaskGroup) -> None:
        nonlocal unanswered, reading
        async for message in requests:
            for streamed in message.calls:
                await room.acquire()
                unanswered += 1
                parsed = convert.streamed_call(streamed)
                if isinstance(parsed, m.CallError):
                    answered(convert.streamed_answer(streamed.id, "", parsed))
                else:
                    call, request = parsed
                    group.create_task(answer(streamed.id, request, call))
        reading = False
        wake.set()

    async def send_answers() -> None:
        while reading or unanswered or ready:
            await wake.wait()
            wake.clear()
            if ready:
                batch = ready.copy()
                ready.clear()
                await write(client_pb2.StreamResponse(answers=batch))

    async with asyncio.TaskGroup() as group:
        group.create_task(read(group))
        group.create_task(send_answers())
