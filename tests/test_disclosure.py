"""Small cells: no count from 1 to 4 is shown, and none comes back by subtraction."""

from __future__ import annotations

from itertools import product

from bot.disclosure import HIDDEN, MIN_CELL, OTHER, shown, shown_counts, shown_share


def test_small_counts_are_hidden_and_the_others_rounded_to_five() -> None:
    assert MIN_CELL == 5 and HIDDEN == "<5"
    assert [shown(n) for n in range(0, 13)] == [0, *[HIDDEN] * 4, 5, 5, 5, 10, 10, 10, 10, 10]
    assert shown(1234) == 1235 and shown(1237) == 1235 and shown(1238) == 1240
    assert shown_counts({"fr": 7, "bm": 3, "snk": 0}) == {"fr": 5, "snk": 0, OTHER: HIDDEN}


def test_a_share_is_shown_only_when_both_its_parts_may_be() -> None:
    assert shown_share(96, 100) == "-"  # 4 wrong answers
    assert shown_share(3, 100) == "-"  # 3 right answers
    assert shown_share(2, 3) == "-"
    assert shown_share(0, 0) == "-"
    assert shown_share(50, 100) == "50%"
    assert shown_share(12, 12) == "100%" and shown_share(0, 12) == "0%"
    assert shown_share(33, 100) == "35%"  # to the nearest 5 points


def test_hidden_lines_are_left_out_and_counted_together() -> None:
    sources = {"radio_kayes": 12, "radio_kati": 1, "-": 40, "poster": 3}
    assert shown_counts(sources) == {"radio_kayes": 10, "-": 40, OTHER: HIDDEN}
    assert shown_counts({"a": 4, "b": 4, "c": 20}) == {"c": 20, OTHER: 10}
    assert shown_counts({"fr": 30}) == {"fr": 30}


def test_no_hidden_line_comes_back_by_subtraction() -> None:
    """Every breakdown of up to three lines (0 to 14 people each): the total shown less
    the lines shown is never a count from 1 to 4, so never a hidden line."""
    for cells in product(range(15), repeat=3):
        lines = shown_counts({key: n for key, n in zip("abc", cells, strict=True) if n})
        total = shown(sum(cells))
        if total == HIDDEN:
            continue
        numbers = [n for key, n in lines.items() if key != OTHER and isinstance(n, int)]
        difference = int(total) - sum(numbers)
        assert difference % 5 == 0, (cells, lines, total)
        for hidden in (n for n in cells if 0 < n < MIN_CELL):
            assert difference != hidden
