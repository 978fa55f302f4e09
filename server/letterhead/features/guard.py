"""The last guard of every feature: a bug answers "nothing here" and is logged, never raised.

A feature runs per keystroke on whatever text the editor holds; an exception would surface as
an error popup in the editor for every character typed. The tests turn logged failures back
into test failures (see `tests/test_features.py`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

LOGGER = logging.getLogger("letterhead.features")

P = ParamSpec("P")
R = TypeVar("R")


def never_raises(default: Callable[[], R]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Make a feature return `default()` (and log the error) instead of raising."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return function(*args, **kwargs)
            except Exception:
                LOGGER.exception("%s failed", function.__qualname__)
                return default()

        return guarded

    return decorate
