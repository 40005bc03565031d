"""spatial.categories.parse_category: every alias, integral floats, unknown values."""

from __future__ import annotations

import pytest

from spatial.categories import LABELS_ZH, OwnershipCategory, parse_category

C = OwnershipCategory


@pytest.mark.parametrize(
    ("value", "cat"),
    [
        ("collective", C.collective),
        (" 集体 ", C.collective),
        ("jt", C.collective),
        (1, C.collective),
        (1.0, C.collective),
        ("01", C.collective),
        ("原光明农场国有用地", C.state_farm),
        ("NC", C.state_farm),
        ("2.0", C.state_farm),
        ("未完善征(转)收地补偿手续用地", C.incomplete_acquisition),
        ("wws", C.incomplete_acquisition),
        (3.0, C.incomplete_acquisition),
        ("国有已出让/已完善手续用地", C.state_owned),
        ("GY", C.state_owned),
        ("04", C.state_owned),
    ],
)
def test_aliases(value, cat):
    assert parse_category(value) is cat


@pytest.mark.parametrize("value", [None, "", "宅基地", "5", "1.5", "x.0", 1.5, "collective2"])
def test_unknown(value):
    assert parse_category(value) is None


def test_labels():
    assert [c.label_zh for c in C] == [LABELS_ZH[c] for c in C]
    assert C.state_owned.label_en == "State land with complete procedures"
