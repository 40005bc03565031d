"""A small, safe CQL2-text parser that compiles filters to parameterised SQL.

Supported (OGC API Features Part 3, basic CQL2 plus ``LIKE`` and ``IN``)::

    prop = | <> | < | > | <= | >= literal
    prop [NOT] LIKE 'pattern'          (% and _ wildcards, \\ escapes)
    prop [NOT] IN (literal, ...)
    prop [NOT] BETWEEN literal AND literal
    prop IS [NOT] NULL
    expr AND expr, expr OR expr, NOT expr, ( expr )

Property names must be queryables of the collection (an allowlist); literals are strings in
single quotes (``''`` escapes a quote), numbers, ``TRUE`` / ``FALSE``. Every literal becomes a
bound parameter; property names become fixed SQL expressions from the registry. Anything else
(functions, unknown names, type mismatches, too long, too deep, too many items) raises
:class:`spatial.errors.BadRequest`. Parsing is linear in the input and bounded by the limits
below, so hostile inputs (1,600 nested parentheses, huge ``IN`` lists) fail fast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from spatial.errors import BadRequest
from spatial.layers.registry import Collection, Prop

MAX_LENGTH = 8192
"""Maximum filter length (characters)."""
MAX_DEPTH = 32
"""Maximum nesting of parentheses and NOT."""
MAX_TOKENS = 2000
"""Maximum number of tokens."""
MAX_IN_ITEMS = 500
"""Maximum number of values in one IN list."""

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<op><>|<=|>=|=|<|>|!=)
  | (?P<punct>[(),])
  | (?P<qident>"(?:[^"]|"")+")
  | (?P<word>[^\W\d][\w.:\-]*)
    """,
    re.VERBOSE | re.UNICODE,
)

_KEYWORDS = {"AND", "OR", "NOT", "LIKE", "IN", "BETWEEN", "IS", "NULL", "TRUE", "FALSE"}


def _bad(zh: str, en: str) -> BadRequest:
    return BadRequest(f"过滤条件无效：{zh}", f"invalid filter: {en}")


@dataclass(frozen=True)
class Token:
    """A lexical token: kind, value and position in the filter text."""

    kind: str
    value: str
    pos: int


