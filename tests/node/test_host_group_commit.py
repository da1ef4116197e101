"""Group commit (DESIGN.md section 9): the client requests of a group of inputs go to the enclave as one
batch, the Flushes of the group become one fsync, and nothing a Flush guarded is carried out before it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from enclave.runtime import messages as m
from node.host import batch_inputs, plan_group_commit

STORAGE = (m.AppendLedger, m.TruncateLedger, m.SnapshotInstalled, m.PersistRaftState)

effects = st.lists(
    st.one_of(
        st.builds(m.AppendLedger, st.integers(1, 100), st.binary(max_size=4), st.booleans()),
        st.builds(m.TruncateLedger, st.integers(0, 100)),
        st.builds(m.SnapshotInstalled, st.integers(1, 100), st.integers(2, 101), st.binary(max_size=4)),
        st.builds(m.PersistRaftState, st.integers(1, 5), st.none(), st.integers(0, 100)),
        st.just(m.Flush()),
        st.builds(m.SendToPeer, st.sampled_from(["n1", "n2"]), st.binary(max_size=4)),
        st.builds(m.CommitLedger, st.integers(1, 100)),
        st.builds(m.Log, st.sampled_from(list(m.LogLevel)), st.text(max_size=3)),
    ),
    max_size=30,
)


def test_two_inputs_flushes_become_one_fsync_and_the_acks_wait_for_it() -> None:
    # A follower's group: two AppendEntries, each appended, flushed, then acknowledged.
    first_ack, second_ack = m.SendToPeer("leader", b"ack 1"), m.SendToPeer("leader", b"ack 2")
    group: list[m.Effect] = [
        m.AppendLedger(1, b"entry 1", False),
        m.Flush(),
        first_ack,
        m.AppendLedger(2, b"entry 2", True),
        m.Flush(),
        second_ack,
    ]

    plan = plan_group_commit(group)

    assert plan.at_once == (m.AppendLedger(1, b"entry 1", False), m.AppendLedger(2, b"entry 2", True))
    assert plan.needs_fsync
    assert plan.after_fsync == (first_ack, second_ack)


def test_a_snapshot_install_after_a_flush_stays_in_order_with_the_appends_that_continue_it() -> None:
    ack, install = m.SendToPeer("leader", b"ack"), m.SnapshotInstalled(40, 43, b"snapshot file")
    group: list[m.Effect] = [
        m.AppendLedger(7, b"e", False),
        m.Flush(),
        ack,
        install,
        m.AppendLedger(41, b"f", True),
    ]
    plan = plan_group_commit(group)
    assert plan.at_once == (m.AppendLedger(7, b"e", False), install, m.AppendLedger(41, b"f", True))
    assert plan.after_fsync == (ack,)


def test_a_group_without_a_flush_needs_no_fsync() -> None:
    send = m.SendToPeer("n1", b"heartbeat")
    plan = plan_group_commit([send, m.CommitLedger(3)])
    assert (plan.at_once, plan.needs_fsync, plan.after_fsync) == ((send, m.CommitLedger(3)), False, ())


@given(effects)
def test_every_effect_is_carried_out_once_in_order_and_none_a_flush_guarded_goes_first(
    group: list[m.Effect],
) -> None:
    plan = plan_group_commit(group)
    non_flush = [effect for effect in group if not isinstance(effect, m.Flush)]

    assert plan.needs_fsync == any(isinstance(effect, m.Flush) for effect in group)
    # Nothing lost or repeated; storage writes keep their order, and so does everything else.
    carried_out = [*plan.at_once, *plan.after_fsync]
    assert sorted(map(repr, carried_out)) == sorted(map(repr, non_flush))
    for is_storage in (True, False):
        assert [e for e in carried_out if isinstance(e, STORAGE) is is_storage] == [
            e for e in non_flush if isinstance(e, STORAGE) is is_storage
        ]
    # What came after a Flush and is not a storage write waits for the fsync.
    first_flush = next((i for i, e in enumerate(group) if isinstance(e, m.Flush)), len(group))
    guarded = [e for e in group[first_flush:] if not isinstance(e, (m.Flush, *STORAGE))]
    assert list(plan.after_fsync) == guarded


def request(request_id: int) -> m.ClientRequest:
    return m.ClientRequest(request_id, b"caller", m.Put("records", b"k%d" % request_id, b"v"))


def test_the_client_requests_and_the_peer_frames_of_a_group_each_become_one_batch_in_order() -> None:
    tick, status = m.Tick(1000), m.NodeStatusQuery(9)
    ack1, ack2 = m.PeerMessage("n1", b"ack"), m.PeerMessage("n2", b"ack")
    group: list[m.HostInput] = [tick, request(1), ack1, request(2), status, ack2, request(3)]

    assert batch_inputs(group) == [
        tick,
        m.ClientRequestBatch((request(1), request(2), request(3))),
        m.PeerMessageBatch((ack1, ack2)),
        status,
    ]


def test_a_lone_request_a_lone_frame_and_an_empty_group_are_left_as_they_are() -> None:
    tick, ack = m.Tick(1000), m.PeerMessage("n1", b"ack")
    assert batch_inputs([tick, request(1), ack]) == [tick, request(1), ack]
    assert batch_inputs([tick, ack]) == [tick, ack]
    assert batch_inputs([]) == []
