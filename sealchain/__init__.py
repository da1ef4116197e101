"""sealchain: a confidential consortium ledger. Users import `Client` from here, members
`GovernanceClient` and `MemberSigner`."""

from sealchain.client import Client, ClientError
from sealchain.governance import GovernanceClient, GovernanceError, MemberSigner

__all__ = ["Client", "ClientError", "GovernanceClient", "GovernanceError", "MemberSigner"]
