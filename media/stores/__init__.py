"""Blob store implementations behind one interface; callers import them from ``media.store``."""
