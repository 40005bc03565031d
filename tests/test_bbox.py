"""One bbox validator and storage shape (spatial.bbox); the whole-world bbox matches everything."""

from __future__ import annotations

import httpx
import layers_data
import pytest
import shapely
from sqlalchemy import text

from spatial.bbox import BBox, bbox_from, parse_bbox, storage_shape
from spatial.crs import transformer
from spatial.errors import BadRequest


def test_validation_is_one_set_of_rules():
    assert parse_bbox("1,2,3,4") == [1.0, 2.0, 3.0, 4.0]
    assert parse_bbox(None) is None
    for bad in ("1,2,3", "a,b,c,d", "1,2,3,nan", "1,2,3,inf", "1,2,3,4,5"):
        with pytest.raises(BadRequest):
            parse_bbox(bad)
    assert bbox_from([22.7, 113.9, 22.8, 114.0], 4326, north_first=True) == BBox(
        113.9, 22.7, 114.0, 22.8, 4326
    )
    assert bbox_from([1, 2, 0, 3, 4, 9], 4547) == BBox(1, 2, 3, 4, 4547)
    for values, srid in (([5, 5, 1, 1], 4547), ([-190, 0, 0, 1], 4326), ([0, 0, 1, 1], 999999)):
        with pytest.raises(BadRequest):
            bbox_from(values, srid)


def test_the_world_is_clamped_to_the_area_of_use():
    world = storage_shape(bbox_from([-180, -90, 180, 90], 4326))
    assert world is not None and world.is_valid
    assert len(shapely.get_coordinates(world)) <= 4 * 32 + 1
    # it covers the area of use of EPSG:4547 (112.5–115.5°E, 21.52–45.45°N), Shenzhen within
    t = transformer(4326, 4547)
    for lon, lat in ((113.75, 22.45), (114.62, 22.86), (112.6, 21.6), (115.4, 45.4)):
        assert world.covers(shapely.Point(t.transform(lon, lat))), (lon, lat)
    assert storage_shape(bbox_from([-10, 40, -5, 45], 4326)) is None  # outside: nothing
    # a small box keeps its edges: its corners transform exactly
    small = storage_shape(bbox_from([113.90, 22.70, 113.91, 22.71], 4326))
    assert small is not None
    assert small.covers(shapely.Point(t.transform(113.90, 22.70)))
    assert small.covers(shapely.Point(t.transform(113.91, 22.71)))
    # a degenerate box (a point) is a point
    assert storage_shape(bbox_from([500_000, 2_500_000, 500_000, 2_500_000], 4547)).geom_type == (
        "Point"
    )


def test_world_bbox_matches_every_feature(demo_db):
    """Was: numberMatched 0 on every collection (and 1.2-1.6 s: its cost is in bench/bbox.py)."""
    with demo_db.engine.connect() as conn:
        expected = {
            "parcels": conn.execute(text("SELECT count(*) FROM current_parcels")).scalar_one(),
            "projects": conn.execute(text("SELECT count(*) FROM current_projects")).scalar_one(),
        }
    with layers_data.running_server(demo_db.url) as base, httpx.Client(timeout=30) as c:
        collections = [col["id"] for col in c.get(f"{base}/collections").json()["collections"]]
        for cid in collections:
            everything = c.get(f"{base}/collections/{cid}/items", params={"limit": 1}).json()
            for bbox, crs in (
                ("-180,-90,180,90", None),
                ("-90,-180,90,180", "http://www.opengis.net/def/crs/EPSG/0/4326"),
                ("-90,-180,90,180", "http://www.opengis.net/def/crs/EPSG/0/4490"),
            ):
                params = {"limit": 1, "bbox": bbox, **({"bbox-crs": crs} if crs else {})}
                r = c.get(f"{base}/collections/{cid}/items", params=params)
                assert r.status_code == 200, r.text
                assert r.json()["numberMatched"] == everything["numberMatched"], (cid, crs)
        assert {k: v for k, v in expected.items()} == {
            k: c.get(
                f"{base}/collections/{k}/items", params={"limit": 1, "bbox": "-180,-90,180,90"}
            ).json()["numberMatched"]
            for k in expected
        }
