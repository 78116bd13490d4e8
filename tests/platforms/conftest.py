"""Fixtures of the face tests: the Slack face served over signed HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
import yaml

from bot.platforms.slack_app import REQUIRED_SCOPES
from tests.support.slack_harness import SlackHarness, slack_face

MANIFEST = Path(__file__).resolve().parents[2] / "slack_manifest.yaml"


@pytest_asyncio.fixture
async def slack(db: Any) -> AsyncIterator[SlackHarness]:
    """The Slack face on a migrated database, signed requests in, the mock API out.

    Afterwards, every Web API method the face called in the test must be one whose scopes
    the manifest grants: a call a new feature adds cannot ship without its scope.
    """
    async with slack_face(db) as harness:
        yield harness
    granted = set(yaml.safe_load(MANIFEST.read_text())["oauth_config"]["scopes"]["bot"])
    called = {c.method for c in harness.api.calls if c.method != "response_url"}
    unlisted = called - set(REQUIRED_SCOPES)
    assert not unlisted, f"the face called {unlisted}, whose scopes are not listed"
    lacking = {m: s for m in called for s in REQUIRED_SCOPES[m] if s not in granted}
    assert not lacking, f"slack_manifest.yaml does not grant {lacking}"
