"""Persistence: tables, the async engine, repository functions."""

from bot.store import models
from bot.store.engine import make_engine, make_session_factory

__all__ = ["make_engine", "make_session_factory", "models"]
