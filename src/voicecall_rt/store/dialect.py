"""The SQL in which the backends differ. Everything else is written once, with `?`
placeholders (a backend that numbers its placeholders rewrites them, `numbered`)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Dialect:
    # Inserts of a row whose key is known (a call, a line or an event numbered in memory).
    insert_call: str
    insert_transcript: str
    insert_event: str
    # The same for a call this process does not number (released, or someone else's): the
    # next seq is MAX + 1. Parameters: call_id, the row's values, call_id again.
    append_transcript: str
    append_event: str
    # The column that orders rows as they were inserted (list ties: newest first).
    insertion_order: str
    # `{column}` tested against one list parameter, and that parameter's value.
    in_list: str
    list_param: Callable[[Sequence[str]], Any]

    def column_in_list(self, column: str) -> str:
        return self.in_list.format(column=column)


_PLACEHOLDER = re.compile(r"\?")


@functools.lru_cache(maxsize=256)
def numbered(sql: str) -> str:
    """`?` placeholders as `$1, $2, …` (PostgreSQL's). Our statements hold no `?` inside
    a literal, so a plain scan is exact."""
    counter = iter(range(1, 10_000))
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)
