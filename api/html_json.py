"""JSON that is safe to embed in HTML: the one helper every page uses for data in markup.

Text from the database (project names, owners, anything a surveyor uploads) reaches pages as
JSON inside ``<script>`` blocks or attributes. ``json.dumps`` alone lets a value such as
``X</script><img src=x onerror=…>`` close the script element and inject markup. :func:`html_json`
escapes every character that can end a script element, start a comment or an entity, or end a
JavaScript line (``<``, ``>``, ``&``, ``'``, U+2028, U+2029) as a JSON ``\\uXXXX`` escape, so the
value decodes to exactly the same string in the browser and can never become markup.

Jinja2's ``tojson`` filter escapes the same characters (``<``, ``>``, ``&``, ``'``; it keeps
``ensure_ascii``, so U+2028/2029 are escaped too); :func:`install` makes an environment use
this helper for ``tojson`` so templates and hand-built pages share one definition.
"""

from __future__ import annotations

import json
from typing import Any

_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "'": "\\u0027",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_TABLE = str.maketrans(_ESCAPES)


def html_json(value: Any, **kwargs: Any) -> str:
    """``value`` as JSON text that is inert inside HTML (script blocks and attributes).

    Chinese text stays readable (no ``ensure_ascii``); only the characters listed in the module
    docstring are escaped, as JSON ``\\u`` escapes, which JSON.parse and JavaScript decode back.

    Examples
    --------
    >>> html_json({"name": "X</script><img src=x onerror=alert(1)>"})
    '{"name": "X\\\\u003c/script\\\\u003e\\\\u003cimg src=x onerror=alert(1)\\\\u003e"}'
    >>> html_json("光明 & 玉塘")
    '"光明 \\\\u0026 玉塘"'
    """
    kwargs.setdefault("ensure_ascii", False)
    return json.dumps(value, **kwargs).translate(_TABLE)


def install(env: Any) -> None:
    """Make a Jinja2 environment's ``tojson`` filter use :func:`html_json` (returns Markup)."""
    from markupsafe import Markup

    env.filters["tojson"] = lambda value, indent=None: Markup(html_json(value, indent=indent))
