"""Sections of benchmarks/RESULTS.md written by side benchmarks, kept when others rewrite it."""

from __future__ import annotations

from pathlib import Path

LAST_SECTION = "## Side by side with a commit"  # compare_commits keeps it at the end


def write_section(results_md: Path, heading: str, text: str) -> None:
    """Replace the section starting with `heading` (or add it) before LAST_SECTION."""
    current = results_md.read_text() if results_md.exists() else ""
    if heading in current:
        start = current.index(heading)
        rest = current.find("\n## ", start + len(heading))
        current = current[:start] + (current[rest + 1 :] if rest != -1 else "")
    anchor = current.find(LAST_SECTION)
    if anchor == -1:
        results_md.write_text(current.rstrip() + "\n\n" + text.rstrip() + "\n")
    else:
        results_md.write_text(current[:anchor] + text.rstrip() + "\n\n" + current[anchor:])
