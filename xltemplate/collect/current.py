"""Which copy of a return is current: one pure decision, with no database in it.

The bureau decides, never the file.  Copies of one return are ordered by when the bureau received
them: a later upload through a department's link, or a later import or bulk upload, replaces an
earlier one.  Copies received together (one ``xltemplate import`` run, one bulk upload of mail) are
ordered among themselves by the save time the client wrote into each file, taken no later than
their receipt (a PC whose clock runs ahead cannot place its copy after one the bureau received
later), and then by their place in the batch.  The stored row's id breaks any remaining tie, so
the order is total and the same in every process.

A copy may also replace older current copies of further keys (``also``: a copy with no project
name yet, made from the same template), but never loses to them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

#: (received, save time no later than received, place in the batch, tiebreak)
Order = tuple[dt.datetime, dt.datetime, int, int]


def order(received: dt.datetime, saved: dt.datetime | None, seq: int | None, tiebreak: int) -> Order:
    """Where a copy stands among the copies of its return (larger is later)."""
    return received, min(saved, received) if saved is not None else received, seq or 0, tiebreak


@dataclass(frozen=True)
class Stored:
    """A current copy already in the database."""

    id: int
    key: str
    order: Order


@dataclass(frozen=True)
class Arriving:
    """A copy of this batch: the key of its return (None: it belongs to no return) and ``also``."""

    key: str | None
    order: Order
    also: tuple[str, ...] = ()


@dataclass
class Decision:
    """Which copies of a batch are current, and whom the replaced ones point to."""

    current: list[bool]  # per arriving copy
    retired: dict[int, int] = field(default_factory=dict)  # stored id -> arriving copy replacing it
    old_winner: dict[int, int] = field(default_factory=dict)  # arriving copy -> stored id that is later
    new_winner: dict[int, int] = field(default_factory=dict)  # arriving copy -> later arriving copy


def decide(stored: Sequence[Stored], arriving: Sequence[Arriving]) -> Decision:
    """Of the stored current copies and the arriving ones, which is current for each return."""
    decision = Decision([a.key is None for a in arriving])
    # key -> (("old", id) | ("new", index), order)
    current: dict[str, tuple[tuple[str, int], Order]] = {s.key: (("old", s.id), s.order) for s in stored}

    def lose(ref: tuple[str, int], to: int) -> None:
        kind, which = ref
        if kind == "old":
            decision.retired[which] = to
        else:
            decision.current[which] = False
            decision.new_winner[which] = to

    for k, copy in enumerate(arriving):
        if copy.key is None:
            continue
        rival = current.get(copy.key)
        if rival is None or rival[1] < copy.order:
            if rival is not None:
                lose(rival[0], k)
            for key in copy.also:
                if key in current and current[key][1] < copy.order:
                    lose(current.pop(key)[0], k)
            current[copy.key] = (("new", k), copy.order)
            decision.current[k] = True
        else:
            kind, which = rival[0]
            if kind == "old":
                decision.old_winner[k] = which
            else:
                decision.new_winner[k] = which
    return decision
