"""matplotlib helpers for notebooks: a CJK font when one is installed, English labels otherwise.

matplotlib's default DejaVu Sans has no Chinese glyphs: Chinese tick labels come out as boxes
with a warning per glyph. ``use_cjk_font`` picks an installed CJK font if there is one, and
``label`` then gives bilingual labels, or the English half when there is no such font.
"""

from __future__ import annotations

import logging

CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
    "AR PL UMing CN",
)
"""Font families tried in order (Debian: ``apt-get install fonts-noto-cjk``)."""

_state: dict[str, str | None] = {}


def use_cjk_font() -> str | None:
    """Make matplotlib use an installed CJK font; return its name, or None if there is none.

    Example
    -------
    >>> font = use_cjk_font()  # e.g. 'Noto Sans CJK SC', or None
    """
    if "font" in _state:
        return _state["font"]
    import matplotlib as mpl
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    font = next((name for name in CJK_FONTS if name in installed), None)
    if font is not None:
        # some CJK fonts ship one weight only; matplotlib logs that on every lookup
        logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
        mpl.rcParams["font.sans-serif"] = [font, *mpl.rcParams["font.sans-serif"]]
        mpl.rcParams["font.family"] = "sans-serif"
        mpl.rcParams["axes.unicode_minus"] = False
    _state["font"] = font
    return font


def label(zh: str, en: str, sep: str = " ") -> str:
    """``zh + sep + en`` when a CJK font is in use (see ``use_cjk_font``), else just ``en``.

    Example
    -------
    >>> label("原农村集体土地", "collective") in ("原农村集体土地 collective", "collective")
    True
    """
    return f"{zh}{sep}{en}" if use_cjk_font() else en
