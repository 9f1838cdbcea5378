"""Security tests reuse the integration harness: whole simulated worlds, checked after each test."""

from tests.integration.conftest import make_world  # noqa: F401
