"""What Raft hands the application after some input: the persistence contract, in one type.

The application handles a `Ready` in this order, then calls `Raft.advance(ready)`:

1. send `messages` (at any time, even before persisting: a leader's AppendEntries to followers may
   go out while it writes the same entries locally, Raft dissertation 10.2.1);
2. make durable `snapshot`, then `entries` (overwriting stored entries from entries[0].index on),
   then `hard_state` (e.g. `InMemoryStorage.persist(ready)`);
3. only then send `messages_after_persist`: votes and append/heartbeat acknowledgements, which promise
   that the term, vote and entries they speak of survive a crash;
4. apply `committed_entries` to the state machine (they are durable after step 2) and serve the reads
   in `read_states` once applied up to their index.

A crash anywhere before `advance` loses whatever of this Ready was not yet made durable, and never
sends `messages_after_persist`: the node restarts from storage as if the Ready never happened.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.messages import Message
from consensus.types import Entry, HardState, Index, Snapshot


@dataclass(frozen=True, slots=True)
class ReadState:
    """A linearizable read: serve the read `context` once the state machine applied `index`."""

    index: Index
    context: bytes


@dataclass(frozen=True, slots=True)
class Ready:
    hard_state: HardState | None
    snapshot: Snapshot | None
    entries: tuple[Entry, ...]
    messages: tuple[Message, ...]
    messages_after_persist: tuple[Message, ...]
    committed_entries: tuple[Entry, ...]
    read_states: tuple[ReadState, ...]
