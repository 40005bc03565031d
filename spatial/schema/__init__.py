"""Layer declarations: each layer's schema written once (:mod:`spatial.schema.layers`).

>>> from spatial.schema import layer_spec
>>> layer_spec("parcels").column("project_code").max_len
50
"""

from spatial.schema.layers import BUILTIN, OWNERSHIP, Layer
from spatial.schema.spec import (
    Column,
    ColumnKind,
    LayerRef,
    LayerSpec,
    Vocabulary,
    declared,
    layer_spec,
    register,
    unregister,
)

__all__ = [
    "BUILTIN",
    "OWNERSHIP",
    "Column",
    "ColumnKind",
    "Layer",
    "LayerRef",
    "LayerSpec",
    "Vocabulary",
    "declared",
    "layer_spec",
    "register",
    "unregister",
]
