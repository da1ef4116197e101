"""Governance (DESIGN.md 4 and 6): members' COSE-signed proposals and ballots, the constitution, actions.

Split as CCF splits it: validate (pure: `actions.parse_actions`, `proposals`), resolve (read-only:
`requests.authenticate`, `constitution.resolve`) and apply (writes: `apply`). The entry point is
`handler.handle_request`.
"""
