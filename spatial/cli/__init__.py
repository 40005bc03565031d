"""The ``tuzheng`` command line. Each command group lives in its own module."""

from __future__ import annotations

import typer

from spatial.cli import dbcmd, democmd, servecmd, usercmd

app = typer.Typer(help="土整 tuzheng: Shenzhen land readiness GIS workbench", no_args_is_help=True)
app.add_typer(dbcmd.app, name="db")
app.add_typer(usercmd.app, name="user")
app.add_typer(democmd.app, name="demo")
servecmd.register(app)

# Optional command groups from later modules register themselves here.
for _mod in (
    "ingestcmd",
    "reviewcmd",
    "datasetscmd",
    "calendarcmd",
    "budgetcmd",
    "procedurecmd",
    "analysiscmd",
):
    try:
        _m = __import__(f"spatial.cli.{_mod}", fromlist=["register"])
    except ModuleNotFoundError as _exc:
        if _exc.name != f"spatial.cli.{_mod}":
            raise
        continue
    _m.register(app)
