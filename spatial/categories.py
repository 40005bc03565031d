"""Ownership categories (三元化 land situation) and how surveyors write them."""

from __future__ import annotations

from spatial.labelled import LabelledEnum


class OwnershipCategory(LabelledEnum):
    """The four ownership categories of DOMAIN.md; every parcel has exactly one."""

    collective = "collective", "原农村集体土地", "Original rural collective land"
    state_farm = "state_farm", "原光明农场国有用地", "Original Guangming state-farm land"
    incomplete_acquisition = (
        "incomplete_acquisition",
        "未完善征（转）收地补偿手续用地",
        "Land with incomplete acquisition procedures",
    )
    state_owned = "state_owned", "国有已出让/已完善手续用地", "State land with complete procedures"


LABELS_ZH: dict[OwnershipCategory, str] = {c: c.label_zh for c in OwnershipCategory}
LABELS_EN: dict[OwnershipCategory, str] = {c: c.label_en for c in OwnershipCategory}

# Map colours shared by the web map, tiles and notebooks (one place).
COLOURS: dict[OwnershipCategory, str] = {
    OwnershipCategory.collective: "#e6a23c",
    OwnershipCategory.state_farm: "#67c23a",
    OwnershipCategory.incomplete_acquisition: "#f56c6c",
    OwnershipCategory.state_owned: "#409eff",
}

_ALIASES: dict[str, OwnershipCategory] = {}
for _cat, _names in {
    OwnershipCategory.collective: [
        "collective",
        "原农村集体土地",
        "农村集体土地",
        "集体土地",
        "集体",
        "原集体",
        "JT",
        "1",
        "01",
    ],
    OwnershipCategory.state_farm: [
        "state_farm",
        "原光明农场国有用地",
        "光明农场国有用地",
        "农场国有用地",
        "农场",
        "原农场",
        "NC",
        "2",
        "02",
    ],
    OwnershipCategory.incomplete_acquisition: [
        "incomplete_acquisition",
        "未完善征（转）收地补偿手续用地",
        "未完善征(转)收地补偿手续用地",
        "未完善征转收地补偿手续用地",
        "未完善征转手续用地",
        "未完善征转",
        "未完善征收",
        "未完善",
        "WWS",
        "3",
        "03",
    ],
    OwnershipCategory.state_owned: [
        "state_owned",
        "国有已出让/已完善手续用地",
        "国有已出让",
        "已完善手续用地",
        "国有",
        "国有土地",
        "GY",
        "4",
        "04",
    ],
}.items():
    for _n in _names:
        _ALIASES[_n.strip().lower()] = _cat


def parse_category(value: object) -> OwnershipCategory | None:
    """Map a surveyor's category value (Chinese, abbreviation or code) to the enum.

    Returns ``None`` for values that are not known; callers must refuse those rows.

    Examples
    --------
    >>> parse_category("集体")
    <OwnershipCategory.collective: 'collective'>
    """
    if value is None:
        return None
    text = str(value).strip().lower()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    return _ALIASES.get(text)
