"""The declared layers: one :class:`~spatial.schema.spec.LayerSpec` each, the only place their
columns are written down.

Columns several layers share (a project code, a name) are declared once here and used by each.
A migration creates each table; ``tests/test_layer_schema.py`` checks that the migrated
database has exactly these columns, types, lengths, nullability, keys and geometry.
"""

from __future__ import annotations

import enum

from spatial.categories import LABELS_EN, LABELS_ZH, OwnershipCategory, parse_category
from spatial.schema.spec import Column, LayerSpec, Vocabulary, register


class Layer(enum.StrEnum):
    """The declared layers by name (table names, values of the ``layer_name`` enum)."""

    projects = "projects"
    parcels = "parcels"
    retained_land = "retained_land"
    state_reserve_land = "state_reserve_land"
    statutory_plans = "statutory_plans"
    buildings = "buildings"


def _parse_ownership(value: object) -> str | None:
    category = parse_category(value)
    return None if category is None else category.value


OWNERSHIP = Vocabulary(
    pg_type="ownership_category",
    codes=tuple(c.value for c in OwnershipCategory),
    labels_zh={c.value: LABELS_ZH[c] for c in OwnershipCategory},
    labels_en={c.value: LABELS_EN[c] for c in OwnershipCategory},
    parse=_parse_ownership,
    choices_zh="原农村集体土地/集体、原光明农场国有用地/农场、"
    "未完善征（转）收地补偿手续用地/未完善征转、国有已出让/已完善手续用地/国有",
    choices_en="collective, state_farm, incomplete_acquisition, state_owned (or their "
    "Chinese names)",
)
"""The four ownership categories (三元化), as surveyors may spell them."""

CODE_LEN = 60
"""Length of feature codes (parcel, site, zone, building codes)."""
PROJECT_CODE_LEN = 50
"""Length of project codes."""
_GENERIC_CODE = ("编号", "BH", "代码", "DM", "code")
"""Source names any layer's ``code`` may go by, tried after the layer's own."""


def _code_column(
    name: str, label_zh: str, label_en: str, *aliases: str, required: bool = True
) -> Column:
    """A column of feature codes, up to :data:`CODE_LEN` characters."""
    return Column(
        name, "text", label_zh, label_en, max_len=CODE_LEN, required=required, aliases=aliases
    )


def _code(label_zh: str, label_en: str, *aliases: str) -> Column:
    """The feature code of a layer (``code``, its key), tried under the generic names too."""
    return _code_column("code", label_zh, label_en, *aliases, *_GENERIC_CODE)


def _name(label_zh: str = "名称", label_en: str = "Name", required: bool = False) -> Column:
    return Column(
        "name",
        "text",
        label_zh,
        label_en,
        required=required,
        aliases=("名称", "MC", "项目名称", "XMMC", "地块名称", "DKMC"),
    )


PROJECT_CODE = Column(
    "project_code",
    "text",
    "项目编号",
    "Project code",
    max_len=PROJECT_CODE_LEN,
    aliases=("项目编号", "XMBH", "项目代码", "XMDM", "项目编"),
    index=True,
)
"""The project a row belongs to (a project's ``code``)."""

PROJECTS = register(
    LayerSpec(
        name=Layer.projects,
        title_zh="整备项目范围",
        title_en="Land readiness projects",
        columns=(
            Column(
                "code",
                "text",
                "项目编号",
                "Project code",
                max_len=PROJECT_CODE_LEN,
                required=True,
                aliases=(
                    "项目编号",
                    "XMBH",
                    "项目代码",
                    "XMDM",
                    "项目编",
                    "项目代",
                    *_GENERIC_CODE,
                ),
            ),
            _name("项目名称", "Project name", required=True),
            Column(
                "district", "text", "所属区", "District", aliases=("所属区", "行政区", "XZQ", "区")
            ),
            Column(
                "stage", "text", "项目阶段", "Stage", aliases=("阶段", "JD", "项目阶段", "XMJD")
            ),
        ),
        key="code",
        names=("project", "整备项目", "项目"),
        project_column="code",
        tiles=("code", "name", "stage", "area_m2"),
    )
)

