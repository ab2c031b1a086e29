"""The health views' SQL in each warehouse's dialect: one definition, transpiled by sqlglot.

The views are written once, in PostgreSQL's syntax (`CANONICAL`), with no construct that some
engine lacks: no `FILTER`, no aggregate percentile, no interval arithmetic. sqlglot turns that
into each dialect (types, quoting, `LIMIT`/`TOP`, `LENGTH`/`LEN`). What sqlglot cannot carry over
with the same meaning is written as one of five `syncruns_*` primitives, each given per dialect
below (sqlglot's own renderings were checked and are wrong or invalid on several engines:
`GETDATE()` is local time on SQL Server, `TIMESTAMP_SUB` is not T-SQL, PostgreSQL has no
`TIMESTAMPDIFF`, SQLite and ClickHouse have no `AT TIME ZONE`):

- `syncruns_now()`: the current instant, comparable with the stored timestamps;
- `syncruns_instant('2024-03-01 12:00:00.000000')`: a fixed UTC instant (tests, backfills);
- `syncruns_instant_of(column)`: a loaded timestamp as the engine's instant type;
- `syncruns_hours_before(instant, hours)`: exact hours, never calendar days (a day interval
  on a time-zone-aware timestamp follows the session's DST: 7 days can be 167 hours);
- `syncruns_seconds_between(start, end)`: a double, to the microsecond where the engine keeps it;
- `syncruns_utc_day(instant)`: the UTC date, whatever the session's time zone.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

CANONICAL = "postgres"


class UnsupportedDialectError(Exception):
    """A destination the views have no SQL for; the message names the ones they have."""


@dataclass(frozen=True)
class Primitives:
    """Templates in the target dialect; `{0}`, `{1}` are the arguments, already rendered."""

    now: str
    instant: str  # {0}: 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC, without quotes
    instant_type: str | None  # None: timestamps are compared as stored (SQLite's text)
    hours_before: str
    seconds_between: str
    utc_day: str
    ordered_views: bool = True  # T-SQL refuses ORDER BY in a view
    # SQLite: a view may read only the database (dataset) it is in
    cross_dataset_views: bool = True
    settings: str | None = None  # query settings the meaning needs (ClickHouse)


_POSTGRES = Primitives(
    now="CURRENT_TIMESTAMP",
    instant="CAST('{0}+00' AS TIMESTAMPTZ)",
    instant_type="TIMESTAMPTZ",
    hours_before="{0} - INTERVAL '{1} HOURS'",
    seconds_between="CAST(EXTRACT(EPOCH FROM {1} - {0}) AS DOUBLE PRECISION)",
    utc_day="CAST({0} AT TIME ZONE 'UTC' AS DATE)",
)
_TSQL = Primitives(
    now="SYSDATETIMEOFFSET()",
    instant="CAST('{0} +00:00' AS DATETIMEOFFSET)",
    instant_type="DATETIMEOFFSET",
    hours_before="DATEADD(HOUR, -{1}, {0})",
    seconds_between="CAST(DATEDIFF_BIG(MICROSECOND, {0}, {1}) AS FLOAT) / 1000000.0",
    utc_day="CAST(SWITCHOFFSET({0}, '+00:00') AS DATE)",
    ordered_views=False,
)
_TRINO = Primitives(
    now="CURRENT_TIMESTAMP",
    instant="CAST('{0} UTC' AS TIMESTAMP(6) WITH TIME ZONE)",
    instant_type="TIMESTAMP(6) WITH TIME ZONE",
    hours_before="{0} - INTERVAL '{1}' HOUR",
    seconds_between="CAST(DATE_DIFF('millisecond', {0}, {1}) AS DOUBLE) / 1000.0",
    utc_day="CAST(AT_TIMEZONE({0}, 'UTC') AS DATE)",
)

PRIMITIVES: dict[str, Primitives] = {
    "duckdb": Primitives(
        now="CURRENT_TIMESTAMP",
        instant="CAST('{0}+00' AS TIMESTAMPTZ)",
        instant_type="TIMESTAMPTZ",
        hours_before="{0} - INTERVAL '{1}' HOUR",
        seconds_between="CAST(EPOCH_US({1}) - EPOCH_US({0}) AS DOUBLE) / 1000000.0",
        utc_day="CAST({0} AT TIME ZONE 'UTC' AS DATE)",
    ),
    "postgres": _POSTGRES,
    "redshift": Primitives(
        now="GETDATE()",  # UTC in the session's default time zone
        instant="CAST('{0}+00' AS TIMESTAMPTZ)",
        instant_type="TIMESTAMPTZ",
        hours_before="DATEADD(HOUR, -{1}, {0})",
        seconds_between="CAST(DATEDIFF(MICROSECOND, {0}, {1}) AS DOUBLE PRECISION) / 1000000.0",
        utc_day="CAST({0} AT TIME ZONE 'UTC' AS DATE)",
    ),
    "snowflake": Primitives(
        now="CURRENT_TIMESTAMP()",
        instant="CAST('{0} +00:00' AS TIMESTAMPTZ)",
        instant_type="TIMESTAMPTZ",
        hours_before="DATEADD(HOUR, -{1}, {0})",
        seconds_between="CAST(DATEDIFF(MICROSECOND, {0}, {1}) AS DOUBLE) / 1000000.0",
        utc_day="CAST(CONVERT_TIMEZONE('UTC', {0}) AS DATE)",
    ),
    "bigquery": Primitives(
        now="CURRENT_TIMESTAMP()",
        instant="CAST('{0}+00:00' AS TIMESTAMP)",
        instant_type="TIMESTAMP",
        # in microseconds: sqlglot writes an interval as INTERVAL '720' HOUR, which BigQuery's
        # grammar (INTERVAL int64 part) does not promise to take
        hours_before="TIMESTAMP_MICROS(UNIX_MICROS({0}) - {1} * 3600000000)",
        seconds_between="CAST(TIMESTAMP_DIFF({1}, {0}, MICROSECOND) AS FLOAT64) / 1000000.0",
        utc_day="DATE({0}, 'UTC')",
    ),
    "databricks": Primitives(
        now="CURRENT_TIMESTAMP()",
        instant="CAST('{0}+00:00' AS TIMESTAMP)",
        instant_type="TIMESTAMP",
        hours_before="TIMESTAMP_MICROS(UNIX_MICROS({0}) - {1} * 3600000000)",
        seconds_between="CAST(UNIX_MICROS({1}) - UNIX_MICROS({0}) AS DOUBLE) / 1000000.0",
        # the UTC wall clock of the instant, read as a date in the session's time zone
        utc_day="CAST(TO_UTC_TIMESTAMP({0}, CURRENT_TIMEZONE()) AS DATE)",
    ),
    "tsql": _TSQL,
    "fabric": Primitives(  # no DATETIMEOFFSET: dlt loads DATETIME2 holding the UTC wall clock
        now="SYSUTCDATETIME()",
        instant="CAST('{0}' AS DATETIME2(6))",
        instant_type=None,
        hours_before="DATEADD(HOUR, -{1}, {0})",
        seconds_between="CAST(DATEDIFF_BIG(MICROSECOND, {0}, {1}) AS FLOAT) / 1000000.0",
        utc_day="CAST({0} AS DATE)",
        ordered_views=False,
    ),
    "clickhouse": Primitives(
        now="now64(6)",
        instant="toDateTime64('{0}', 6, 'UTC')",
        instant_type=None,
        hours_before="{0} - toIntervalHour({1})",
        seconds_between=(
            "CAST(toUnixTimestamp64Micro({1}) - toUnixTimestamp64Micro({0}) AS Float64) / 1000000.0"
        ),
        utc_day="toDate({0}, 'UTC')",
        # an unmatched LEFT JOIN gives NULL, not the type's default (0, ''), as elsewhere
        settings="join_use_nulls = 1",
    ),
    "athena": _TRINO,
    "trino": _TRINO,
    "mysql": Primitives(  # MySQL and MariaDB: DATETIME(6) holds the UTC wall clock
        now="UTC_TIMESTAMP(6)",
        instant="CAST('{0}' AS DATETIME(6))",
        instant_type=None,
        hours_before="{0} - INTERVAL {1} HOUR",
        seconds_between="TIMESTAMPDIFF(MICROSECOND, {0}, {1}) / 1000000.0",
        utc_day="CAST({0} AS DATE)",
    ),
    "sqlite": Primitives(  # text 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC: compared as text
        now="STRFTIME('%Y-%m-%d %H:%M:%f000', 'now')",
        instant="'{0}'",
        instant_type=None,
        hours_before="STRFTIME('%Y-%m-%d %H:%M:%f000', {0}, '-{1} hours')",
        # whole seconds from the text up to the fraction (STRFTIME('%s') rounds to the ms)
        seconds_between=(
            "CAST(STRFTIME('%s', SUBSTRING({1}, 1, 19)) AS INTEGER)"
            " - CAST(STRFTIME('%s', SUBSTRING({0}, 1, 19)) AS INTEGER)"
            " + (CAST(SUBSTRING({1}, 21, 6) AS INTEGER)"
            " - CAST(SUBSTRING({0}, 21, 6) AS INTEGER)) / 1000000.0"
        ),
        utc_day="DATE({0})",
        cross_dataset_views=False,
    ),
}
DIALECTS = tuple(PRIMITIVES)
_ARITY = {
    "syncruns_now": 0,
    "syncruns_instant": 1,
    "syncruns_instant_of": 1,
    "syncruns_hours_before": 2,
    "syncruns_seconds_between": 2,
    "syncruns_utc_day": 1,
}


def destination_dialect(destination: Any, capabilities: Any = None) -> str:
    """The sqlglot dialect of a dlt destination (factory) the views have SQL for.

    `capabilities` are the configured destination's (the sqlalchemy destination knows its
    engine, hence its dialect, only once configured); default: the factory's own.
    Raises UnsupportedDialectError for destinations without SQL or without the views' SQL.
    """
    if destination is None:
        raise UnsupportedDialectError("the pipeline has no destination")
    if destination.destination_type == "dlt.destinations.filesystem":
        raise UnsupportedDialectError(
            "the filesystem destination has no SQL engine to hold the views"
        )
    dialect = (capabilities or destination.capabilities()).sqlglot_dialect
    if dialect not in PRIMITIVES:
        raise UnsupportedDialectError(
            f"no health-view SQL for {destination.destination_name} "
            f"(dialect {dialect or 'unknown'}); they exist for {', '.join(DIALECTS)}"
        )
    return str(dialect)


def transpile(canonical_sql: str, dialect: str, is_view: bool = True) -> str:
    """The canonical SELECT rendered in `dialect`, primitives included."""
    primitives = PRIMITIVES[dialect]
    tree = sqlglot.parse_one(canonical_sql, read=CANONICAL)
    # children before parents: a primitive's arguments are rendered before it is
    for node in reversed(list(tree.find_all(exp.Anonymous))):
        name = str(node.name).lower()
        if name in _ARITY:
            node.replace(_primitive(name, node.expressions, primitives, dialect))
    if is_view and not primitives.ordered_views:
        tree.set("order", None)
    if primitives.settings:
        tree.set("settings", [sqlglot.parse_one(primitives.settings, read=dialect)])
    return tree.sql(dialect=dialect)


def _primitive(
    name: str, arguments: list[exp.Expr], primitives: Primitives, dialect: str
) -> exp.Expr:
    if len(arguments) != _ARITY[name]:
        raise ValueError(f"{name} takes {_ARITY[name]} arguments, not {len(arguments)}")
    if name == "syncruns_instant":
        text = arguments[0]
        if not isinstance(text, exp.Literal) or not text.is_string:
            raise ValueError("syncruns_instant takes a string literal")
        return _parsed(primitives.instant.format(text.this), dialect)
    if name == "syncruns_instant_of":
        if primitives.instant_type is None:
            return _operand(arguments[0])
        return _parsed(f"CAST({{0}} AS {primitives.instant_type})", dialect, arguments)
    if name == "syncruns_hours_before":
        hours = arguments[1]
        if not isinstance(hours, exp.Literal) or hours.is_string:
            raise ValueError("syncruns_hours_before takes a number of hours")
        return _parsed(primitives.hours_before, dialect, [arguments[0], hours])
    template = {
        "syncruns_now": primitives.now,
        "syncruns_seconds_between": primitives.seconds_between,
        "syncruns_utc_day": primitives.utc_day,
    }[name]
    return _parsed(template, dialect, arguments)


def _parsed(template: str, dialect: str, arguments: Sequence[exp.Expr] = ()) -> exp.Expr:
    rendered = [
        argument.this
        if isinstance(argument, exp.Literal) and not argument.is_string
        else _operand(argument).sql(dialect=dialect)
        for argument in arguments
    ]
    return _operand(sqlglot.parse_one(template.format(*rendered), read=dialect))


def _operand(expression: exp.Expr) -> exp.Expr:
    """In parentheses when it is an operation: it keeps its meaning among other operators."""
    return exp.paren(expression) if isinstance(expression, exp.Binary) else expression
