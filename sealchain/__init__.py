"""sealchain: a confidential consortium ledger. Users import `Client` from here."""

from sealchain.client import Client, ClientError

__all__ = ["Client", "ClientError"]
