"""The map layer of projects by stage and overdue: OGC API items, vector tiles that change
colour class when an event is recorded, and its place on the web map with its legend."""

from __future__ import annotations

import json
from datetime import date

import mapbox_vector_tile
import morecantile
from pyproj import Transformer

from spatial.budget.rates import Track
from spatial.models import Layer
from spatial.procedure.events import record_event
from spatial.procedure.projects import register_project
from spatial.procedure.status import china_today
from tests.analysis_data import X0, Y0, load, project

WMQ = morecantile.tms.get("WebMercatorQuad")


def tile_url(cell: int, z: int = 14) -> str:
    lon, lat = Transformer.from_crs(4547, 4326, always_xy=True).transform(
        X0 + 1000 * cell + 500, Y0 + 500
    )
    t = WMQ.tile(lon, lat, z)
    return f"/tiles/procedure_projects/{t.z}/{t.x}/{t.y}.pbf"


def test_projects_coloured_by_stage_and_overdue(db, client):
    load(db.engine, Layer.projects, [project("GM-ZB-101", 0), project("GM-ZB-102", 3)])
    today = china_today()
    register_project(db.engine, "GM-ZB-101", Track.land_readiness, False, "t", "planner")
    register_project(db.engine, "GM-ZB-102", Track.land_readiness, False, "t", "planner")
    # 101 entrusted Mon 2 Nov 2026: Art. 14 due Mon 9 Nov (3, 4, 5, 6, 9), overdue since 10 Nov
    record_event(
        db.engine, "GM-ZB-101", "entrusted", date(2026, 11, 2), None, "t", "planner", today
    )

    items = client.get("/collections/procedure_projects/items").json()
    props = {f["properties"]["project_code"]: f["properties"] for f in items["features"]}
    assert props["GM-ZB-101"]["map_class"] == "overdue"
    assert props["GM-ZB-101"]["overdue_count"] == 1
    assert props["GM-ZB-101"]["next_due"] == "2026-11-09"
    assert (props["GM-ZB-102"]["map_class"], props["GM-ZB-102"]["stage_zh"]) == (
        "not_started",
        "未开始",
    )
    assert items["numberMatched"] == 2

    tile = mapbox_vector_tile.decode(client.get(tile_url(0)).content)["procedure_projects"]
    assert [f["properties"]["map_class"] for f in tile["features"]] == ["overdue"]
    # the letters were sent on 6 Nov: the deadline is met, the project is in its preparation
    # phase, and the tile (cached by the procedure status) says so at once
    record_event(
        db.engine,
        "GM-ZB-101",
        "verification_letters_sent",
        date(2026, 11, 6),
        None,
        "t",
        "planner",
        today,
    )
    tile = mapbox_vector_tile.decode(client.get(tile_url(0)).content)["procedure_projects"]
    assert [
        (f["properties"]["map_class"], f["properties"]["stage_zh"]) for f in tile["features"]
    ] == [("preparation", "去函核查")]

    page = client.get("/map").text
    title = "项目程序进度 Project procedure stage"
    assert title in page or json.dumps(title) in page
    assert "/tiles/procedure_projects/{z}/{x}/{y}.pbf" in page
    legend = "已逾期 Overdue"
    assert (legend in page or json.dumps(legend) in page) and "#e53935" in page
