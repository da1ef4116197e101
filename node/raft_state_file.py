"""Raft's durable state (term, vote, commit) in a small file, replaced atomically at each Flush.

Raft figure 2: term and vote must be on stable storage before the node answers a vote or an append
(consensus/ready.py); the enclave emits `PersistRaftState`, then `Flush` before any message that depends
on it. The file is written as a whole to a temporary name, fsynced and renamed over the old one, then the
directory is fsynced: a crash leaves the old state or the new one, never a torn mix.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from enclave.runtime.messages import RaftHardState


class RaftStateFileError(Exception):
    """The Raft state file exists but cannot be read as one: the node must not guess its term or vote."""


class RaftStateFile:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._staged: RaftHardState | None = None
        self._synced: RaftHardState | None = None

    def load(self) -> RaftHardState | None:
        """The last state synced, or None if the node never persisted one."""
        try:
            text = self._path.read_text()
        except FileNotFoundError:
            return None
        try:
            fields = json.loads(text)
            term, vote, commit = fields["term"], fields["vote"], fields["commit"]
        except (ValueError, KeyError, TypeError) as error:
            raise RaftStateFileError(f"{self._path} is not a Raft state file: {error}") from None
        if not (
            isinstance(term, int) and isinstance(commit, int) and (vote is None or isinstance(vote, str))
        ):
            raise RaftStateFileError(f"{self._path} holds a malformed Raft state")
        return RaftHardState(term, vote, commit)

    def stage(self, state: RaftHardState) -> None:
        """Remember the newest state; it reaches the disk at the next `sync`."""
        self._staged = state

    def sync(self) -> None:
        """Writes the staged state durably (the Flush barrier); nothing to do if none is staged."""
        if self._staged is None or self._staged == self._synced:
            self._staged = None
            return
        state, self._staged = self._staged, None
        text = json.dumps({"term": state.term, "vote": state.vote, "commit": state.commit})
        temporary = self._path.with_name(self._path.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(descriptor, text.encode())
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, self._path)
        directory = os.open(self._path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        self._synced = state
