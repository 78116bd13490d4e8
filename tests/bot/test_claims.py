"""The fenced claim: who may take it, epochs, renewal from now, heartbeats; on both databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.domain.claims import (
    FENCE_TRIES,
    ClaimLost,
    ClaimPolicy,
    ClaimState,
    ClaimToken,
    FenceTooSlow,
    takeover_reason,
)
from bot.heartbeat import Heartbeat
from bot.store import claims as claim_repo
from bot.store import processes as process_repo

NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
POLICY = ClaimPolicy(lease_s=60, heartbeat_interval_s=5, stale_after_beats=3)
KEY = "recap:1:2026-W49"


def state(**kw: Any) -> ClaimState:
    base: dict[str, Any] = {
        "holder": "a",
        "epoch": 1,
        "status": "held",
        "lease_until": NOW + timedelta(seconds=30),
        "holder_heartbeat_at": NOW - timedelta(seconds=2),
    }
    return ClaimState(**{**base, **kw})


# --- the rules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claim", "reason"),
    [
        (state(), None),  # a live holder inside its lease keeps it
        (state(status="finished", lease_until=None), None),
        (state(status="released"), "released"),
        (state(lease_until=NOW - timedelta(seconds=1)), "lease expired"),
        (state(holder_heartbeat_at=NOW - timedelta(seconds=16)), "holder heartbeat stale"),
        (state(holder_stopped=True), "holder stopped"),
        # a holder that never registered a heartbeat is judged by its lease alone
        (state(holder_heartbeat_at=None), None),
    ],
)
def test_who_may_take_a_claim(claim: ClaimState, reason: str | None) -> None:
    assert takeover_reason(claim, claimant="b", now=NOW, policy=POLICY) == reason


def test_a_holder_never_takes_its_own_live_claim_again() -> None:
    assert takeover_reason(state(), claimant="a", now=NOW, policy=POLICY) is None


def test_a_send_may_start_only_shortly_after_its_fence() -> None:
    # stale after 15 s, heartbeats every 5 s: a takeover needs at least 10 s after a check
    assert POLICY.send_window == timedelta(seconds=5)
    assert POLICY.fence_still_fresh(NOW, NOW + timedelta(seconds=5))
    assert not POLICY.fence_still_fresh(NOW, NOW + timedelta(seconds=5.1))


TOKEN = ClaimToken(key=KEY, claim_id=1, holder="a", epoch=2)


async def test_a_fence_checked_inside_the_window_covers_a_send_without_another_check() -> None:
    clock = FakeClock(NOW)
    checks: list[datetime] = []

    async def check(at: datetime) -> None:
        checks.append(at)

    async def fence(fenced_from: datetime | None) -> datetime:
        return await claim_repo.fence_for_send(POLICY, clock.now, fenced_from, check, token=TOKEN)

    clock.advance(5)
    assert await fence(NOW) == NOW
    assert checks == []
    clock.advance(0.1)  # now outside the window: one check, from now
    assert await fence(NOW) == clock.now()
    assert checks == [clock.now()]
    assert await fence(None) == clock.now()
    assert len(checks) == 2  # no check yet at all: one


async def test_a_fence_check_that_outlasts_the_window_is_followed_by_another() -> None:
    clock = FakeClock(NOW)
    checks: list[datetime] = []

    async def stalls_once(at: datetime) -> None:
        checks.append(at)
        if len(checks) == 1:
            clock.advance(6)  # a pause inside the check: it covers nothing after it

    fenced = await claim_repo.fence_for_send(POLICY, clock.now, None, stalls_once, token=TOKEN)
    assert checks == [NOW, NOW + timedelta(seconds=6)] and fenced == checks[-1]


async def test_fence_checks_that_always_outlast_the_window_give_up_instead_of_looping() -> None:
    clock = FakeClock(NOW)
    checks: list[datetime] = []

    async def always_slow(at: datetime) -> None:
        checks.append(at)
        clock.advance(6)

    with pytest.raises(FenceTooSlow, match="took longer than the send window") as caught:
        await claim_repo.fence_for_send(POLICY, clock.now, None, always_slow, token=TOKEN)
    assert len(checks) == FENCE_TRIES
    assert isinstance(caught.value, ClaimLost)  # every caller already stops on ClaimLost
    assert (caught.value.key, caught.value.epoch) == (KEY, 2)


async def test_a_check_that_finds_the_claim_taken_over_stops_the_send() -> None:
    async def taken(at: datetime) -> None:
        raise ClaimLost(KEY, 2)

    with pytest.raises(ClaimLost) as caught:
        await claim_repo.fence_for_send(POLICY, FakeClock(NOW).now, None, taken, token=TOKEN)
    assert not isinstance(caught.value, FenceTooSlow)


def test_rules_set_in_real_seconds_are_scaled_to_a_fast_clock() -> None:
    fast = POLICY.scaled(3600)
    assert fast.lease_s == 60 * 3600 and fast.heartbeat_interval_s == 5 * 3600
    assert fast.send_window == POLICY.send_window * 3600  # 5 real seconds, read fast
    assert fast.stale_after == POLICY.stale_after * 3600
    with pytest.raises(ValueError):
        POLICY.scaled(0)


def test_a_bot_on_a_demo_clock_scales_its_claims_and_a_real_one_does_not() -> None:
    from bot.app import StudyBot
    from bot.clock import ScaledClock, SystemClock
    from bot.settings import load_settings

    def bot(clock: Any) -> StudyBot:  # no database is touched
        return StudyBot(settings=load_settings(), engine=None, sessions=None, clock=clock)  # type: ignore[arg-type]

    real = bot(SystemClock())
    assert real.claim_policy == real.real_claim_policy
    assert bot(ScaledClock(NOW, 3600)).claim_policy == real.claim_policy.scaled(3600)


def test_a_policy_that_would_declare_a_live_process_dead_is_refused() -> None:
    with pytest.raises(ValueError, match="more than one interval"):
        ClaimPolicy(stale_after_beats=1)


# --- the store ------------------------------------------------------------------------------


async def acquire(db: Any, holder: str, now: datetime) -> Any:
    async with db.sessions.begin() as session:
        return await claim_repo.acquire_claim(
            session, key=KEY, holder=holder, now=now, policy=POLICY
        )


async def renew(db: Any, token: Any, now: datetime) -> bool:
    async with db.sessions.begin() as session:
        return await claim_repo.renew_claim(session, token=token, now=now, policy=POLICY)


async def test_the_first_claim_is_epoch_one_and_a_live_one_is_not_shared(db: Any) -> None:
    first = await acquire(db, "a", NOW)
    assert first is not None and first.epoch == 1 and first.fresh
    assert await acquire(db, "b", NOW + timedelta(seconds=59)) is None
    assert await acquire(db, "a", NOW + timedelta(seconds=1)) is None


async def test_a_renewed_lease_runs_from_now_and_a_takeover_fences_the_old_holder(
    db: Any,
) -> None:
    first = await acquire(db, "a", NOW)
    # renewed at 50 s: the lease now ends at 110 s, not at 60 s
    assert await renew(db, first, NOW + timedelta(seconds=50))
    assert await acquire(db, "b", NOW + timedelta(seconds=100)) is None
    second = await acquire(db, "b", NOW + timedelta(seconds=111))
    assert second is not None and second.epoch == 2 and not second.fresh
    assert second.taken_from == "a" and second.reason == "lease expired"
    # the old holder is refused from now on: renewing, releasing, finishing, fencing
    assert not await renew(db, first, NOW + timedelta(seconds=112))
    async with db.sessions.begin() as session:
        assert not await claim_repo.release_claim(session, token=first, now=NOW)
        assert not await claim_repo.finish_claim(session, token=first, now=NOW)
        with pytest.raises(ClaimLost):
            await claim_repo.fence(session, token=first, now=NOW, policy=POLICY)
    assert await renew(db, second, NOW + timedelta(seconds=112))


async def test_released_claims_are_taken_at_once_and_finished_ones_never(db: Any) -> None:
    first = await acquire(db, "a", NOW)
    async with db.sessions.begin() as session:
        assert await claim_repo.release_claim(session, token=first, now=NOW, error="ratelimited")
    again = await acquire(db, "a", NOW + timedelta(seconds=1))
    assert again is not None and again.epoch == 2 and again.reason == "released"
    async with db.sessions.begin() as session:
        assert await claim_repo.finish_claim(session, token=again, now=NOW)
        row = await claim_repo.get_claim(session, key=KEY)
    assert row is not None and row.status == "finished" and row.attempts == 1
    assert await acquire(db, "b", NOW + timedelta(days=1)) is None


async def test_a_claim_of_a_process_whose_heartbeat_stopped_is_taken_at_once(db: Any) -> None:
    clock = FakeClock(NOW)
    heartbeat = Heartbeat(
        db.sessions, clock, process_id="a", interval_s=POLICY.heartbeat_interval_s
    )
    await heartbeat.beat()
    first = await acquire(db, "a", NOW)
    clock.advance(seconds=10)
    await heartbeat.beat()
    assert await acquire(db, "b", clock.now() + timedelta(seconds=14)) is None
    # killed: no beat for more than 15 s, while its lease still has half a minute to run
    late = clock.now() + timedelta(seconds=16)
    taken = await acquire(db, "b", late)
    assert taken is not None and taken.epoch == 2 and taken.reason == "holder heartbeat stale"
    assert not await renew(db, first, late)


async def test_a_cleanly_stopped_process_hands_its_claims_over_at_once(db: Any) -> None:
    clock = FakeClock(NOW)
    heartbeat = Heartbeat(db.sessions, clock, process_id="a", interval_s=5)
    await heartbeat.beat()
    await acquire(db, "a", NOW)
    await heartbeat.stop()
    taken = await acquire(db, "b", NOW + timedelta(seconds=1))
    assert taken is not None and taken.reason == "holder stopped"


async def test_a_process_is_known_alive_from_its_start_to_its_last_heartbeat(db: Any) -> None:
    clock = FakeClock(NOW)
    heartbeat = Heartbeat(db.sessions, clock, process_id="a", interval_s=5)
    await heartbeat.beat()
    clock.advance(minutes=10)
    await heartbeat.beat()

    async def alive(when: datetime) -> bool:
        async with db.sessions() as session:
            return await process_repo.any_process_alive_at(
                session, when=when, stale_after=POLICY.stale_after
            )

    assert await alive(NOW + timedelta(minutes=5))
    assert await alive(NOW + timedelta(minutes=10, seconds=10))  # within the stale allowance
    assert not await alive(NOW - timedelta(seconds=1))  # before it started
    assert not await alive(NOW + timedelta(minutes=11))  # it died after its last beat


class SteppedClock(FakeClock):
    """A fake clock whose sleeps wait for the test to let one interval pass."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self.sleeping = asyncio.Event()
        self._go = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.sleeping.set()
        await self._go.wait()
        self._go.clear()
        self.advance(seconds)

    async def let_one_interval_pass(self) -> None:
        """Release the sleeper and wait until it sleeps again (its work for the tick is done)."""
        self.sleeping.clear()
        self._go.set()
        await self.sleeping.wait()


async def test_the_heartbeat_registers_beats_every_interval_and_records_its_stop(db: Any) -> None:
    clock = SteppedClock(NOW)
    heartbeat = await Heartbeat(db.sessions, clock, process_id="bot-1", interval_s=5).start()
    await clock.sleeping.wait()

    async def row() -> Any:
        async with db.sessions() as session:
            return await process_repo.get_process(session, process_id="bot-1")

    first = await row()
    assert first is not None and first.heartbeat_at == NOW and first.stopped_at is None
    await clock.let_one_interval_pass()
    await clock.let_one_interval_pass()
    assert (await row()).heartbeat_at == NOW + timedelta(seconds=10)
    await heartbeat.stop()
    stopped = await row()
    assert stopped.stopped_at == NOW + timedelta(seconds=10)
