"""The matching rule: cohort and kind, fresh partners, odd counts, rooms, releases, scenarios."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.matching import (
    MockKind,
    ReleaseReason,
    Waiting,
    match_queue,
    parse_kind,
    pick_scenario,
    queue_position,
    requeue_after_release,
)

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def w(member: int, minute: int = 0, cohort: int = 1, kind: str = "system-design", **kw) -> Waiting:
    return Waiting(member, cohort, kind, T0 + timedelta(minutes=minute), **kw)


def pairs_of(pairs) -> list[set[int]]:
    return [{p.interviewer.member_id, p.candidate.member_id} for p in pairs]


def test_oldest_waiters_pair_first_and_the_odd_one_waits() -> None:
    pairs = match_queue([w(3, 2), w(1, 0), w(2, 1)], history={})
    assert pairs_of(pairs) == [{1, 2}]
    assert queue_position([w(3, 2)], 3) == 1


def test_cohort_and_kind_are_never_mixed() -> None:
    queue = [w(1, 0), w(2, 1, cohort=2), w(3, 2, kind="behavioral"), w(4, 3)]
    assert pairs_of(match_queue(queue, history={})) == [{1, 4}]


def test_a_partner_met_in_the_last_ten_mocks_is_avoided() -> None:
    history = {1: [2], 2: [1]}
    assert pairs_of(match_queue([w(1, 0), w(2, 1), w(3, 2)], history=history)) == [{1, 3}]


def test_a_partner_met_eleven_mocks_ago_counts_as_fresh() -> None:
    history = {1: [9, 8, 7, 6, 5, 4, 30, 31, 32, 33, 2]}
    pairs = match_queue([w(1, 0), w(2, 1), w(3, 2)], history=history)
    assert pairs_of(pairs) == [{1, 2}] and not pairs[0].repeat


def test_only_repeats_left_pairs_the_one_met_longest_ago() -> None:
    history = {1: [2, 3]}
    pairs = match_queue([w(1, 0), w(2, 1), w(3, 2)], history=history)
    assert pairs_of(pairs) == [{1, 3}] and pairs[0].repeat


def test_a_member_in_a_room_is_not_paired() -> None:
    assert pairs_of(match_queue([w(1), w(2, 1), w(3, 2)], history={}, in_room=[1])) == [{2, 3}]


def test_a_member_put_back_at_the_front_goes_first() -> None:
    pairs = match_queue([w(1, 0), w(2, 1), w(3, 9, front=True)], history={})
    assert pairs_of(pairs) == [{3, 1}]
    assert queue_position([w(1, 0), w(3, 9, front=True)], 1) == 2


def test_booked_slots_match_only_the_same_slot() -> None:
    slot = T0 + timedelta(days=1)
    queue = [w(1, 0, slot=slot), w(2, 1), w(3, 2, slot=slot)]
    assert pairs_of(match_queue(queue, history={})) == [{1, 3}]


def test_the_member_who_interviewed_less_interviews() -> None:
    (pair,) = match_queue([w(1), w(2, 1)], history={}, interviewed={1: 3, 2: 0})
    assert pair.interviewer.member_id == 2


def test_leave_while_matched_puts_the_partner_at_the_front() -> None:
    assert requeue_after_release(
        reason=ReleaseReason.LEFT, leaver=1, members=[1, 2], confirmed=[1]
    ) == [2]
    assert requeue_after_release(
        reason=ReleaseReason.NO_SHOW, leaver=None, members=[1, 2], confirmed=[2]
    ) == [2]


def test_scenario_unseen_by_both_first_then_least_seen() -> None:
    assert pick_scenario(["a", "b", "c"], seen_by_a=["a"], seen_by_b=["b"]) == "c"
    assert pick_scenario(["a", "b"], seen_by_a=["a", "b"], seen_by_b=["a"]) == "b"


def test_kinds_parse_with_a_default() -> None:
    assert parse_kind(None) is MockKind.SYSTEM_DESIGN
    assert parse_kind("Behavioural") is MockKind.BEHAVIORAL
    assert parse_kind("karaoke") is None
