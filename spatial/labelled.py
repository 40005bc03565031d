"""String enums whose members carry their Chinese and English labels, declared with them."""

from __future__ import annotations

import enum
from typing import Self


class LabelledEnum(enum.StrEnum):
    """A :class:`enum.StrEnum` whose members have a Chinese and an English label.

    Members are declared as ``code = "code", "中文标签", "English label"``; the value (and the
    string) is the code.

    Examples
    --------
    >>> class Colour(LabelledEnum):
    ...     red = "red", "红", "Red"
    >>> Colour("red").label_zh, Colour.red.label_en, str(Colour.red)
    ('红', 'Red', 'red')
    """

    _value_: str
    label_zh: str
    """Chinese label, as used in legends, reports and messages."""
    label_en: str
    """English label."""

    def __new__(cls, value: str, label_zh: str, label_en: str) -> Self:
        """A member of value ``value`` with its two labels."""
        member = str.__new__(cls, value)
        member._value_ = value
        member.label_zh = label_zh
        member.label_en = label_en
        return member