def tokenize(text: str) -> list[Token]:
    """Split CQL2-text into tokens; BadRequest on any character it does not understand."""
    if len(text) > MAX_LENGTH:
        raise _bad(f"长度超过 {MAX_LENGTH} 个字符", f"longer than {MAX_LENGTH} characters")
    tokens: list[Token] = []
    pos = 0
    depth = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _bad(f"第 {pos} 个字符无法识别", f"unexpected character {text[pos]!r} at {pos}")
        kind = m.lastgroup or ""
        if kind != "ws":
            value = m.group()
            if kind == "word" and value.upper() in _KEYWORDS:
                kind, value = "kw", value.upper()
            tokens.append(Token(kind, value, pos))
            if kind == "punct":
                depth += {"(": 1, ")": -1}.get(value, 0)
                if depth > MAX_DEPTH:
                    raise _bad(f"嵌套超过 {MAX_DEPTH} 层", f"nested deeper than {MAX_DEPTH} levels")
            if len(tokens) > MAX_TOKENS:
                raise _bad(f"词元超过 {MAX_TOKENS} 个", f"more than {MAX_TOKENS} tokens")
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[Token], collection: Collection) -> None:
        self.toks = tokens
        self.i = 0
        self.col = collection
        self.params: list[Any] = []

    # -- helpers ---------------------------------------------------------------------------
    def peek(self) -> Token | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise _bad("条件不完整", "unexpected end of filter")
        self.i += 1
        return tok

    def accept_kw(self, *words: str) -> bool:
        tok = self.peek()
        if tok is not None and tok.kind == "kw" and tok.value in words:
            self.i += 1
            return True
        return False

    def expect_punct(self, p: str) -> None:
        tok = self.take()
        if tok.kind != "punct" or tok.value != p:
            raise _bad(f"此处应为 {p!r}", f"expected {p!r} at {tok.pos}, got {tok.value!r}")

    # -- grammar ---------------------------------------------------------------------------
    def parse(self) -> sql.Composable:
        if not self.toks:
            raise _bad("条件为空", "empty filter")
        out = self.or_expr(0)
        if self.peek() is not None:
            tok = self.take()
            raise _bad("条件末尾有多余内容", f"unexpected {tok.value!r} at {tok.pos}")
        return out

    def or_expr(self, depth: int) -> sql.Composable:
        parts = [self.and_expr(depth)]
        while self.accept_kw("OR"):
            parts.append(self.and_expr(depth))
        return parts[0] if len(parts) == 1 else sql.SQL("({})").format(sql.SQL(" OR ").join(parts))

    def and_expr(self, depth: int) -> sql.Composable:
        parts = [self.not_expr(depth)]
        while self.accept_kw("AND"):
            parts.append(self.not_expr(depth))
        if len(parts) == 1:
            return parts[0]
        return sql.SQL("({})").format(sql.SQL(" AND ").join(parts))

    def not_expr(self, depth: int) -> sql.Composable:
        if depth > MAX_DEPTH:
            raise _bad(f"嵌套超过 {MAX_DEPTH} 层", f"nested deeper than {MAX_DEPTH} levels")
        if self.accept_kw("NOT"):
            return sql.SQL("(NOT {})").format(self.not_expr(depth + 1))
        tok = self.peek()
        if tok is not None and tok.kind == "punct" and tok.value == "(":
            self.i += 1
            inner = self.or_expr(depth + 1)
            self.expect_punct(")")
            return inner
        return self.predicate()

    def prop(self) -> Prop:
        tok = self.take()
        if tok.kind == "qident":
            name = tok.value[1:-1].replace('""', '"')
        elif tok.kind == "word":
            name = tok.value
        else:
            raise _bad(
                "此处应为属性名", f"expected a property name at {tok.pos}, got {tok.value!r}"
            )
        nxt = self.peek()
        if nxt is not None and nxt.kind == "punct" and nxt.value == "(":
            raise _bad("不支持函数", f"functions are not supported: {name[:50]!r}")
        prop = self.col.prop(name)
        if prop is None:
            raise _bad(
                f"属性 {name[:50]!r} 不可查询",
                f"{name[:50]!r} is not a queryable of {self.col.id}; "
                f"queryables: {', '.join(p.name for p in self.col.properties)}",
            )
        return prop

    def literal(self, prop: Prop) -> sql.Composable:
        tok = self.take()
        value: Any
        if tok.kind == "string":
            value = tok.value[1:-1].replace("''", "'")
            if prop.type != "string":
                raise _bad(f"{prop.name} 需要数值", f"{prop.name} is a {prop.type}, got a string")
        elif tok.kind == "number":
            if prop.type not in ("integer", "number"):
                raise _bad(f"{prop.name} 需要文本", f"{prop.name} is a {prop.type}, got a number")
            try:
                value = int(tok.value) if prop.type == "integer" else float(tok.value)
            except ValueError:
                raise _bad("数值格式错误", f"{tok.value!r} is not an {prop.type}") from None
            if prop.type == "integer" and not -(2**63) <= value < 2**63:
                raise _bad("数值超出范围", f"{tok.value!r} is out of range")
        elif tok.kind == "kw" and tok.value in ("TRUE", "FALSE"):
            if prop.type != "boolean":
                raise _bad(f"{prop.name} 不是布尔值", f"{prop.name} is a {prop.type}")
            value = tok.value == "TRUE"
        else:
            raise _bad("此处应为值", f"expected a literal at {tok.pos}, got {tok.value!r}")
        return self._bind(value)

    def _bind(self, value: Any) -> sql.Composable:
        self.params.append(value)
        return sql.Placeholder()

    def predicate(self) -> sql.Composable:
        prop = self.prop()
        col = prop.sql()
        negate = self.accept_kw("NOT")
        if self.accept_kw("LIKE"):
            if prop.type != "string":
                raise _bad(
                    "LIKE 只能用于文本属性", f"LIKE needs a string property, not {prop.name}"
                )
            op = "NOT LIKE" if negate else "LIKE"
            return sql.SQL("({} " + op + " {})").format(col, self.literal(prop))
        if self.accept_kw("IN"):
            self.expect_punct("(")
            values = [self.literal(prop)]
            while True:
                tok = self.take()
                if tok.kind == "punct" and tok.value == ")":
                    break
                if tok.kind != "punct" or tok.value != ",":
                    raise _bad("IN 列表格式错误", f"expected ',' or ')' at {tok.pos}")
                values.append(self.literal(prop))
                if len(values) > MAX_IN_ITEMS:
                    raise _bad(
                        f"IN 列表超过 {MAX_IN_ITEMS} 项", f"IN list longer than {MAX_IN_ITEMS}"
                    )
            op = "NOT IN" if negate else "IN"
            return sql.SQL("({} " + op + " ({}))").format(col, sql.SQL(", ").join(values))
        if self.accept_kw("BETWEEN"):
            lo = self.literal(prop)
            if not self.accept_kw("AND"):
                raise _bad("BETWEEN 缺少 AND", "BETWEEN needs AND")
            hi = self.literal(prop)
            op = "NOT BETWEEN" if negate else "BETWEEN"
            return sql.SQL("({} " + op + " {} AND {})").format(col, lo, hi)
        if negate:
            raise _bad("NOT 的位置错误", "NOT must precede LIKE, IN or BETWEEN here")
        if self.accept_kw("IS"):
            neg = self.accept_kw("NOT")
            if not self.accept_kw("NULL"):
                raise _bad("IS 之后应为 NULL", "expected NULL after IS")
            return sql.SQL("({} IS NOT NULL)" if neg else "({} IS NULL)").format(col)
        tok = self.take()
        if tok.kind != "op":
            raise _bad(
                "此处应为比较运算符", f"expected an operator at {tok.pos}, got {tok.value!r}"
            )
        op = "<>" if tok.value == "!=" else tok.value
        return sql.SQL("({} " + op + " {})").format(col, self.literal(prop))


def compile_filter(text: str, collection: Collection) -> tuple[sql.Composable, list[Any]]:
    """Compile CQL2-text ``text`` into a SQL condition over alias ``t`` and its parameters.

    Parameters
    ----------
    text : str
        The filter, e.g. ``category = 'collective' AND area_m2 > 3000``.
    collection : Collection
        Supplies the allowlist of queryable properties and their types.

    Returns
    -------
    (condition, params)
        ``condition`` uses ``%s`` placeholders, in the order of ``params``.

    Raises
    ------
    BadRequest
        On any syntax error, unknown property, type mismatch or limit exceeded.

    Examples
    --------
    >>> from spatial.layers.registry import build_registry
    >>> cond, params = compile_filter("code IN ('a', 'b')", build_registry().get("parcels"))
    >>> params
    ['a', 'b']
    """
    parser = _Parser(tokenize(text), collection)
    condition = parser.parse()
    return condition, parser.params
