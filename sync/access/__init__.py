"""Accounts, their roles and areas, and the scope every query of a person's request is limited to."""
