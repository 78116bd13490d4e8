"""The mock scorecard on Slack: one modal with a select per aspect, the flags, and a comment.

It rides on the face's command modal: the same callback id and private metadata naming the
command, so its submission runs `/mock scorecard` like any other modal; only the way the
answers are read differs (selects instead of text boxes).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.domain.scorecards import SCALE_LABELS

SCORECARD_PATH = "mock scorecard"
OPTION_TEXT_LIMIT = 75  # Slack's limit on an option's visible text
OPTION_VALUE_LIMIT = 150


def _option(text: str, value: str) -> dict[str, Any]:
    shown = text if len(text) <= OPTION_TEXT_LIMIT else text[: OPTION_TEXT_LIMIT - 1] + "…"
    return {"text": {"type": "plain_text", "text": shown}, "value": value[:OPTION_VALUE_LIMIT]}


def _label(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text[:2000]}


def scorecard_modal(
    form: tuple[Sequence[str], Sequence[str], Sequence[str], Sequence[str]],
    *,
    callback_id: str,
    channel_id: str,
) -> dict[str, Any]:
    """Build the scorecard modal: every aspect on the guide's scale, the flags, a comment."""
    aspects, scale, reds, greens = form
    blocks: list[dict[str, Any]] = []
    for index, aspect in enumerate(aspects):
        blocks.append(
            {
                "type": "input",
                "block_id": f"rate:{index}",
                "label": _label(aspect),
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "placeholder": _label("Rate this aspect"),
                    "options": [_option(SCALE_LABELS[level], level) for level in scale],
                },
            }
        )
    blocks.append(
        {
            "type": "input",
            "block_id": "flags",
            "optional": True,
            "label": _label("Red and green flags you saw"),
            "element": {
                "type": "multi_static_select",
                "action_id": "value",
                "option_groups": [
                    {"label": _label("Red flags"), "options": [_option(f, f) for f in reds]},
                    {"label": _label("Green flags"), "options": [_option(f, f) for f in greens]},
                ],
            },
        }
    )
    blocks.append(
        {
            "type": "input",
            "block_id": "comment",
            "optional": True,
            "label": _label("Comment for the candidate"),
            "element": {"type": "plain_text_input", "action_id": "value", "multiline": True},
        }
    )
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": _label("Mock scorecard"),
        "submit": _label("Send"),
        "close": _label("Cancel"),
        "private_metadata": json.dumps(
            {"path": SCORECARD_PATH, "args": {}, "channel_id": channel_id, "aspects": list(aspects)}
        ),
        "blocks": blocks,
    }


def scorecard_args(view: Mapping[str, Any], aspects: Sequence[str]) -> dict[str, Any]:
    """Read a submitted scorecard modal into the options of `/mock scorecard`."""
    values = (view.get("state") or {}).get("values", {})
    ratings = []
    for index, aspect in enumerate(aspects):
        chosen = ((values.get(f"rate:{index}") or {}).get("value") or {}).get("selected_option")
        if chosen:
            ratings.append(f"{aspect}={chosen['value']}")
    flags_state = (values.get("flags") or {}).get("value") or {}
    flags = [o["value"] for o in flags_state.get("selected_options") or []]
    comment = ((values.get("comment") or {}).get("value") or {}).get("value") or ""
    args: dict[str, Any] = {"ratings": "; ".join(ratings)}
    if flags:
        args["flags"] = "; ".join(flags)
    if comment:
        args["comment"] = comment
    return args
