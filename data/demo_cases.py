"""Hand-placed demo projects and retained-land sites so that every rule branch occurs.

The five named projects echo the seed cases of Guangming District. Each project that carries a
rule case has a *case frame*: an axis-aligned rectangle with integer-metre corners inside the
project. Inside a frame the demo places reserve-land rectangles, retained-land sites and
statutory-plan zones by hand (generic zones are cut away from the frame), so intersections are
exact: 3000.00 m² is 50 m × 60 m, computed from integer coordinates.

Codes are CONSTANT for every seed and boundary; :data:`RULE_CASES` documents what each one
demonstrates and the exact figures an analysis must find.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# ---------------------------------------------------------------------------------------------
# The named projects (codes fixed). Shapes are in local metres, origin at an integer anchor.
# kind "poly": exterior ring; kind "corridor": centreline and width (flat caps, mitre joins:
# the area is exactly length × width).


@dataclass(frozen=True)
class NamedProject:
    """A seed-case project: code, name, stage, local shape and where to try placing it."""

    code: str
    name: str
    stage: str
    anchor: tuple[float, float]  # preferred position, as fractions of the boundary's bbox
    ring: tuple[tuple[int, int], ...] = ()
    centreline: tuple[tuple[int, int], ...] = ()
    width: int = 0
    frames: tuple[tuple[int, int], ...] = field(default_factory=tuple)  # frame origins (local)


NAMED_PROJECTS: tuple[NamedProject, ...] = (
    # 科学城启动区: 1500 × 1300 with a 400 × 325 notch = 1,820,000 m² (seed: about 1.82 km²,
    # done in 22 days).
    NamedProject(
        code="GM-ZB-001",
        name="光明科学城启动区土地整备项目",
        stage="已入库",
        anchor=(0.66, 0.62),
        ring=((0, 0), (1500, 0), (1500, 975), (1100, 975), (1100, 1300), (0, 1300)),
        frames=((200, 200), (200, 800)),
    ),
    # 轨道6号线: an 8,000 m centreline, 150 m wide = 1,200,000 m².
    NamedProject(
        code="GM-ZB-002",
        name="轨道6号线光明段土地整备项目",
        stage="已入库",
        anchor=(0.30, 0.80),
        centreline=((0, 0), (3000, -3000), (4200, -6560)),
        width=150,
    ),
    # 外环高速: a 6,000 m straight E-W section then 3,929 m, 200 m wide ≈ 1,985,800 m².
    NamedProject(
        code="GM-ZB-003",
        name="外环高速公路光明段土地整备项目",
        stage="实施",
        anchor=(0.20, 0.90),
        centreline=((0, 0), (6000, 0), (9800, -1000)),
        width=200,
        frames=((1000, -80),),
    ),
    # 华星光电G11: 1000 × 1000 = 1,000,000 m².
    NamedProject(
        code="GM-ZB-004",
        name="华星光电G11项目土地整备",
        stage="已入库",
        anchor=(0.40, 0.30),
        ring=((0, 0), (1000, 0), (1000, 1000), (0, 1000)),
        frames=((300, 300),),
    ),
    # 中山大学深圳校区: 1400 × 1000 = 1,400,000 m².
    NamedProject(
        code="GM-ZB-005",
        name="中山大学深圳校区土地整备项目",
        stage="已入库",
        anchor=(0.70, 0.82),
        ring=((0, 0), (1400, 0), (1400, 1000), (0, 1000)),
        frames=((300, 300),),
    ),
)

# ---------------------------------------------------------------------------------------------
# Case geometry, in frame-local metres: (project code, frame index) -> rectangles
# (xmin, ymin, xmax, ymax).


@dataclass(frozen=True)
class Site:
    """A hand-placed retained-land site."""

    code: str
    name: str
    land_use: str
    rect: tuple[int, int, int, int]


@dataclass(frozen=True)
class Frame:
    """Reserve rectangles, retained sites and statutory zones inside one case frame."""

    project: str
    index: int
    size: tuple[int, int]
    reserve: tuple[tuple[str, tuple[int, int, int, int]], ...]
    sites: tuple[Site, ...]
    zones: tuple[tuple[str, str, tuple[int, int, int, int]], ...]  # (zone suffix, class, rect)
    plan_code: str
    plan_name: str


FRAMES: tuple[Frame, ...] = (
    # Over 3000 m²: LY-001 straddles two reserve polygons (1500 + 1500 m²) and LY-002 takes
    # 1200 m² of a third: each piece is under 3000, only the PROJECT TOTAL (4200) is over.
    Frame(
        project="GM-ZB-001",
        index=0,
        size=(400, 150),
        reserve=(
            ("CB-R01", (0, 0, 100, 100)),
            ("CB-R02", (110, 0, 210, 100)),
            ("CB-R03", (280, 0, 380, 100)),
        ),
        sites=(
            Site("LY-001", "凤凰社区留用土地（科学城启动区一）", "M0", (70, 0, 140, 50)),
            Site("LY-002", "凤凰社区留用土地（科学城启动区二）", "M0", (250, 40, 300, 100)),
        ),
        zones=(("01", "M0", (0, 0, 400, 150)),),
        plan_code="GM-FT-KXC",
        plan_name="光明科学城启动区法定图则",
    ),
    # A use that conflicts with its zone: M1 in an M0 zone (land_use_compatibility says false).
    Frame(
        project="GM-ZB-001",
        index=1,
        size=(300, 200),
        reserve=(),
        sites=(Site("LY-003", "东周社区留用土地（科学城启动区三）", "M1", (100, 50, 200, 150)),),
        zones=(("02", "M0", (0, 0, 300, 200)),),
        plan_code="GM-FT-KXC",
        plan_name="光明科学城启动区法定图则",
    ),
    # Exactly 3000.00 m² (50 m × 60 m): counts as "not more than", district approves.
    # LY-005 plans R2 in a G1 zone: a pair absent from land_use_compatibility, so a conflict.
    Frame(
        project="GM-ZB-005",
        index=0,
        size=(400, 200),
        reserve=(("CB-R04", (0, 0, 100, 100)),),
        sites=(
            Site("LY-004", "新羌社区留用土地（中大校区一）", "GIC2", (50, 40, 150, 100)),
            Site("LY-005", "新羌社区留用土地（中大校区二）", "R2", (260, 50, 360, 150)),
        ),
        zones=(("01", "GIC", (0, 0, 200, 200)), ("02", "G1", (200, 0, 400, 200))),
        plan_code="GM-FT-ZD",
        plan_name="中山大学深圳校区法定图则",
    ),
    # Under 3000 m² (2000 m²), and only partly covered by a statutory plan (2100 of 4200 m²).
    Frame(
        project="GM-ZB-004",
        index=0,
        size=(300, 200),
        reserve=(("CB-R05", (0, 0, 100, 100)),),
        sites=(Site("LY-006", "玉塘社区留用土地（华星光电）", "M1", (60, 50, 120, 120)),),
        zones=(("01", "M1", (0, 0, 90, 200)),),
        plan_code="GM-FT-HX",
        plan_name="华星光电片区法定图则",
    ),
    # No reserve land at all (a 20 m gap to CB-R06), and not covered by any statutory plan.
    Frame(
        project="GM-ZB-003",
        index=0,
        size=(300, 160),
        reserve=(("CB-R06", (0, 0, 100, 60)),),
        sites=(Site("LY-007", "塘家社区留用土地（外环高速）", "W1", (120, 0, 200, 60)),),
        zones=(("01", "U1", (0, 0, 100, 160)),),
        plan_code="GM-FT-WH",
        plan_name="外环高速沿线法定图则",
    ),
)

RULE_CASES: dict[str, dict[str, object]] = {
    # 3000 m² rule: reserve land occupied by the project's retained land, in total (m²).
    "reserve_none": {"project": "GM-ZB-003", "sites": ("LY-007",), "reserve_m2": 0.0},
    "reserve_under": {"project": "GM-ZB-004", "sites": ("LY-006",), "reserve_m2": 2000.0},
    "reserve_exact": {
        "project": "GM-ZB-005",
        "sites": ("LY-004", "LY-005"),
        "reserve_m2": 3000.0,
    },
    "reserve_over": {
        "project": "GM-ZB-001",
        "sites": ("LY-001", "LY-002", "LY-003"),
        "reserve_m2": 4200.0,
        "reserve_polygons": ("CB-R01", "CB-R02", "CB-R03"),
    },
    # Statutory plan coverage of one site (site area, covered area, m²).
    "plan_full": {"site": "LY-004", "site_m2": 6000.0, "covered_m2": 6000.0},
    "plan_partial": {"site": "LY-006", "site_m2": 4200.0, "covered_m2": 2100.0},
    "plan_none": {"site": "LY-007", "site_m2": 4800.0, "covered_m2": 0.0},
    # Planned use vs zone class (land_use_compatibility).
    "use_conflict": {"site": "LY-003", "land_use": "M1", "zone_class": "M0", "pair": "false"},
    "use_conflict_absent": {
        "site": "LY-005",
        "land_use": "R2",
        "zone_class": "G1",
        "pair": "absent",
    },
    "use_compatible": {"site": "LY-004", "land_use": "GIC2", "zone_class": "GIC", "pair": "true"},
}
"""Every rule branch of DOMAIN.md, with the constant codes that demonstrate it."""
