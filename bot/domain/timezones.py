"""Time-zone names: which ones the bot accepts."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def validate_timezone(name: str) -> str:
    """Return the IANA zone name if it exists, else raise ValueError saying how to fix it."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin or America/Chicago"
        ) from None
    return name
