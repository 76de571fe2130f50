"""Phone numbers masked in free text; the other numbers people write left as typed."""

from __future__ import annotations

import pytest

from bot.phones import PHONE_MASK, mask_phones


@pytest.mark.parametrize(
    ("typed", "masked"),
    [
        ("appelle moi au 76 12 34 56", f"appelle moi au {PHONE_MASK}"),
        ("+223 76123456", PHONE_MASK),
        ("0033 6 12 34 56 78", PHONE_MASK),
        ("76123456", PHONE_MASK),
        ("mon numero 76.12.34.56 ou 66-12-34-56.", f"mon numero {PHONE_MASK} ou {PHONE_MASK}."),
        ("(+223) 76 12 34 56", f"(+223) {PHONE_MASK}"),
        ("tel:0021891234567, merci", f"tel:{PHONE_MASK}, merci"),
        ("n ka numero ye 66 12 34 56 ye", f"n ka numero ye {PHONE_MASK} ye"),
        # A free line quoted back has 8 digits too: masked, "17" and the words stay.
        ("appelle le 17 ou le 80 00 11 15", f"appelle le 17 ou le {PHONE_MASK}"),
    ],
)
def test_phone_numbers_are_masked(typed: str, masked: str) -> None:
    assert mask_phones(typed) == masked


@pytest.mark.parametrize(
    "typed",
    [
        "18-24",
        "2",
        "j'ai 17 ans, 15-17",
        "en 2015-2018 j'etais en Libye",
        "le 12.05.2024 a Bamako",
        "le passeur veut 500 000 FCFA",
        "c 800 000 pour la Guinee, 1 500 000 pour le Maroc",
        "une agence demande 10 000 000 pour l'Europe",
        "15000000 FCFA",
        "2 500 000 francs",
        "KF-123456",
    ],
)
def test_other_numbers_are_left_as_typed(typed: str) -> None:
    assert mask_phones(typed) == typed
