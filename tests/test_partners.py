"""The partners file: where each service's referrals go and who may act on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.partners import Partners, PartnersError, load_partners, parse_partners


def test_a_valid_file_gives_each_services_group_and_staff(tmp_path: Path) -> None:
    path = tmp_path / "partners.yml"
    path.write_text(
        "partners:\n"
        "  iom_mali:\n    chat_id: -1001234567890\n    staff: [81, 82]\n"
        "  red_cross_rfl: {chat_id: -100222, staff: [90]}\n",
        encoding="utf-8",
    )
    partners = load_partners(path)
    assert partners.services() == ["iom_mali", "red_cross_rfl"]
    assert partners.chat_for("iom_mali") == -1001234567890
    assert partners.chat_for("aracem") is None
    assert partners.is_staff(-1001234567890, 81) and partners.is_staff(-100222, 90)
    # Staff of one partner are not staff of another's group.
    assert not partners.is_staff(-100222, 81) and not partners.is_staff(-1001234567890, 90)


def test_no_file_means_no_referral_goes_anywhere() -> None:
    assert load_partners(None) == Partners()
    assert Partners().chat_for("iom_mali") is None


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ({}, "expected a 'partners:' mapping"),
        ({"partners": {"a": {"chat_id": 5, "staff": [1]}}}, "a person's private chat"),
        ({"partners": {"a": {"chat_id": "x", "staff": [1]}}}, "numeric id"),
        ({"partners": {"a": {"chat_id": -5, "staff": []}}}, "list the Telegram ids"),
        ({"partners": {"a": {"chat_id": -5, "staff": [-3]}}}, "a person's Telegram id"),
        ({"partners": {"a": {"chat_id": -5, "staff": [1], "chat": 2}}}, "unknown field"),
        (
            {"partners": {"a": {"chat_id": -5, "staff": [1]}, "b": {"chat_id": -5, "staff": [2]}}},
            "the same group",
        ),
    ],
)
def test_a_bad_file_is_refused_with_its_reason(data: object, why: str) -> None:
    with pytest.raises(PartnersError, match=why):
        parse_partners(data)


def test_a_missing_or_broken_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PartnersError, match="does not exist"):
        load_partners(tmp_path / "none.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text("partners: [unclosed\n", encoding="utf-8")
    with pytest.raises(PartnersError, match="not valid YAML"):
        load_partners(broken)
