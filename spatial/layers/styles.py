"""Map styles of the layers: colours and Chinese legends, shared by the web map, the printed
figures (:mod:`spatial.report.figure`) and notebooks.

Ownership category colours come from :data:`spatial.categories.COLOURS`; route labels from
:mod:`spatial.rules`. The review colours (route, reserve occupied, uncovered, conflicts) are
taken from the Okabe–Ito palette (reserve occupied: dark grey), chosen so that a planner
with any common colour-vision deficiency cannot confuse the city route with reserve land
occupied (a test simulates protanopia, deuteranopia and tritanopia and checks the colour
distance of every pair).
"""

from __future__ import annotations

from typing import Any

from spatial.categories import COLOURS, OwnershipCategory
from spatial.procedure.steps import OVERDUE_COLOUR, PHASES
from spatial.rules import ROUTE_LABELS_ZH, Route

OKABE_ITO = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
"""The Okabe–Ito colour-blind-safe palette (Okabe & Ito 2008)."""

ROUTE_COLOURS: dict[Route, str] = {
    Route.district: OKABE_ITO["bluish_green"],
    Route.city: OKABE_ITO["vermillion"],
}
"""Retained land by approval route: district approval bluish green, city submission vermillion."""

OCCUPIED_COLOUR = "#333333"
"""Reserve land occupied by retained land: dark grey shading over the site (never red, which
is the city route; not blue, which tritanopes confuse with the district green)."""
UNCOVERED_COLOUR = OKABE_ITO["yellow"]
"""Parts of sites not covered by statutory plans."""
CONFLICT_COLOUR = OKABE_ITO["reddish_purple"]
"""Parts of sites whose planned use conflicts with the zone."""
CANDIDATE_COLOUR = "#000000"
"""Outline of a candidate site in the siting check."""
RESERVE_COLOUR = "#8d6e63"
"""State reserve land (context)."""
PLAN_COLOUR = "#7b1fa2"
"""Statutory plan zone outlines (context)."""

LAYER_ORDER = (
    "statutory_plans",
    "parcels",
    "state_reserve_land",
    "retained_land",
    "uncovered",
    "conflicts",
    "reserve_overlaps",
    "procedure_projects",
    "projects",
)
"""Drawing order on the map, bottom to top."""

SHOWN_BY_DEFAULT = {"parcels", "retained_land", "projects", "reserve_overlaps"}
"""Layers switched on when the map opens (the others are in the layer control)."""

STYLES: dict[str, dict[str, Any]] = {
    "statutory_plans": {
        "base": {
            "color": "#7b1fa2",
            "weight": 1,
            "dashArray": "4 3",
            "fill": True,
            "fillColor": "#ce93d8",
            "fillOpacity": 0.12,
        }
    },
    "parcels": {
        "base": {
            "color": "#555555",
            "weight": 0.4,
            "fill": True,
            "fillColor": "#cccccc",
            "fillOpacity": 0.7,
        },
        "by": "category",
        "colours": {c.value: COLOURS[c] for c in OwnershipCategory},
    },
    "state_reserve_land": {
        "base": {
            "color": "#5d4037",
            "weight": 1.2,
            "fill": True,
            "fillColor": RESERVE_COLOUR,
            "fillOpacity": 0.35,
        }
    },
    "retained_land": {
        "base": {
            "color": "#1b1b1b",
            "weight": 1.5,
            "fill": True,
            "fillColor": ROUTE_COLOURS[Route.district],
            "fillOpacity": 0.75,
        },
        "by": "route",
        "colours": {r.value: ROUTE_COLOURS[r] for r in Route},
    },
    "uncovered": {
        "base": {
            "color": "#8a7a00",
            "weight": 1,
            "fill": True,
            "fillColor": UNCOVERED_COLOUR,
            "fillOpacity": 0.6,
        }
    },
    "conflicts": {
        "base": {
            "color": "#7a3b63",
            "weight": 1,
            "fill": True,
            "fillColor": CONFLICT_COLOUR,
            "fillOpacity": 0.6,
        }
    },
    "reserve_overlaps": {
        "base": {
            "color": "#000000",
            "weight": 1.5,
            "fill": True,
            "fillColor": OCCUPIED_COLOUR,
            "fillOpacity": 0.6,
        }
    },
    "projects": {"base": {"color": "#000000", "weight": 2.5, "fill": False}},
    "procedure_projects": {
        "base": {
            "color": "#263238",
            "weight": 1.5,
            "fill": True,
            "fillColor": PHASES[0].colour,
            "fillOpacity": 0.45,
        },
        "by": "map_class",
        "colours": {**{ph.code: ph.colour for ph in PHASES}, "overdue": OVERDUE_COLOUR},
    },
}


VALUE_LABELS: dict[str, dict[str, str]] = {
    "category": {c.value: c.label_zh for c in OwnershipCategory},
    "route": {r.value: ROUTE_LABELS_ZH[r] for r in Route},
    "map_class": {**{ph.code: ph.label_zh for ph in PHASES}, "overdue": "已逾期"},
}
"""Chinese labels of coded property values, for popups."""


def legends() -> list[tuple[str, list[tuple[str, str]]]]:
    """Legend sections: (title, [(label, colour), ...]) in Chinese with English alongside."""
    return [
        (
            "宗地权属类型 Parcel ownership",
            [(c.label_zh, COLOURS[c]) for c in OwnershipCategory],
        ),
        (
            "留用土地审批路径 Retained land route",
            [
                (f"{ROUTE_LABELS_ZH[r]}（{'≤' if r is Route.district else '>'}3000 m²）", col)
                for r, col in ROUTE_COLOURS.items()
            ],
        ),
        (
            "分析结果 Analysis",
            [
                ("占用国有储备土地 Reserve land occupied", OCCUPIED_COLOUR),
                ("法定图则未覆盖 Not covered by plans", UNCOVERED_COLOUR),
                ("需调整法定图则 Use conflicts", CONFLICT_COLOUR),
                ("国有储备土地 State reserve land", RESERVE_COLOUR),
                ("法定图则 Statutory plan zones", "#ce93d8"),
            ],
        ),
        (
            "项目程序进度 Procedure stage",
            [(f"{ph.label_zh} {ph.label_en}", ph.colour) for ph in PHASES]
            + [("已逾期 Overdue", OVERDUE_COLOUR)],
        ),
    ]