PARCELS = register(
    LayerSpec(
        name=Layer.parcels,
        title_zh="宗地",
        title_en="Parcels",
        columns=(
            _code(
                "宗地编号",
                "Parcel code",
                *("宗地编号", "ZDBH", "宗地代码", "ZDDM", "宗地号", "ZDH", "宗地编", "宗地代"),
            ),
            Column(
                "category",
                "code",
                "权属类型",
                "Ownership category",
                required=True,
                aliases=(
                    *("权属类型", "QSLX", "权属性质", "QSXZ", "土地权属", "TDQS"),
                    *("权属", "权属类", "权属性"),
                ),
                vocabulary=OWNERSHIP,
            ),
            PROJECT_CODE,
            Column(
                "owner",
                "text",
                "权利人",
                "Owner",
                aliases=("权利人", "QLR", "权属人", "QSR", "使用权人", "SYQR"),
            ),
        ),
        key="code",
        names=("parcel",),
        project_column="project_code",
        # Only what styling and the first popup line need: the popup fetches the rest from
        # /collections/parcels/items/{id}. Keeps tiles of a million parcels light.
        tiles=("code", "category", "project_code"),
        big_ids=True,
        partitioned=True,
    )
)

RETAINED_LAND = register(
    LayerSpec(
        name=Layer.retained_land,
        title_zh="留用土地",
        title_en="Retained land",
        columns=(
            _code(
                "留用地编号",
                "Retained land code",
                *("留用地编号", "LYDBH", "留用土地编号", "地块编号", "DKBH"),
            ),
            PROJECT_CODE,
            _name(),
            Column(
                "land_use",
                "text",
                "规划用途",
                "Planned land use",
                max_len=20,
                required=True,
                aliases=("用地性质", "YDXZ", "用地性", "规划用途", "GHYT", "用地代码", "YDDM"),
            ),
        ),
        key="code",
        names=("retained",),
        project_column="project_code",
    )
)

STATE_RESERVE_LAND = register(
    LayerSpec(
        name=Layer.state_reserve_land,
        title_zh="国有储备土地",
        title_en="State reserve land",
        columns=(
            _code(
                "储备地编号",
                "Reserve land code",
                *("储备地编号", "CBDBH", "储备土地编号", "地块编号", "DKBH", "宗地编号"),
            ),
            _name(),
        ),
        key="code",
        names=("reserve", "储备土地"),
    )
)

STATUTORY_PLANS = register(
    LayerSpec(
        name=Layer.statutory_plans,
        title_zh="法定图则",
        title_en="Statutory plan zones",
        columns=(
            _code_column("plan_code", "图则编号", "Plan code", "图则编号", "TZBH", "图则编"),
            _code_column(
                "zone_code",
                "地块编号",
                "Zone code",
                "地块编号",
                "DKBH",
                "分区编号",
                "FQBH",
                "地块编",
            ),
            Column("plan_name", "text", "图则名称", "Plan name", aliases=("图则名称", "TZMC")),
            Column(
                "land_use_class",
                "text",
                "用地性质",
                "Land-use class",
                max_len=20,
                required=True,
                aliases=("用地性质", "YDXZ", "用地代码", "YDDM", "用地类别", "YDLB"),
            ),
        ),
        key="zone_code",
        names=("plans", "statutory_plan"),
    )
)

BUILDINGS = register(
    LayerSpec(
        name=Layer.buildings,
        title_zh="建筑物",
        title_en="Buildings",
        columns=(
            _code("建筑物编号", "Building code", "建筑物编号", "JZWBH", "楼栋编号", "LDBH"),
            PROJECT_CODE,
            _code_column(
                "parcel_code",
                "宗地编号",
                "Parcel code",
                "宗地编号",
                "ZDBH",
                "宗地代码",
                "ZDDM",
                required=False,
            ),
            Column(
                "structure", "text", "建筑结构", "Structure", aliases=("建筑结构", "结构", "JG")
            ),
            Column(
                "floor_area_m2",
                "number",
                "建筑面积",
                "Floor area",
                unit="m²",
                aliases=("建筑面积", "JZMJ"),
            ),
            Column("legal_status", "text", "合法性", "Legal status", aliases=("合法性", "HFX")),
            Column(
                "signing_status",
                "text",
                "签约状态",
                "Signing status",
                max_len=30,
                aliases=("签约状态", "QYZT"),
            ),
        ),
        key="code",
        names=("building",),
        project_column="project_code",
        # Compensation and signing progress come later: the table exists (migration 0001),
        # uploads and the collection do not yet.
        ingest=False,
        serve=False,
        big_ids=True,
    )
)

BUILTIN = (PROJECTS, PARCELS, RETAINED_LAND, STATE_RESERVE_LAND, STATUTORY_PLANS, BUILDINGS)
"""The layers migrations 0001-0004 create, in the order of the ``layer_name`` enum."""

if [s.name for s in BUILTIN] != list(Layer):  # pragma: no cover - a declaration without a member
    raise RuntimeError("every Layer member needs exactly one declaration, in enum order")
