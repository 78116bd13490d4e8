"""Membership rules: who earns points, and which display name to keep."""

from __future__ import annotations


def display_name_to_keep(current: str, offered: str, platform_user_id: str) -> str:
    """Return the display name to store: a real name offered wins; a raw user id never does.

    Faces fall back to the user id when the platform did not tell them a name; writing that
    over a name the member already has would turn "Ada" into "U07AB12CD" on every board.
    """
    offered = offered.strip()
    if not offered or offered == platform_user_id:
        return current or offered
    return offered


def earns_points(*, is_member: bool, active: bool) -> bool:
    """Tell whether an answer earns points: only from a member who has not left."""
    return is_member and active
