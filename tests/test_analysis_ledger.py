import pytest
import shapely
from analysis_data import X0, load_layers, parcel, project, rect, site
from pyproj import Proj, Transformer

from spatial.analysis import area_ledger, retained_land_composition
from spatial.errors import NotFound
from spatial.models import Layer


def ledger_layers():
    """Project LED (cell 0, 1000 × 1000 = 1,000,000 m²) with:

    - collective 0..500 × 0..1000 (500,000), state_farm 500..1000 × 0..800 (400,000);
    - state_owned 400..600 × 0..100 (20,000), lying wholly over the two: an overlap;
    - incomplete_acquisition 1000..1100 × 0..100 (10,000), wholly outside the boundary;
    - so the gap is 500..1000 × 800..1000 = 100,000 m².
    Project CLEAN (cell 2): four parcels tiling it exactly.
    A retained site in LED straddling collective / state_farm / the gap.
    """
    parcels = [
        parcel("L-1", "collective", "LED", rect(0, 0, 500, 1000)),
        parcel("L-2", "state_farm", "LED", rect(500, 0, 1000, 800)),
        parcel("L-3", "state_owned", "LED", rect(400, 0, 600, 100)),
        parcel("L-4", "incomplete_acquisition", "LED", rect(1000, 0, 1100, 100)),
    ]
    cats = ["collective", "state_farm", "incomplete_acquisition", "state_owned"]
    for i, cat in enumerate(cats):
        parcels.append(parcel(f"C-{i}", cat, "CLEAN", rect(250 * i, 0, 250 * i + 250, 1000, 2)))
    return {
        Layer.projects: [project("LED", 0), project("CLEAN", 2)],
        Layer.parcels: parcels,
        Layer.retained_land: [site("LED-L1", "LED", rect(450, 750, 550, 850))],
    }


@pytest.fixture
def ledger_db(db):
    load_layers(db.engine, ledger_layers())
    return db


def test_ledger_adds_up_with_gap_overlap_outside(ledger_db):
    led = area_ledger(ledger_db.engine, "LED")
    planar = {ln.key: round(ln.planar_m2, 6) for ln in led.lines}
    assert planar == {
        "collective": 500000.0,
        "state_farm": 400000.0,
        "incomplete_acquisition": 10000.0,
        "state_owned": 20000.0,
        "overlaps": 20000.0,
        "outside": 10000.0,
        "gaps": 100000.0,
        "total": 1000000.0,
    }
    counts = {ln.key: ln.parcel_count for ln in led.lines if ln.kind == "category"}
    assert counts == {
        "collective": 1,
        "state_farm": 1,
        "incomplete_acquisition": 1,
        "state_owned": 1,
    }
    assert led.parcel_count == 4
    assert [ln.sign for ln in led.lines] == [1, 1, 1, 1, -1, -1, 1, 0]
    assert led.line("collective").label_zh == "原农村集体土地"
    assert led.line("collective").share == pytest.approx(0.5)
    assert led.line("gaps").label_zh == "缝隙（无宗地覆盖）"
    assert led.adds_up
    assert abs(led.closure_planar_m2) < 1e-6 and abs(led.closure_ellipsoidal_m2) < 1e-6
    # the ellipsoidal lines add up too
    e = {ln.key: ln.ellipsoidal_m2 for ln in led.lines}
    cat_sum = sum(
        e[c] for c in ("collective", "state_farm", "incomplete_acquisition", "state_owned")
    )
    assert cat_sum - e["overlaps"] - e["outside"] + e["gaps"] == pytest.approx(e["total"], abs=1e-3)
    assert "EPSG:4547" in led.planar_method and "4490" in led.ellipsoidal_method
    frame = led.to_frame()
    assert list(frame["key"])[-1] == "total"


def test_clean_project_and_district(ledger_db):
    clean = area_ledger(ledger_db.engine, "CLEAN")
    assert clean.line("gaps").planar_m2 == pytest.approx(0, abs=1e-6)
    assert clean.line("overlaps").planar_m2 == pytest.approx(0, abs=1e-6)
    assert all(
        ln.planar_m2 == pytest.approx(250000.0) for ln in clean.lines if ln.kind == "category"
    )
    district = area_ledger(ledger_db.engine)
    assert district.scope == "district"
    assert district.parcel_count == 8
    # union of all parcels: LED's 910,000 (gap excluded) + CLEAN's 1,000,000
    assert district.total_planar_m2 == pytest.approx(1_910_000.0)
    assert district.line("overlaps").planar_m2 == pytest.approx(20000.0)
    assert district.adds_up


def test_composition(ledger_db):
    comp = retained_land_composition(ledger_db.engine, "LED")
    (s,) = comp.sites
    assert s.site_area_m2 == pytest.approx(10000.0)
    assert s.categories_m2["collective"] == pytest.approx(5000.0)
    assert s.categories_m2["state_farm"] == pytest.approx(2500.0)
    assert s.categories_m2["state_owned"] == 0.0
    assert s.no_parcel_m2 == pytest.approx(2500.0)
    assert s.parcel_count == 2
    assert list(comp.to_frame().columns)[5:9] == [
        "collective",
        "state_farm",
        "incomplete_acquisition",
        "state_owned",
    ]


def test_unknown_project(ledger_db):
    with pytest.raises(NotFound) as exc:
        area_ledger(ledger_db.engine, "NOPE")
    assert exc.value.message_zh == "整备项目不存在：NOPE"


@pytest.mark.parametrize("easting", [474_000.0, 500_000.0, 564_000.0])
def test_planar_vs_ellipsoidal_scale(db, easting):
    # 1 km squares at Shenzhen's west edge, the central meridian and the east edge of 4547
    y = 2_500_000.0
    sq = shapely.box(easting - 500, y - 500, easting + 500, y + 500)
    dx = easting - X0
    load_layers(
        db.engine,
        {
            Layer.projects: [
                {"code": "SQ", "name": "方块", "district": None, "stage": None, "geometry": sq}
            ],
            Layer.parcels: [parcel("SQ-1", "collective", "SQ", sq)],
        },
    )
    led = area_ledger(db.engine, "SQ")
    lon, lat = Transformer.from_crs(4547, 4490, always_xy=True).transform(easting, y)
    k2 = Proj("EPSG:4547").get_factors(lon, lat).areal_scale
    ratio = led.total_planar_m2 / led.total_ellipsoidal_m2
    assert led.total_planar_m2 == pytest.approx(1_000_000.0)
    assert ratio == pytest.approx(k2, rel=2e-6)
    # Gauss-Kruger: areal scale ≈ 1 + (dx / R)²; about 1e-4 at Shenzhen's east edge (64 km)
    assert ratio - 1 == pytest.approx((dx / 6_371_000.0) ** 2, rel=0.05, abs=2e-6)
    if easting == 564_000.0:
        assert 0.9e-4 < ratio - 1 < 1.1e-4
