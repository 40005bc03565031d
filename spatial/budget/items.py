"""Compensation items: direct compensation and technical-support fees, entered or from Excel.

Categories follow Art. 15: direct compensation (直接补偿费) for land, buildings and structures,
fixtures, seedlings, relocation, business losses and temporary housing; technical-support fees
(技术支持费) for surveying, valuation, their supervision, investigation, tendering, demolition,
audit and other third-party services.

An Excel sheet (.xlsx, first sheet) has one header row with these columns (Chinese or English;
full-width brackets and spaces are ignored): 费用类型 (``section``: 直接补偿费 / 技术支持费),
类别 (``category``: the Chinese label or the code), 名称 (``description``), 数量
(``quantity``, optional), 单位 (``unit``, optional), 金额（元） (``amount``, yuan). Every bad row
is reported with its row number and field in Chinese and English; nothing is saved unless
every row is good.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from decimal import Decimal
from io import BytesIO
from typing import Any

from pydantic import BaseModel, Field, field_validator

from spatial.budget.money import parse_yuan
from spatial.errors import InvalidInput, TooLarge
from spatial.procedure.text import CleanText

MAX_ROWS = 10_000
MAX_XLSX_BYTES = 10 * 1024 * 1024


class Section(enum.StrEnum):
    """Which part of the total compensation cost an item belongs to (Art. 15(三))."""

    direct = "direct"
    technical = "technical"


SECTION_LABELS_ZH = {Section.direct: "直接补偿费", Section.technical: "技术支持费"}

CATEGORIES: dict[Section, dict[str, str]] = {
    Section.direct: {
        "land": "土地",
        "building": "建（构）筑物",
        "fixture": "附着物",
        "seedling": "苗木",
        "relocation": "搬迁费",
        "business_loss": "停产停业补偿费",
        "temporary_housing": "临时安置费",
        "other": "其他",
    },
    Section.technical: {
        "survey": "测绘",
        "valuation": "评估",
        "survey_supervision": "测绘监理",
        "valuation_supervision": "评估督导",
        "investigation": "勘察",
        "planning_study": "规划研究",
        "tender": "招标",
        "demolition": "房屋拆除",
        "audit": "审计",
        "other": "其他",
    },
}


class BudgetItem(BaseModel):
    """One compensation item or fee; ``amount`` in yuan, whole fen, more than zero."""

    section: Section
    category: CleanText = Field(min_length=1, max_length=40)
    description: CleanText = Field(min_length=1, max_length=200)
    quantity: Decimal | None = Field(default=None, ge=0, max_digits=16, decimal_places=4)
    unit: CleanText | None = Field(default=None, max_length=20)
    amount: Decimal

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, v: Any) -> Decimal:
        d = parse_yuan(v)
        if d <= 0:
            raise ValueError("金额须大于 0 / the amount must be more than 0")
        return d

    @field_validator("category")
    @classmethod
    def _category(cls, v: str, info: Any) -> str:
        section = info.data.get("section")
        if section is not None and v not in CATEGORIES[section]:
            known = ", ".join(CATEGORIES[section])
            raise ValueError(f"未知类别 unknown category {v!r} (known: {known})")
        return v

    @property
    def category_zh(self) -> str:
        """The Chinese label of the category."""
        return CATEGORIES[self.section][self.category]


def _norm(header: object) -> str:
    text = str(header or "").strip().lower()
    text = text.replace("（", "(").replace("）", ")").replace(" ", "").replace("\u3000", "")
    return text


HEADERS: dict[str, tuple[str, ...]] = {
    "section": ("费用类型", "费用类别", "section"),
    "category": ("类别", "项目类别", "category"),
    "description": ("名称", "名称/说明", "说明", "description"),
    "quantity": ("数量", "quantity"),
    "unit": ("单位", "unit"),
    "amount": ("金额(元)", "金额", "amount", "amount(yuan)"),
}
FIELD_LABELS_ZH = {
    "section": "费用类型",
    "category": "类别",
    "description": "名称",
    "quantity": "数量",
    "unit": "单位",
    "amount": "金额（元）",
}
REQUIRED = ("section", "category", "description", "amount")


def _lookup(labels: Mapping[Any, str], value: object) -> str | None:
    """The code for a Chinese label or a code (whitespace and brackets normalised)."""
    v = _norm(value)
    for code, zh in labels.items():
        if v in (code, _norm(zh)):
            return code
    return None


def _problem(row: int, field: str, zh: str, en: str) -> dict[str, Any]:
    return {
        "row": row,
        "field": field,
        "field_zh": FIELD_LABELS_ZH.get(field, field),
        "message_zh": f"第 {row} 行「{FIELD_LABELS_ZH.get(field, field)}」：{zh}",
        "message_en": f"row {row}, {field}: {en}",
    }


def _text(v: object) -> str | None:
    if v is None:
        return None
    s = str(v).replace("\x00", "").strip()
    return s or None


def _row_item(
    row: int, cells: dict[str, object], problems: list[dict[str, Any]]
) -> BudgetItem | None:
    """One sheet row as an item, or None after adding its problems."""
    start = len(problems)
    for f in REQUIRED:
        if _text(cells.get(f)) is None:
            problems.append(_problem(row, f, "不能为空", "is empty"))
    if len(problems) > start:
        return None
    sec_code = _lookup(SECTION_LABELS_ZH, cells["section"])
    if sec_code is None:
        problems.append(
            _problem(
                row,
                "section",
                f"应为 直接补偿费 或 技术支持费，而不是 {cells['section']!r}",
                f"must be 直接补偿费 (direct) or 技术支持费 (technical), not {cells['section']!r}",
            )
        )
        return None
    section = Section(sec_code)
    category = _lookup(CATEGORIES[section], cells["category"])
    if category is None:
        known = "、".join(CATEGORIES[section].values())
        problems.append(
            _problem(
                row,
                "category",
                f"未知类别 {cells['category']!r}（可用：{known}）",
                f"unknown category {cells['category']!r} for {section.value}",
            )
        )
    try:
        amount = parse_yuan(cells["amount"])
        if amount <= 0:
            raise ValueError("金额须大于 0 / the amount must be more than 0")
    except ValueError as exc:
        zh, _, en = str(exc).partition(" / ")
        problems.append(_problem(row, "amount", zh, en or zh))
        amount = None
    quantity: Decimal | None = None
    if _text(cells.get("quantity")) is not None:
        q = cells["quantity"]
        try:
            quantity = (
                Decimal(repr(q)) if isinstance(q, float) else Decimal(str(q).replace(",", ""))
            )
            if not quantity.is_finite() or quantity < 0:
                raise ValueError
        except (ValueError, ArithmeticError):
            problems.append(
                _problem(row, "quantity", f"不是非负数：{q!r}", f"not a number ≥ 0: {q!r}")
            )
    description = _text(cells["description"]) or ""
    if len(description) > 200:
        problems.append(_problem(row, "description", "超过 200 字", "longer than 200 characters"))
    unit = _text(cells.get("unit"))
    if unit is not None and len(unit) > 20:
        problems.append(_problem(row, "unit", "超过 20 字", "longer than 20 characters"))
    if len(problems) > start or category is None or amount is None:
        return None
    return BudgetItem(
        section=section,
        category=category,
        description=description,
        quantity=quantity,
        unit=unit,
        amount=amount,
    )


MAX_XLSX_UNPACKED = 100 * 1024 * 1024
MAX_XLSX_MEMBERS = 1000


def _check_zip(data: bytes, file_name: str) -> None:
    """An .xlsx is a zip: refuse one that would unpack to more than MAX_XLSX_UNPACKED bytes
    or hold more than MAX_XLSX_MEMBERS members (a decompression bomb), before parsing."""
    import zipfile

    try:
        with zipfile.ZipFile(BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise InvalidInput(
            f"{file_name}：不是有效的 Excel 工作簿（.xlsx）",
            f"{file_name}: not a valid Excel workbook (.xlsx)",
            file=file_name,
        ) from exc
    if len(infos) > MAX_XLSX_MEMBERS or sum(i.file_size for i in infos) > MAX_XLSX_UNPACKED:
        raise TooLarge(
            f"{file_name}：解压后超过 {MAX_XLSX_UNPACKED // 1024 // 1024} MB",
            f"{file_name}: unpacks to more than {MAX_XLSX_UNPACKED // 1024 // 1024} MB",
            file=file_name,
        )


def read_items_xlsx(data: bytes, file_name: str = "upload.xlsx") -> list[BudgetItem]:
    """The items of the first sheet of an .xlsx workbook; all or nothing.

    Raises
    ------
    InvalidInput (422)
        Not a workbook, missing columns, or bad rows: ``problems`` lists each with ``row``
        (the spreadsheet's row number) and ``field``, with Chinese and English messages.
    TooLarge (413)
        More than :data:`MAX_XLSX_BYTES` or :data:`MAX_ROWS` rows.
    """
    from openpyxl import load_workbook

    if len(data) > MAX_XLSX_BYTES:
        raise TooLarge(
            f"{file_name}：文件超过 {MAX_XLSX_BYTES // 1024 // 1024} MB",
            f"{file_name}: file larger than {MAX_XLSX_BYTES // 1024 // 1024} MB",
        )
    _check_zip(data, file_name)
    try:
        wb = load_workbook(BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise InvalidInput(
            f"{file_name}：不是有效的 Excel 工作簿（.xlsx）",
            f"{file_name}: not a valid Excel workbook (.xlsx)",
            file=file_name,
        ) from exc
    try:
        rows = wb.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None) or ()
        columns: dict[str, int] = {}
        for i, h in enumerate(header):
            name = _norm(h)
            for f, names in HEADERS.items():
                if name in {_norm(x) for x in names} and f not in columns:
                    columns[f] = i
        missing = [f for f in REQUIRED if f not in columns]
        if missing:
            zh = "、".join(FIELD_LABELS_ZH[f] for f in missing)
            raise InvalidInput(
                f"{file_name}：第 1 行缺少列：{zh}",
                f"{file_name}: row 1 lacks the column(s): {', '.join(missing)}",
                file=file_name,
                problems=[_problem(1, f, "缺少此列", "column missing") for f in missing],
            )
        items: list[BudgetItem] = []
        problems: list[dict[str, Any]] = []
        for n, values in enumerate(rows, start=2):
            if n - 1 > MAX_ROWS:
                raise TooLarge(
                    f"{file_name}：超过 {MAX_ROWS} 行", f"{file_name}: more than {MAX_ROWS} rows"
                )
            cells = {f: values[i] if i < len(values) else None for f, i in columns.items()}
            if all(_text(v) is None for v in cells.values()):
                continue  # blank row
            item = _row_item(n, cells, problems)
            if item is not None:
                items.append(item)
    finally:
        wb.close()
    if problems:
        raise InvalidInput(
            f"{file_name}：{len({p['row'] for p in problems})} 行有错误，未导入任何数据",
            f"{file_name}: {len({p['row'] for p in problems})} row(s) have errors; "
            "nothing was imported",
            file=file_name,
            problems=problems[:200],
            problem_count=len(problems),
        )
    if not items:
        raise InvalidInput(f"{file_name}：没有数据行", f"{file_name}: no item rows", file=file_name)
    return items


def totals(items: Iterable[BudgetItem]) -> tuple[Decimal, Decimal]:
    """(direct compensation, technical-support fees) of ``items``, yuan (exact sums)."""
    direct = technical = Decimal("0.00")
    for it in items:
        if it.section is Section.direct:
            direct += it.amount
        else:
            technical += it.amount
    return direct, technical
