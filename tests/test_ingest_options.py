"""One options model for an upload: the API form, the CLI flags and the worker call agree."""

from __future__ import annotations

import pytest
from ingest_files import parcels, write_shp
from sqlalchemy import text
from typer.testing import CliRunner

from spatial.cli import app as cli
from spatial.errors import InvalidInput
from spatial.ingest import ingest
from spatial.ingest.options import IngestOptions

FIELDS = ["layer", "crs", "encoding", "mode", "dry_run", "strict", "source_layer"]


def test_the_model_holds_every_option_once():
    assert list(IngestOptions.model_fields) == FIELDS
    opts = IngestOptions.of("parcels", crs=" EPSG:4547 ", encoding="", mode="append")
    assert (opts.crs, opts.encoding, opts.mode) == ("EPSG:4547", None, "append")
    assert IngestOptions.model_validate_json(opts.model_dump_json()) == opts
    with pytest.raises(InvalidInput, match="no such ingest options: crss"):
        IngestOptions.of("parcels", crss="EPSG:4547")
    with pytest.raises(InvalidInput, match="mode"):
        IngestOptions.of("parcels", mode="merge")


def test_the_cli_flags_are_the_model_fields():
    out = CliRunner().invoke(cli, ["ingest", "--help"], env={"COLUMNS": "200"}).output
    for name in FIELDS:
        assert f"--{name.replace('_', '-')}" in out, name
    assert IngestOptions.model_fields["strict"].description in out


def test_the_upload_form_is_the_model(client):
    schema = client.get("/openapi.json").json()
    ref = schema["paths"]["/uploads"]["post"]["requestBody"]["content"]["multipart/form-data"]
    components = schema["components"]["schemas"]
    body = components[ref["schema"]["$ref"].rsplit("/", 1)[-1]]
    # the form is the model itself, plus the files (one, or a shapefile's parts, and the
    # mapping) and the upload page's transport fields (keep the checked file, progress id)
    assert body["allOf"] == [{"$ref": "#/components/schemas/IngestOptions"}]
    assert set(body["properties"]) == {"file", "parts", "mapping", "keep", "progress_id"}
    options = components["IngestOptions"]["properties"]
    assert list(options) == FIELDS
    assert options["mode"]["enum"] == ["replace", "append"]


def test_bad_options_are_a_recorded_refusal(db, tmp_path):
    shp = write_shp(parcels(2), tmp_path / "a")
    with pytest.raises(InvalidInput) as info:
        ingest(shp, "parcels", engine=db.engine, mode="merge")
    assert info.value.detail["report"]["status"] == "refused"
    with db.engine.connect() as conn:
        status = conn.execute(text("SELECT status::text FROM datasets")).scalars().all()
        audited = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'upload'")
        ).scalar_one()
    assert (status, audited) == (["failed"], 1)
