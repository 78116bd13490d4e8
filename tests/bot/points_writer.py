"""A separate process awarding the same 20 answers as its twin (for the ledger race test)."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, date, datetime


async def main(url: str, schema: str, cohort_id: int, member_id: int) -> None:
    from bot.store import points as points_store
    from bot.store.engine import make_engine, make_session_factory

    engine = make_engine(url, schema=schema)
    sessions = make_session_factory(engine)
    at = datetime(2026, 12, 1, 12, tzinfo=UTC)
    try:
        for n in range(20):
            async with sessions() as session:
                await points_store.record_award(
                    session,
                    cohort_id=cohort_id,
                    member_id=member_id,
                    reason="answer",
                    ref=f"answer:{n}",
                    points=n + 1,
                    local_day=date(2026, 12, 1),
                    at=at,
                )
                await session.commit()
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
