"""The node's lifecycle (CCF: the node's startup state and its status in the service), in one table.

    Uninitialized --StartNetwork/Restart--> Trusted
    Uninitialized --JoinNetwork--> Joining --JoinPending--> Pending --accepted--> Trusted
    Trusted --its retirement committed (governance's remove_node)--> Retired

An impossible transition is our bug and raises; an input that does not fit the current state is the
host's and is refused (`WrongLifecycleState`) before anything changes.
"""

from __future__ import annotations

from enclave.runtime.errors import WrongLifecycleState
from enclave.runtime.messages import LifecycleState

_TRANSITIONS: dict[LifecycleState, frozenset[LifecycleState]] = {
    LifecycleState.UNINITIALIZED: frozenset({LifecycleState.JOINING, LifecycleState.TRUSTED}),
    LifecycleState.JOINING: frozenset({LifecycleState.PENDING, LifecycleState.TRUSTED}),
    LifecycleState.PENDING: frozenset({LifecycleState.TRUSTED}),
    LifecycleState.TRUSTED: frozenset({LifecycleState.RETIRED}),
    LifecycleState.RETIRED: frozenset(),
}


class Lifecycle:
    __slots__ = ("_state",)

    def __init__(self) -> None:
        self._state = LifecycleState.UNINITIALIZED

    @property
    def state(self) -> LifecycleState:
        return self._state

    def require(self, *allowed: LifecycleState, doing: str) -> None:
        """Refuse an input that does not fit the current state."""
        if self._state not in allowed:
            raise WrongLifecycleState(f"cannot {doing} while {self._state.value}")

    def move(self, state: LifecycleState) -> None:
        """The one place where the state changes."""
        if state not in _TRANSITIONS[self._state]:
            raise AssertionError(f"lifecycle transition {self._state.value} -> {state.value}")
        self._state = state
