"""What the leader knows of each follower's log (etcd tracker/progress.go, tracker/inflights.go).

PROBE: the leader does not know where the follower's log matches; it sends one AppendEntries per
heartbeat interval and backs `next` off on rejections. REPLICATE: the follower is in step; the leader
streams batches optimistically, up to `max_inflight` unacknowledged AppendEntries (pipelining).
SNAPSHOT: the follower needs a snapshot; nothing else is sent until it is installed.
"""

from __future__ import annotations

from collections import deque
from enum import Enum

from consensus.types import Index


class ProgressState(Enum):
    PROBE = "probe"
    REPLICATE = "replicate"
    SNAPSHOT = "snapshot"


class Progress:
    __slots__ = (
        "inflights",
        "match",
        "max_inflight",
        "next",
        "paused",
        "pending_snapshot",
        "recent_active",
        "state",
        "stuck_heartbeats",
    )

    def __init__(self, next_index: Index, max_inflight: int) -> None:
        self.match = Index(0)
        self.next = next_index
        self.state = ProgressState.PROBE
        self.paused = False  # PROBE: an AppendEntries is out, wait for its answer or a heartbeat
        self.pending_snapshot = Index(0)
        self.recent_active = False  # CheckQuorum: heard from it in this election timeout
        self.stuck_heartbeats = 0  # heartbeats answered while a full window or a snapshot got no answer
        self.max_inflight = max_inflight
        self.inflights: deque[Index] = deque()  # last index of each unacknowledged AppendEntries

    def become_probe(self) -> None:
        if self.state is ProgressState.SNAPSHOT:
            self.next = Index(max(self.match + 1, self.pending_snapshot + 1))
        else:
            self.next = Index(self.match + 1)
        self._reset(ProgressState.PROBE)

    def become_replicate(self) -> None:
        self.next = Index(self.match + 1)
        self._reset(ProgressState.REPLICATE)

    def become_snapshot(self, snapshot_index: Index) -> None:
        self._reset(ProgressState.SNAPSHOT)
        self.pending_snapshot = snapshot_index

    def _reset(self, state: ProgressState) -> None:
        self.state = state
        self.paused = False
        self.stuck_heartbeats = 0
        self.pending_snapshot = Index(0)
        self.inflights.clear()

    def is_paused(self) -> bool:
        match self.state:
            case ProgressState.PROBE:
                return self.paused
            case ProgressState.REPLICATE:
                return len(self.inflights) >= self.max_inflight
            case ProgressState.SNAPSHOT:
                return True

    def sent_entries(self, last_index: Index, count: int) -> None:
        """Record an AppendEntries carrying `count` entries up to `last_index`."""
        if self.state is ProgressState.REPLICATE:
            if count:
                self.next = Index(last_index + 1)
                self.inflights.append(last_index)
        else:
            self.paused = True

    def maybe_update(self, index: Index) -> bool:
        """The follower holds everything up to `index`; False when that is old news."""
        updated = index > self.match
        if updated:
            self.match = index
            self.paused = False
            self.stuck_heartbeats = 0
        if index + 1 > self.next:
            self.next = Index(index + 1)
        inflights = self.inflights
        while inflights and inflights[0] <= index:
            inflights.popleft()
        return updated

    def heartbeat_answered(self, patience: int) -> None:
        """The follower is alive. If it answered `patience` heartbeats while a full window or a
        snapshot got no answer, those were lost (etcd leaves this to the transport's
        ReportUnreachable and ReportSnapshot): probe again, which resends from `match`."""
        self.recent_active = True
        self.paused = False
        stuck = self.state is ProgressState.SNAPSHOT or (
            self.state is ProgressState.REPLICATE and self.is_paused()
        )
        self.stuck_heartbeats = self.stuck_heartbeats + 1 if stuck else 0
        if self.stuck_heartbeats >= patience:
            self.become_probe()

    def maybe_decrease_to(self, rejected: Index, match_hint: Index) -> bool:
        """A rejection of the AppendEntries after `rejected`; False when it is stale (etcd: MaybeDecrTo)."""
        if self.state is ProgressState.REPLICATE:
            if rejected <= self.match:
                return False
            self.next = Index(self.match + 1)
            return True
        if self.next - 1 != rejected:
            return False
        self.next = Index(max(min(rejected, match_hint + 1), self.match + 1))
        self.paused = False
        return True
