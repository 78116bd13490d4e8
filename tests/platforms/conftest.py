"""Fixtures of the face tests: the Slack face served over signed HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from tests.support.slack_harness import SlackHarness, slack_face


@pytest_asyncio.fixture
async def slack(db: Any) -> AsyncIterator[SlackHarness]:
    """The Slack face on a migrated database, signed requests in, the mock API out."""
    async with slack_face(db) as harness:
        yield harness
