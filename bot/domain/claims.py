"""The rules of a fenced claim on once-only work: who holds it, until when, and who may take it.

A claim has a unique key (what the work is: ``day_post:12:97``, later ``recap:12:2026-W49``,
``mock_timer:7``), a holder (the bot process doing it), an epoch and a lease. The first
acquisition is epoch 1; every later one (after a release, an expired lease or a dead holder)
bumps the epoch, so a process whose claim was taken over is recognised by its stale epoch and
refused before it sends and when it records. The lease is renewed from *now* at every step, so
slow work keeps its claim; a holder whose process stopped beating is taken over at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# Fence checks a send may wait for before it gives up for now: each check that ends outside
# the send window (a stalled database, a paused process) is followed by another.
FENCE_TRIES = 3


class ClaimStatus(StrEnum):
    """What a claim row says about its work."""

    HELD = "held"  # someone is (or was, if its lease ran out) doing the work
    RELEASED = "released"  # given back after a transient failure: anyone may take it at once
    FINISHED = "finished"  # done (or given up for good): never taken again


class ClaimLost(Exception):
    """The claim was taken over (or finished) by another process: stop, send and record nothing."""

    def __init__(self, key: str, epoch: int) -> None:
        super().__init__(f"claim {key} (epoch {epoch}) is no longer held by this process")
        self.key = key
        self.epoch = epoch


class FenceTooSlow(ClaimLost):
    """Every fence check outlasted the send window: send nothing now.

    The claim may still be ours, but no check covers a send: the work waits until the claim
    is given back or its lease runs out, and whoever takes it then looks before it sends.
    """

    def __init__(self, key: str, epoch: int, tries: int) -> None:
        Exception.__init__(
            self,
            f"claim {key} (epoch {epoch}): {tries} fence checks in a row took longer than the "
            "send window, so nothing was sent",
        )
        self.key = key
        self.epoch = epoch


@dataclass(frozen=True)
class ClaimPolicy:
    """How long a lease lasts and when a holder's process counts as dead."""

    lease_s: float = 120.0
    heartbeat_interval_s: float = 5.0
    stale_after_beats: float = 3.0

    def __post_init__(self) -> None:
        if self.lease_s <= 0 or self.heartbeat_interval_s <= 0 or self.stale_after_beats <= 1:
            raise ValueError(
                "a claim policy needs a positive lease and heartbeat interval, and a heartbeat "
                "counts as stale only after more than one interval"
            )

    @property
    def stale_after(self) -> timedelta:
        """Return how old a heartbeat may be before its process counts as dead."""
        return timedelta(seconds=self.heartbeat_interval_s * self.stale_after_beats)

    @property
    def send_window(self) -> timedelta:
        """Return how long after a fence was checked a send may still start on its strength.

        A process paused right after a check (a stopped VM) can be taken over once its last
        heartbeat, at most one interval before the check, is `stale_after` old; half of what
        is left keeps a resumed process from sending on a check that predates a takeover.
        """
        interval = timedelta(seconds=self.heartbeat_interval_s)
        return min(self.stale_after - interval, timedelta(seconds=self.lease_s)) / 2

    def scaled(self, speed: float) -> ClaimPolicy:
        """Return these rules for a clock `speed` times fast, so they hold in real seconds.

        Leases, heartbeats and the send window guard against real processes and real round
        trips: read on a fast clock unscaled, a few milliseconds of database outlast the send
        window (5 s is 1.4 ms at 3600x), and no fence check could ever cover a send.
        """
        if speed <= 0:
            raise ValueError("a clock's speed is positive")
        return ClaimPolicy(
            lease_s=self.lease_s * speed,
            heartbeat_interval_s=self.heartbeat_interval_s * speed,
            stale_after_beats=self.stale_after_beats,
        )

    def fence_still_fresh(self, checked_from: datetime, now: datetime) -> bool:
        """Tell whether a fence whose check started at `checked_from` still covers a send now."""
        return now - checked_from <= self.send_window

    def lease_end(self, now: datetime) -> datetime:
        """Return the end of a lease taken or renewed at `now`."""
        return now + timedelta(seconds=self.lease_s)

    def heartbeat_cutoff(self, now: datetime) -> datetime:
        """Return the instant before which a heartbeat is stale."""
        return now - self.stale_after


@dataclass(frozen=True)
class ClaimToken:
    """Proof of holding a claim: every fenced write names the holder and the epoch."""

    key: str
    claim_id: int
    holder: str
    epoch: int
    taken_from: str | None = None  # the previous holder, on a takeover
    reason: str | None = None  # why it could be taken: released, lease expired, holder dead

    @property
    def fresh(self) -> bool:
        """Tell whether this is the first acquisition, so nothing of the work can exist yet."""
        return self.epoch == 1


@dataclass(frozen=True)
class ClaimState:
    """A claim as the store read it, with what is known of its holder's process."""

    holder: str
    epoch: int
    status: str
    lease_until: datetime | None
    holder_heartbeat_at: datetime | None = None  # None: the holder never registered a heartbeat
    holder_stopped: bool = False


def takeover_reason(
    state: ClaimState, *, claimant: str, now: datetime, policy: ClaimPolicy
) -> str | None:
    """Return why `claimant` may take this claim now, or None when it may not.

    A holder that never registered a heartbeat is judged by its lease alone: its liveness is
    unknown, and taking work from a live process is what doubles posts.
    """
    if state.status == ClaimStatus.FINISHED:
        return None
    if state.status == ClaimStatus.RELEASED:
        return "released"
    if state.lease_until is None or state.lease_until <= now:
        return "lease expired"
    if state.holder == claimant:
        return None  # this process is doing it right now
    if state.holder_stopped:
        return "holder stopped"
    if state.holder_heartbeat_at is not None and state.holder_heartbeat_at < (
        policy.heartbeat_cutoff(now)
    ):
        return "holder heartbeat stale"
    return None
