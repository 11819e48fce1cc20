"""Which copy of a return is current: the pure decision (collect/current.py), no database."""

from __future__ import annotations

import datetime as dt

from xltemplate.collect.current import Arriving, Stored, decide, order

T = dt.datetime(2026, 12, 1, 9, 0)


def at(minutes: int) -> dt.datetime:
    return T + dt.timedelta(minutes=minutes)


def test_a_later_receipt_wins_whatever_the_file_says_of_its_save_time() -> None:
    # 101's copy from the mail batch says it was saved in 2099; the clerk's upload an hour later wins
    forged = Stored(1, "r1|d101|kA", order(at(0), dt.datetime(2099, 1, 1), 0, 1))
    upload = Arriving("r1|d101|kA", order(at(60), at(-120), None, 2**62))
    d = decide([forged], [upload])
    assert d.current == [True] and d.retired == {1: 0}


def test_an_earlier_receipt_never_replaces_a_later_one() -> None:
    later = Stored(7, "k", order(at(60), at(59), 0, 7))
    early = Arriving("k", order(at(30), dt.datetime(2099, 1, 1), 0, 2**62))
    d = decide([later], [early])
    assert d.current == [False] and d.old_winner == {0: 7} and not d.retired


def test_copies_received_together_go_by_save_time_never_past_their_receipt() -> None:
    # one mail batch: a copy saved at 10:00, one saved at 11:00, one whose clock says 2099
    a = Arriving("k", order(at(0), at(-120), 0, 2**62))
    b = Arriving("k", order(at(0), at(-60), 1, 2**62 + 1))
    ahead = Arriving("k", order(at(0), dt.datetime(2099, 1, 1), 2, 2**62 + 2))
    d = decide([], [b, ahead, a])
    # 2099 counts as the receipt time itself: later than both, by its save time no further
    assert d.current == [False, True, False]
    assert d.new_winner == {0: 1, 2: 1}


def test_within_a_batch_the_place_in_the_batch_breaks_a_tie() -> None:
    first = Arriving("k", order(at(0), None, 0, 2**62))
    second = Arriving("k", order(at(0), None, 1, 2**62 + 1))
    assert decide([], [second, first]).current == [True, False]


def test_a_copy_of_no_return_is_current_and_replaces_nothing() -> None:
    d = decide([Stored(3, "k", order(at(0), None, 0, 3))], [Arriving(None, order(at(5), None, 0, 2**62))])
    assert d.current == [True] and not d.retired and not d.old_winner


def test_also_keys_are_replaced_but_never_win() -> None:
    nokey = Stored(4, "r1|sid|S|nokey", order(at(0), None, 0, 4))
    named = Arriving("r1|d101|kA", order(at(10), None, 0, 2**62), also=("r1|sid|S|nokey",))
    assert decide([nokey], [named]).retired == {4: 0}
    later_nokey = Stored(5, "r1|sid|S|nokey", order(at(20), None, 0, 5))
    d = decide([later_nokey], [named])
    assert d.current == [True] and not d.retired  # the later copy without a name stays current too
