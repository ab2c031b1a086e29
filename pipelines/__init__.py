"""Command-line runner (`syncruns`) for the sync-run sources."""
