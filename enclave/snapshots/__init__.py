"""Snapshots (CCF): the committed KV state at a signature transaction, proven by a later evidence
transaction whose claims digest is the snapshot's SHA-256, so its receipt proves the snapshot."""
