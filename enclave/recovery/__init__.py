"""Disaster recovery's pure cryptography (DESIGN.md 4, issue 8).

`shamir` splits and combines secrets over GF(2^8); `shares` issues the ledger secret wrapping key to the
recovery members as encrypted shares and recovers the latest ledger secret from enough of them;
`secret_chain` keeps each previous ledger secret wrapped under the next, so the latest one opens them all.
Everything here is pure: randomness comes in as `RandomBytes`, bad input raises a `RecoveryError`.
"""
