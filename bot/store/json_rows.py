"""A select's rows as one JSON column, so that several lists come back in one statement.

A page that shows a member's answers, mocks and submissions would otherwise make one round
trip per list, and on a busy event loop each round trip waits its turn again. `json_rows(stmt)`
is a column holding the statement's rows as a JSON array of objects (PostgreSQL's `json_agg`,
SQLite's `json_group_array`); `parse_rows` turns that array back into rows of Python values,
typed by the statement's own columns. The construct takes part in SQLAlchemy's statement cache,
so a statement built once with it is compiled once.
"""

from __future__ import annotations

import json
from collections import namedtuple
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from bot.store.types import UTCDateTime


class JsonRows(ColumnElement[Any]):
    """A select's rows as a JSON array of objects keyed by the select's column names."""

    inherit_cache = True
    _traverse_internals = [("subquery", InternalTraversal.dp_clauseelement)]

    def __init__(self, statement: Select[Any]) -> None:
        self.subquery = statement.subquery("r")
        self.type = JSON()
        self.columns = tuple(self.subquery.c)
        keys = [c.key for c in self.columns]
        self.row_type = namedtuple("JsonRow", keys)  # type: ignore[misc]
        self.converters = tuple(_converter(c.type) for c in self.columns)

    def parse(self, value: Any) -> list[Any]:
        """Return the rows of a value read from this column, as named tuples."""
        if isinstance(value, str | bytes):
            value = json.loads(value)
        keys = self.row_type._fields
        convert = self.converters
        return [
            self.row_type(*(f(item.get(k)) for k, f in zip(keys, convert, strict=True)))
            for item in value or ()
        ]


def json_rows(statement: Select[Any]) -> JsonRows:
    """Return a column holding `statement`'s rows as one JSON array (see `JsonRows.parse`)."""
    return JsonRows(statement)


def _inner(element: JsonRows, compiler: SQLCompiler, **kw: Any) -> str:
    # The subquery is compiled as a FROM of its own: none of the outer columns clause's state
    # (result map, labels) applies inside it.
    inner_kw = {k: v for k, v in kw.items() if k in ("literal_binds", "render_postcompile")}
    return str(compiler.process(element.subquery, asfrom=True, **inner_kw))


@compiles(JsonRows, "postgresql")
def _postgresql(element: JsonRows, compiler: SQLCompiler, **kw: Any) -> str:
    rows = _inner(element, compiler, **kw)
    return f"(SELECT coalesce(json_agg(row_to_json(r)), '[]'::json) FROM {rows})"


@compiles(JsonRows)
def _sqlite(element: JsonRows, compiler: SQLCompiler, **kw: Any) -> str:
    pairs = []
    for column in element.columns:
        name = compiler.preparer.quote(column.key)
        value = f"r.{name}"
        if isinstance(column.type, JSON):  # stored as text: embedded as JSON, not a string
            value = f"json({value})"
        pairs.append(f"'{column.key}', {value}")
    return (
        f"(SELECT coalesce(json_group_array(json_object({', '.join(pairs)})), '[]') "
        f"FROM {_inner(element, compiler, **kw)})"
    )


def _identity(value: Any) -> Any:
    return value


def _utc_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _date(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(value[:10])


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _converter(kind: Any) -> Callable[[Any], Any]:
    if isinstance(kind, UTCDateTime | DateTime):
        return _utc_datetime
    if isinstance(kind, Date):
        return _date
    if isinstance(kind, JSON):
        return _json
    return _identity
