"""Backups of the embedded default (one SQLite file, one blob folder) and their restore."""
