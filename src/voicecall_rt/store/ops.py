"""What a store's writer runs: one statement with its parameters, and how it answers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class WriteOp:
    label: str  # what to name in logs: never the parameters, they hold call content
    call_id: str | None
    sql: str
    params: tuple[Any, ...]
    # Set by callers that need the rows back or the error (settle_stale).
    result: asyncio.Future[list[Any]] | None = None
    # An UPDATE that matched nothing is a lost write worth a warning.
    expect_row: bool = False

    @property
    def groupable(self) -> bool:
        # executemany returns no rows, so only ops nobody reads a result from.
        return self.result is None and not self.expect_row

    def answer(self, outcome: list[Any] | BaseException) -> None:
        """Hand the op's rows, or the error that refused it, to whoever waits for them."""
        if self.result is None or self.result.done():
            return
        if isinstance(outcome, BaseException):
            self.result.set_exception(outcome)
        else:
            self.result.set_result(outcome)


def runs(ops: Sequence[WriteOp]) -> Iterator[Sequence[WriteOp]]:
    """`ops` in order, cut into runs a backend may send as one executemany (consecutive
    groupable ops with the same statement); any other op is a run of its own."""
    start = 0
    while start < len(ops):
        end = start + 1
        if ops[start].groupable:
            while end < len(ops) and ops[end].groupable and ops[end].sql == ops[start].sql:
                end += 1
        yield ops[start:end]
        start = end
