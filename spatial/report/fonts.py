"""The CJK font the reports and figures embed (Debian ``fonts-wqy-zenhei``, installed by make).

reportlab embeds TrueType outlines only (not the CFF outlines of Noto CJK's OpenType files), so
the report uses WenQuanYi Zen Hei, a TrueType collection; matplotlib uses the same file, so the
figure and the text of a report share one typeface.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from spatial.errors import DomainError

CJK_FONT_FILES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
)
"""Font files tried in order (the first is what ``make`` installs: fonts-wqy-zenhei)."""

PDF_FONT = "TzCJK"
"""The name the font is registered under in reportlab."""


class FontMissing(DomainError):
    """No CJK font is installed, so a Chinese report cannot be made."""

    code = "font_missing"


@lru_cache(maxsize=1)
def cjk_font_file() -> Path:
    """Path of the installed CJK TrueType font; FontMissing (with the apt line) if none."""
    for path in CJK_FONT_FILES:
        if path.is_file():
            return path
    raise FontMissing(
        "未安装中文字体，无法生成报告（apt-get install fonts-wqy-zenhei）",
        "no CJK font is installed, so the report cannot be made (apt-get install fonts-wqy-zenhei)",
    )


@lru_cache(maxsize=1)
def register_pdf_font() -> str:
    """Register the CJK font with reportlab once; return its name (:data:`PDF_FONT`)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont(PDF_FONT, str(cjk_font_file()), subfontIndex=0))
    return PDF_FONT


@lru_cache(maxsize=1)
def matplotlib_font() -> str:
    """Add the CJK font to matplotlib's font manager once; return its family name."""
    from matplotlib import font_manager

    path = str(cjk_font_file())
    font_manager.fontManager.addfont(path)
    return font_manager.FontProperties(fname=path).get_name()
