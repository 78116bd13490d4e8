"""The monitoring profile scrapes the bot's real port and charts only metrics the bot exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from bot.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"


def exported_names() -> set[str]:
    names: set[str] = set()
    for family in Metrics().registry.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        for suffix in ("_total", "_bucket", "_count", "_sum"):
            names.add(family.name + suffix)
    return names


def test_prometheus_scrapes_the_port_compose_gives_the_bot() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    bot_env = compose["services"]["bot"]["environment"]
    scrape = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    targets = scrape["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == [f"bot:{bot_env['STUDYBOT_METRICS_PORT']}"]
    assert bot_env["STUDYBOT_METRICS_HOST"] == "0.0.0.0"
    for name in ("prometheus", "grafana"):
        service = compose["services"][name]
        assert service["profiles"] == ["monitoring"]
        for volume in service["volumes"]:
            assert (ROOT / volume.split(":")[0]).exists(), volume


def test_every_dashboard_panel_queries_an_exported_metric() -> None:
    dashboard = json.loads((MONITORING / "grafana" / "dashboards" / "studybot.json").read_text())
    exported = exported_names()
    seen = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            for name in re.findall(r"studybot_[a-z_]+", target["expr"]):
                assert name in exported, f"{panel['title']}: {name} is not exported"
                seen.add(name)
    assert len(seen) >= 8
