"""Fixtures for server tests: the Collect-like client of the protocol tests."""

from tests.protocol.conftest import collect  # noqa: F401 - the Collect-like client fixture
