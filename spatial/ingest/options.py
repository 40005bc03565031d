"""The options of an upload, written once: the upload form, ``tuzheng ingest`` and the worker.

:class:`IngestOptions` is what a surveyor chooses for a file (the layer, the CRS and encoding
when the file does not say, replace or append, dry run, strict geometry, the dataset inside a
zip). The API reads it as the upload form (``Annotated[IngestOptions, Form()]``), the CLI
derives its flags from the fields (:func:`cli_signature`), and
:func:`~spatial.ingest.isolated.ingest_isolated` sends it to its worker process as JSON and
reads it back with :meth:`pydantic.BaseModel.model_validate`, so the three cannot drift apart.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from spatial.errors import InvalidInput
from spatial.schema import LayerSpec, declared

Mode = Literal["replace", "append"]


def ingest_layers() -> list[LayerSpec]:
    """The layers surveyors may upload into (declared ``ingest``), in declaration order."""
    return [spec for spec in declared() if spec.ingest]


def _layer_enum(schema: dict[str, Any]) -> None:
    """The upload layers as the ``layer`` field's enum, read when a schema is made (OpenAPI)."""
    schema["enum"] = [spec.name for spec in ingest_layers()]


class IngestOptions(BaseModel):
    """What an upload asks for (see the module docstring)."""

    # The upload form carries other fields too (the file, the CSRF token): ignored here;
    # keyword choices are checked by name in :meth:`of`.
    model_config = ConfigDict(frozen=True, extra="ignore")

    layer: str = Field(
        description="target layer: parcels, retained_land, state_reserve_land, "
        "statutory_plans, projects",
        json_schema_extra=_layer_enum,
    )
    crs: str | None = Field(
        None, description="EPSG:NNNN or gcj02; overrides the file's own CRS and inference"
    )
    encoding: str | None = Field(
        None, description="text encoding of a shapefile, e.g. GBK, UTF-8; overrides .cpg"
    )
    mode: Mode = Field("replace", description="replace (keep the old version) or append")
    dry_run: bool = Field(False, description="check and report, write nothing")
    strict: bool = Field(False, description="refuse invalid geometries instead of repairing")
    source_layer: str | None = Field(
        None, description="the dataset inside a zip, or the layer of a GeoPackage"
    )

    @field_validator("crs", "encoding", "source_layer", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        """An empty form field means "not given"."""
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("layer", mode="before")
    @classmethod
    def _layer_name(cls, value: Any) -> Any:
        """A layer given as its ``Layer`` member or its declaration is taken by name."""
        return value.name if isinstance(value, LayerSpec) else str(value)

    @classmethod
    def of(cls, layer: str | LayerSpec | IngestOptions, **choices: Any) -> IngestOptions:
        """Options from a layer (or options) and keyword choices, e.g. ``crs="EPSG:4547"``.

        Raises
        ------
        InvalidInput
            A choice that is not an option, or a value it cannot take (e.g. ``mode="x"``).
        """
        base = layer.model_dump() if isinstance(layer, IngestOptions) else {"layer": layer}
        unknown = sorted(set(choices) - set(cls.model_fields))
        if unknown:
            names = ", ".join(cls.model_fields)
            raise InvalidInput(
                f"没有这些导入选项：{', '.join(unknown)}（可用：{names}）",
                f"no such ingest options: {', '.join(unknown)} (options: {names})",
            )
        try:
            return cls.model_validate({**base, **choices})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            raise InvalidInput(
                f"导入选项无效：{problems}", f"invalid ingest options: {problems}"
            ) from None


def cli_signature(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Give a typer command one option per :class:`IngestOptions` field, after its own.

    The flags come from the field names (``--dry-run``, ``--source-layer``), their help from the
    field descriptions; ``--layer`` is required. The command receives them as keyword
    arguments, to pass to :meth:`IngestOptions.of`.
    """
    import typer

    own = [p for p in inspect.signature(fn).parameters.values() if p.kind != p.VAR_KEYWORD]
    extra = []
    for name, field in IngestOptions.model_fields.items():
        default = ... if field.is_required() else field.default
        flag = "--" + name.replace("_", "-")
        extra.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=typer.Option(default, flag, help=field.description),
                annotation=field.annotation,
            )
        )
    fn.__signature__ = inspect.Signature([*own, *extra])  # type: ignore[attr-defined]
    fn.__annotations__ = {**fn.__annotations__, **{p.name: p.annotation for p in extra}}
    return fn
