"""Whatever members vote, in whatever order: closed proposals stay closed, refusals are specific, and a
user exists exactly when the proposal that set it was accepted by a majority."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from enclave.crypto.cose import GovMessageType
from enclave.governance.errors import NotProposer, ProposalClosed
from enclave.governance.proposals import ProposalState, read_proposal_info
from enclave.governance.tables import USERS_CERTS
from tests.enclave.governance.governance_scenario import Governed, Member

USERS = [Member.create(70 + i) for i in range(3)]
operations = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 2), st.sampled_from(["accept", "reject", "withdraw"])),
    max_size=20,
)


@settings(max_examples=40, deadline=None)
@given(operations)
def test_random_ballots_and_withdrawals_keep_the_governance_invariants(
    ops: list[tuple[int, int, str]],
) -> None:
    service = Governed.create(3)
    members = service.members
    proposals = [service.propose(members[i], ("set_user", {"cert": USERS[i].cert_pem})) for i in range(3)]

    def state(index: int) -> ProposalState:
        info = read_proposal_info(service.store.begin(), proposals[index])
        assert info is not None
        return info.state

    for member_index, proposal_index, op in ops:
        member, proposal_id = members[member_index], proposals[proposal_index]
        before = state(proposal_index)
        if op == "withdraw":
            signed = member.sign(b"", GovMessageType.WITHDRAWAL, service.tick(), proposal_id)
        else:
            signed = member.sign({"vote": op}, GovMessageType.BALLOT, service.tick(), proposal_id)
        if before is not ProposalState.OPEN:
            assert isinstance(service.refuse(signed), ProposalClosed)
        elif op == "withdraw" and member_index != proposal_index:
            assert isinstance(service.refuse(signed), NotProposer)
        else:
            service.handle(signed)
        assert before is ProposalState.OPEN or state(proposal_index) is before

    for index, user in enumerate(USERS):
        info = read_proposal_info(service.store.begin(), proposals[index])
        assert info is not None
        accepts = sum(info.ballots.values())
        is_set = service.store.begin().get(USERS_CERTS, user.id.encode()) is not None
        assert is_set == (info.state is ProposalState.ACCEPTED)
        assert (info.state is ProposalState.ACCEPTED) == (accepts >= 2)
        assert info.state is not ProposalState.REJECTED or len(info.ballots) - accepts >= 2
