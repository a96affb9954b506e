"""Verdict rules: pure functions from a submission's answers and a parameter row to a verdict.

No database, no Flask, no I/O except reading the parameter table. See docs/rules.md.
"""
