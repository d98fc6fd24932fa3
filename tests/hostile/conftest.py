"""Every hostile case runs under the same time and memory bound."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hostile_support import bounded


@pytest.fixture(autouse=True)
def _budget() -> Iterator[None]:
    with bounded():
        yield
