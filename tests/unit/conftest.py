"""Fixtures shared by the unit tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from voicecall_rt import logs


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger back as it was after a test installs our logging."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    if logs._installed is not None:
        root.removeHandler(logs._installed[0])
        logs._installed = None
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
