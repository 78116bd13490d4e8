"""The content package's one error type, whose message is safe to show to a member."""

from __future__ import annotations


class ContentError(ValueError):
    """A problem with curriculum content or a lookup in it, worded for the person who asked."""
