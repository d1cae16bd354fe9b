"""Export step: formatted Excel tables, the Word chart pack 《驻点工作评估图表汇编》 and a static index page.

Everything written here is **deterministic** (the same inputs give the same bytes, so a rebuilt
report pack can be compared with ``cmp``) and **atomic** (written to a temporary file in the
target folder and moved into place with ``os.replace``, so a reader never sees half a file).

Text cells of the Excel tables are neutralised against formula injection: county submissions
are untrusted, and a name such as ``=HYPERLINK(...)`` must stay text when a colleague opens the
workbook.  Such cells are written with ``write_string`` and Excel's *quote prefix* (the
apostrophe that Excel itself shows for "text that looks like a formula"), so the value is kept
exactly and never evaluated.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import os
import unicodedata
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.fileio import atomic_write
from analysis.ingest.guards import is_formula_like  # one definition for every writer

__all__ = [
    "COLUMN_LABELS",
    "FIXED_TIMESTAMP",
    "REPORT_TITLE",
    "ExportError",
    "FigureItem",
    "TableItem",
    "column_header",
    "is_formula_like",
    "write_docx",
    "write_index_html",
    "write_table_xlsx",
]

FIXED_TIMESTAMP = dt.datetime(2014, 1, 31, 0, 0, 0)
"""Creation date written into every workbook and document (end of round 2).  A fixed date makes
the files byte-identical across builds; the real build time belongs in the build log, not in the
file."""

REPORT_TITLE = "驻点工作评估图表汇编"

COLUMN_LABELS: dict[str, str] = {
    "county_code": "县级单位代码",
    "base_code": "比较基准代码",
    "county": "县级单位",
    "county_name": "县级单位",
    "name": "名称",
    "prefecture": "市州",
    "prefecture_name": "市州",
    "period": "时期",
    "round": "轮次",
    "batch": "批次",
    "indicator": "指标",
    "index": "指数",
    "value": "数值",
    "score": "得分",
    "weight": "权重",
    "rank": "排名",
    "rank_low": "排名下限",
    "rank_high": "排名上限",
    "rank_range": "排名区间",
    "n_units": "单位数",
    "grade": "等级",
    "flag": "预警",
    "change": "变化",
    "estimate": "估计值",
    "se": "标准误",
    "ci_low": "置信区间下限",
    "ci_high": "置信区间上限",
    "n": "样本数",
    "weight_share": "权重覆盖率",
    "n_indicators": "指标数",
}
"""Default Chinese headers of the house column codes; a ``labels`` argument overrides them."""

# Integer columns that are identifiers or small ordinals: no thousands separator (2,013 would
# read as a count, not a year).
_PLAIN_INTEGER = {"year", "round", "batch", "rank", "rank_low", "rank_high", "n_units", "n",
                  "n_indicators", "number"}
_INVALID_SHEET_CHARS = set("[]:*?/\\")


class ExportError(ValueError):
    """The tables or figures handed to an export function cannot be written as asked."""


# --------------------------------------------------------------------------- helpers


def _atomic_write(path: Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def _catalog_lookup() -> tuple[dict[str, str], dict[str, str]]:
    # imported lazily: the export step must work on plain tables even without the catalog file
    try:
        from analysis.catalog import load_catalog

        cat = load_catalog()
    except Exception:  # noqa: BLE001 - a missing catalog only costs the Chinese names
        return {}, {}
    return dict(zip(cat["code"], cat["name_zh"])), dict(zip(cat["code"], cat["unit"]))


def column_header(column: str, labels: Mapping[str, str] | None = None,
                  units: Mapping[str, str] | None = None) -> str:
    """Chinese header of a column code, with its unit in full-width brackets.

    Order of lookup: ``labels``, then the indicator catalog's ``name_zh`` (for indicator
    codes), then :data:`COLUMN_LABELS`, else the code itself.  The unit comes from ``units`` or
    the catalog (``是/否`` and empty units are not shown).

    Parameters
    ----------
    column : column code, e.g. ``"dues_rate"``.
    labels : column code → Chinese header.
    units : column code → unit (``"%"``, ``"个"``, ``"元/人"``).

    Returns
    -------
    str
        e.g. ``"团费收缴率（%）"``.
    """
    names, cat_units = _catalog_lookup()
    labels = labels or {}
    units = units or {}
    name = labels.get(column) or names.get(column) or COLUMN_LABELS.get(column) or str(column)
    unit = units.get(column, cat_units.get(column, ""))
    if unit and unit != "是/否" and not name.endswith(f"（{unit}）"):
        return f"{name}（{unit}）"
    return name


def _display_width(text: str) -> int:
    # East-Asian wide characters take two columns of a fixed-width cell
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _check_sheet_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ExportError(f"write_table_xlsx: sheet name {name!r} is empty; give each table a name")
    bad = sorted(set(name) & _INVALID_SHEET_CHARS)
    if bad or len(name) > 31:
        raise ExportError(
            f"write_table_xlsx: sheet name {name!r} is not allowed by Excel "
            f"({'characters ' + ''.join(bad) if bad else 'longer than 31 characters'}); "
            "shorten it or drop [ ] : * ? / \\"
        )
    return name


def _number_format(column: str, series: pd.Series, unit: str,
                   decimals: Mapping[str, int]) -> tuple[str | None, str]:
    """(Excel number format, kind) for a column; kind is 'int', 'float', 'bool' or 'text'."""
    if pd.api.types.is_bool_dtype(series):
        return None, "bool"
    if pd.api.types.is_integer_dtype(series):
        return ("0" if column in _PLAIN_INTEGER else "#,##0"), "int"
    if pd.api.types.is_float_dtype(series):
        finite = series[np.isfinite(series.to_numpy(dtype=float))]
        if column not in decimals and len(finite) and (finite == np.round(finite)).all():
            # whole numbers stored as float only because a value may be missing (ranks, counts)
            return ("0" if column in _PLAIN_INTEGER else "#,##0"), "float"
        # percents carry one decimal (85.3 %), everything else two, unless told otherwise
        d = decimals.get(column, 1 if unit == "%" else 2)
        if d == 0:
            return "#,##0", "float"
        return "#,##0." + "0" * d, "float"
    return None, "text"


def _as_frame(table: pd.DataFrame, where: str) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise ExportError(f"{where}: expected a pandas DataFrame, got {type(table).__name__}")
    if not isinstance(table.index, pd.RangeIndex):
        # a meaningful index (county, period) is data: keep it as columns
        table = table.reset_index()
    if table.columns.duplicated().any():
        dup = table.columns[table.columns.duplicated()].tolist()
        raise ExportError(f"{where}: duplicated column(s) {dup}; rename them before export")
    return table


# --------------------------------------------------------------------------- Excel


def write_table_xlsx(
    tables: Mapping[str, pd.DataFrame] | pd.DataFrame,
    path: str | os.PathLike,
    *,
    titles: Mapping[str, str] | str | None = None,
    notes: Mapping[str, str] | str | None = None,
    labels: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    decimals: Mapping[str, int] | None = None,
) -> Path:
    """Write one or more tidy tables to a formatted Excel workbook, deterministically and atomically.

    Each sheet has a title row, a bold wrapped header of Chinese column names (units in
    brackets), the data with number formats (numbers stay numbers), a frozen header and a
    ``数据来源：…`` note under the table.  Percentages are stored as numbers on the 0–100 scale
    with ``（%）`` in the header (so 85.3 means 85.3 %).  Text that a spreadsheet would read as a
    formula is written as a quoted string (see module docstring).

    Parameters
    ----------
    tables : one DataFrame (sheet ``表1``) or a mapping sheet name → DataFrame (sheet order kept).
    path : the ``.xlsx`` file to write (parent folders are created).
    titles : title per sheet (mapping) or one title for a single table; default the sheet name.
    notes : source note per sheet, or one note for all; ``数据来源：`` is prefixed if missing.
    labels : column code → Chinese header (overrides catalog and :data:`COLUMN_LABELS`).
    units : column code → unit shown in the header (``"%"``, ``"个"``); catalog units by default.
    decimals : column code → decimals of a float column (default 1 for %, else 2).

    Returns
    -------
    Path
        The workbook written.
    """
    import xlsxwriter

    if isinstance(tables, pd.DataFrame):
        tables = {"表1": tables}
    if not isinstance(tables, Mapping) or not tables:
        raise ExportError("write_table_xlsx: give a DataFrame or a non-empty mapping sheet name → DataFrame")
    names = [_check_sheet_name(n) for n in tables]
    lowered = [n.lower() for n in names]
    if len(set(lowered)) != len(lowered):
        raise ExportError(f"write_table_xlsx: sheet names {names} repeat (Excel ignores case); rename one")

    def per_sheet(arg: Mapping[str, str] | str | None, sheet: str, default: str | None) -> str | None:
        if arg is None:
            return default
        if isinstance(arg, str):
            return arg
        return arg.get(sheet, default)

    _, cat_units = _catalog_lookup()
    all_units = {**cat_units, **(units or {})}
    decimals = dict(decimals or {})
    path = Path(path)
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True, "nan_inf_to_errors": True})
    # fixed creation date: xlsxwriter otherwise stamps the current time into docProps/core.xml
    wb.set_properties({"created": FIXED_TIMESTAMP, "author": "analysis", "title": REPORT_TITLE})
    f_title = wb.add_format({"bold": True, "font_size": 13, "font_name": "等线"})
    f_header = wb.add_format({"bold": True, "text_wrap": True, "valign": "vcenter", "align": "center",
                              "bg_color": "#E8EEF4", "border": 1, "font_name": "等线"})
    f_text = wb.add_format({"font_name": "等线"})
    f_quoted = wb.add_format({"font_name": "等线", "quote_prefix": True})
    f_note = wb.add_format({"italic": True, "font_color": "#555555", "font_name": "等线"})
    number_formats: dict[str, object] = {}

    def num_format(spec: str):
        if spec not in number_formats:
            number_formats[spec] = wb.add_format({"num_format": spec, "font_name": "等线"})
        return number_formats[spec]

    for sheet in names:
        where = f"write_table_xlsx({path.name}, sheet {sheet})"
        df = _as_frame(tables[sheet], where)
        ws = wb.add_worksheet(sheet)
        title = per_sheet(titles, sheet, sheet)
        note = per_sheet(notes, sheet, None)
        ws.write_string(0, 0, str(title), f_title)
        headers = [column_header(str(c), labels, all_units) for c in df.columns]
        widths = [min(_display_width(h), 24) for h in headers]
        for j, (col, header) in enumerate(zip(df.columns, headers)):
            ws.write_string(1, j, header, f_header)
            spec, kind = _number_format(str(col), df[col], all_units.get(str(col), ""), decimals)
            fmt = num_format(spec) if spec else f_text
            values = df[col].to_numpy(dtype=object)
            for i, v in enumerate(values, start=2):
                if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
                    ws.write_blank(i, j, None, fmt)
                    continue
                if kind == "bool":
                    text = "是" if bool(v) else "否"
                    ws.write_string(i, j, text, f_text)
                elif kind in ("int", "float"):
                    x = float(v)
                    if not np.isfinite(x):
                        ws.write_string(i, j, "—", f_text)
                        text = "—"
                    else:
                        ws.write_number(i, j, x, fmt)
                        text = format(x, ",.2f")
                else:
                    text = v.isoformat() if isinstance(v, (dt.date, pd.Timestamp)) else str(v)
                    ws.write_string(i, j, text, f_quoted if is_formula_like(text) else f_text)
                widths[j] = max(widths[j], _display_width(text))
        for j, w in enumerate(widths):
            # +2 for padding; capped so one long remark does not make a sheet unreadable
            ws.set_column(j, j, min(max(w + 2, 6), 50))
        ws.set_row(1, 32)
        ws.freeze_panes(2, 0)
        if len(df.columns):
            ws.autofilter(1, 0, 1 + len(df), len(df.columns) - 1)
        if note:
            text = note.strip()
            if not text.startswith("数据来源"):
                text = "数据来源：" + text
            ws.write_string(len(df) + 3, 0, text, f_quoted if is_formula_like(text) else f_note)
    wb.close()
    return _atomic_write(path, _rezip(buffer.getvalue()))


def _rezip(data: bytes) -> bytes:
    """Rewrite a zip (xlsx/docx) with fixed entry dates and attributes, entries in original order.

    python-docx stamps every entry with the time of saving, so two builds differ by their zip
    headers alone; xlsxwriter already uses a fixed date, and rewriting it is harmless.
    """
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            fixed.create_system = 0
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class FigureItem:
    """One chart of the pack, as the documents need it.

    Attributes
    ----------
    number : figure number N (图N).
    caption : caption without the number, e.g. ``"县域综合指数排名及区间"``.
    png : the PNG file (inserted into the docx and the HTML page).
    source : data source, shown as ``数据来源：…``.
    reading : one-line reading, shown as ``解读：…``.
    files : every file written for the chart (png, pdf, svg), for links.
    """

    number: int
    caption: str
    png: Path
    source: str
    reading: str
    files: tuple[Path, ...] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        return f"图{self.number}"


@dataclass(frozen=True)
class TableItem:
    """One table of the pack: a title and the workbook that holds it."""

    title: str
    path: Path


def _note(text: str, prefix: str) -> str:
    text = str(text).strip()
    return text if text.startswith(prefix) else prefix + text


def _check_items(items: Sequence[FigureItem], where: str) -> None:
    numbers = [it.number for it in items]
    if len(set(numbers)) != len(numbers):
        raise ExportError(f"{where}: figure numbers {numbers} repeat; number each chart once")
    for it in items:
        if not Path(it.png).is_file():
            raise ExportError(f"{where}: {it.label}: PNG {it.png} does not exist; save the figure first "
                              "(analysis.style.save_figure)")
        if not str(it.reading).strip() or not str(it.source).strip():
            raise ExportError(f"{where}: {it.label} has no 数据来源 or 解读; a chart without them is unfinished")


def _png_size_cm(png: Path) -> tuple[float, float]:
    # PNG header: width, height at bytes 16..24; pHYs chunk gives pixels per metre
    data = Path(png).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ExportError(f"{png}: not a PNG file")
    w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    ppm = 300 / 0.0254
    pos = data.find(b"pHYs")
    if pos > 0:
        ppm_x = int.from_bytes(data[pos + 4:pos + 8], "big")
        if data[pos + 12] == 1 and ppm_x > 0:
            ppm = ppm_x
    return w / ppm * 100, h / ppm * 100


def write_docx(items: Sequence[FigureItem], path: str | os.PathLike, *,
               title: str = REPORT_TITLE, subtitle: str | None = None, notes: Sequence[str] = ()) -> Path:
    """Write the chart pack 《驻点工作评估图表汇编》 as a Word document, deterministically and atomically.

    Each chart: the picture, the caption ``图N　…`` under it (Word style *Caption*), the
    ``数据来源：…`` note and a one-line ``解读：…``.  Pictures keep their designed print size
    (a single-column chart stays 8.5 cm wide, so its 7–9 pt text prints at that size) and are
    scaled down only if wider than the text column (A4, 2 cm margins: 17 cm) or taller than
    20.2 cm (so that caption, source and reading fit on the same page).

    Parameters
    ----------
    items : the charts, in order.
    path : the ``.docx`` file to write.
    title : document title.
    subtitle : optional line under the title (e.g. data vintage).
    notes : caveats listed at the end under 说明 (e.g. counties left out of an estimate).

    Returns
    -------
    Path
        The document written.
    """
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    items = list(items)
    _check_items(items, f"write_docx({Path(path).name})")
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(2.0))
    text_width_cm = 21.0 - 4.0
    # page height less margins (4 cm) and about 5.5 cm for caption, source and a two-line reading
    max_picture_height_cm = 29.7 - 4.0 - 5.5

    for style_name in ("Normal", "Caption", "Title", "Heading 1"):
        style = doc.styles[style_name]
        rpr = style.element.get_or_add_rPr()
        fonts = rpr.find(qn("w:rFonts"))
        if fonts is None:
            fonts = rpr.makeelement(qn("w:rFonts"), {})
            rpr.append(fonts)
        # East-Asian font for the Chinese text; Word falls back gracefully where it is missing
        fonts.set(qn("w:eastAsia"), "宋体" if style_name == "Normal" else "黑体")
    doc.styles["Normal"].font.size = Pt(10.5)

    core = doc.core_properties
    core.title = title
    core.author = "analysis"
    core.last_modified_by = "analysis"
    core.revision = 1
    core.created = core.modified = core.last_printed = FIXED_TIMESTAMP
    core.comments = ""

    heading = doc.add_paragraph(title, style="Title")
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    if subtitle:
        sub = doc.add_paragraph(subtitle)
        sub.alignment = WD_ALIGN_PARAGRAPH.CENTER

    for it in items:
        width_cm, height_cm = _png_size_cm(it.png)
        # a tall chart (the 183-county ranking) is shrunk so that picture, caption, source and
        # reading stay on one page; otherwise the reading drifts to the next page
        width_cm = min(width_cm, text_width_cm, max_picture_height_cm * width_cm / height_cm)
        pic = doc.add_paragraph()
        pic.alignment = WD_ALIGN_PARAGRAPH.CENTER
        pic.paragraph_format.keep_with_next = True
        pic.add_run().add_picture(str(it.png), width=Cm(width_cm))
        cap = doc.add_paragraph(f"{it.label}　{it.caption}", style="Caption")
        cap.alignment = WD_ALIGN_PARAGRAPH.CENTER
        cap.paragraph_format.keep_with_next = True
        src = doc.add_paragraph(_note(it.source, "数据来源："))
        src.paragraph_format.keep_with_next = True
        for run in src.runs:
            run.font.size = Pt(9)
        doc.add_paragraph(_note(it.reading, "解读："))
    if notes:
        doc.add_paragraph("说明", style="Heading 1")
        for text in notes:
            doc.add_paragraph(str(text), style="List Bullet")

    buffer = io.BytesIO()
    doc.save(buffer)
    return _atomic_write(Path(path), _rezip(buffer.getvalue()))


# --------------------------------------------------------------------------- HTML

_CSS = """
body { font-family: "Noto Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif; max-width: 60rem;
       margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.6; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
figure { margin: 2rem 0; padding-bottom: 1rem; border-bottom: 1px solid #ddd; }
figure img { max-width: 100%; height: auto; }
figcaption { font-weight: bold; margin-top: .5rem; }
.source { color: #555; font-size: .9rem; margin: .2rem 0; }
.reading { margin: .2rem 0; }
.files a { margin-right: 1rem; font-size: .9rem; }
"""


def _rel(target: Path, base: Path) -> str:
    return Path(os.path.relpath(Path(target).resolve(), Path(base).resolve())).as_posix()


def write_index_html(
    items: Sequence[FigureItem],
    tables: Sequence[TableItem] | Mapping[str, str | os.PathLike],
    path: str | os.PathLike,
    *,
    title: str = REPORT_TITLE,
    documents: Mapping[str, str | os.PathLike] | None = None,
    notes: Sequence[str] = (),
) -> Path:
    """Write a self-contained static page (no external CSS or JavaScript, UTF-8) listing the pack.

    Parameters
    ----------
    items : the charts: image, caption, source note, reading and links to PDF/SVG.
    tables : the tables, as :class:`TableItem` or a mapping title → workbook path.
    path : the ``.html`` file; links are relative to its folder, so the pack can be moved whole.
    title : page title.
    documents : other downloads, title → path (e.g. the docx).
    notes : caveats listed at the end under 说明.

    Returns
    -------
    Path
        The page written.
    """
    path = Path(path)
    items = list(items)
    _check_items(items, f"write_index_html({path.name})")
    if isinstance(tables, Mapping):
        tables = [TableItem(str(k), Path(v)) for k, v in tables.items()]
    base = path.parent
    base.mkdir(parents=True, exist_ok=True)
    e = html.escape
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{e(title)}</h1>",
    ]
    if items:
        out.append("<h2>图表</h2>")
        out.append("<ol class=\"toc\">")
        out += [f'<li><a href="#fig{it.number}">{e(it.label)}　{e(it.caption)}</a></li>' for it in items]
        out.append("</ol>")
    for it in items:
        out.append(f'<figure id="fig{it.number}">')
        out.append(f'<img src="{e(_rel(it.png, base))}" alt="{e(it.label + " " + it.caption)}">')
        out.append(f"<figcaption>{e(it.label)}　{e(it.caption)}</figcaption>")
        out.append(f'<p class="source">{e(_note(it.source, "数据来源："))}</p>')
        out.append(f'<p class="reading">{e(_note(it.reading, "解读："))}</p>')
        links = [f'<a href="{e(_rel(f, base))}">{e(Path(f).suffix.lstrip(".").upper())}</a>'
                 for f in it.files if Path(f).suffix.lower() in (".pdf", ".svg")]
        if links:
            out.append(f'<p class="files">下载：{"".join(links)}</p>')
        out.append("</figure>")
    lists = {
        "表格": [f'<a href="{e(_rel(t.path, base))}">{e(t.title)}</a>' for t in tables],
        "文档": [f'<a href="{e(_rel(Path(p), base))}">{e(k)}</a>' for k, p in (documents or {}).items()],
        "说明": [e(str(n)) for n in notes],
    }
    for heading, entries in lists.items():
        if entries:
            out += [f"<h2>{heading}</h2>", "<ul>", *(f"<li>{x}</li>" for x in entries), "</ul>"]
    out += ["</body>", "</html>", ""]
    return _atomic_write(path, "\n".join(out).encode("utf-8"))
