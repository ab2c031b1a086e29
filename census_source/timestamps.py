"""Timestamp parsing and formatting, shared with the other sources (see syncruns_common)."""

from syncruns_common.timestamps import format_timestamp, parse_timestamp

__all__ = ["format_timestamp", "parse_timestamp"]
