"""``report.pdf``: the case document as an A4 PDF, with the map drawn as vectors (issue 12).

reportlab lays it out; Chinese text uses reportlab's built-in CID font STSong-Light (Adobe's
Asian font pack names it; a PDF viewer supplies the glyphs), so nothing has to be installed on
the machine that builds the pack. The map is the HTML report's drawing
(``replay.evidence.mapimage``) as a reportlab ``Drawing``. ``invariant`` keeps the bytes free of
the build time and a random id: the same pack content gives the same PDF.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Circle, Drawing, Path, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from replay.evidence.document import Document
from replay.evidence.mapimage import KIND_STYLE, KIND_ZH, MapImage, Shape

FONT = "STSong-Light"
_FILL_EVEN_ODD = 1  # reportlab.graphics.shapes.FILL_EVEN_ODD: holes in a polygon stay empty


def _font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def report_pdf(doc: Document, image: MapImage) -> bytes:
    """The PDF bytes of the document (module docstring).

    Examples
    --------
    >>> pdf = report_pdf(Document("标题", "副标题", [("一", [("车牌", "苏B1")])]), MapImage(10, 10))
    >>> pdf[:5]
    b'%PDF-'
    """
    font = _font()
    styles = {
        "title": ParagraphStyle("title", fontName=font, fontSize=15, leading=20, alignment=1),
        "sub": ParagraphStyle("sub", fontName=font, fontSize=10, leading=14, alignment=1),
        "h": ParagraphStyle("h", fontName=font, fontSize=12, leading=16, spaceBefore=8),
        "cell": ParagraphStyle("cell", fontName=font, fontSize=8.5, leading=11, wordWrap="CJK"),
    }
    story: list = [
        Paragraph(escape(doc.title), styles["title"]),
        Paragraph(escape(doc.subtitle), styles["sub"]),
        Spacer(1, 4 * mm),
    ]
    for heading, rows in doc.sections:
        story.append(Paragraph(escape(heading), styles["h"]))
        story.append(_table([(k, v) for k, v in rows], styles["cell"], (50 * mm, 120 * mm)))
    story.append(Paragraph("七、轨迹图（含告警点与电子围栏）", styles["h"]))
    story.append(drawing(image))
    story.append(Paragraph(escape(_legend(image)), styles["cell"]))
    story.append(Paragraph("八、证据定位点", styles["h"]))
    head = ("序号 seq", "时间（北京时间）", "纬度", "经度")
    story.append(_table([head, *doc.pings], styles["cell"], (25 * mm, 60 * mm, 40 * mm, 45 * mm)))
    story.append(Paragraph("九、案件流转记录", styles["h"]))
    if doc.audit is None:
        story.append(Paragraph(escape(doc.audit_note or "无案件流转记录。"), styles["cell"]))
    else:
        head = ("环节", "操作人", "时间", "备注")
        widths = (25 * mm, 35 * mm, 50 * mm, 60 * mm)
        story.append(_table([head, *doc.audit], styles["cell"], widths))
    story.append(Spacer(1, 12 * mm))
    sign = "经办人（签名）：__________　　审核人（签名）：__________　　日期：__________"
    story.append(Paragraph(sign, styles["cell"]))
    out = io.BytesIO()
    SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=doc.subtitle,
        author="landun 蓝盾",
        invariant=1,
    ).build(story)
    return out.getvalue()


def _table(rows: list[tuple[str, ...]], style: ParagraphStyle, widths: tuple[float, ...]) -> Table:
    cells = [[Paragraph(escape(str(c)), style) for c in row] for row in rows] or [
        [Paragraph("无", style)]
    ]
    table = Table(cells, colWidths=widths[: len(cells[0])], repeatRows=0)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f0f0f0")),
            ]
        )
    )
    return table


def drawing(image: MapImage) -> Drawing:
    """The map as a reportlab Drawing (y up: the image's y down is flipped)."""
    font = _font()
    d = Drawing(image.width, image.height)
    d.add(Rect(0, 0, image.width, image.height, fillColor=colors.HexColor("#fbfbf8"),
               strokeColor=colors.grey))  # fmt: skip
    for shape in image.shapes:
        d.add(_shape(shape, image.height, font))
    return d


def _shape(s: Shape, height: float, font: str):
    stroke = colors.HexColor(s.stroke) if s.stroke else None
    fill = colors.HexColor(s.fill) if s.fill else None
    if s.kind == "polygon":
        path = Path(fillMode=_FILL_EVEN_ODD, fillColor=fill, strokeColor=stroke,
                    strokeWidth=s.width, fillOpacity=s.opacity)  # fmt: skip
        for ring in s.rings:
            (x0, y0), rest = ring[0], ring[1:]
            path.moveTo(x0, height - y0)
            for x, y in rest:
                path.lineTo(x, height - y)
            path.closePath()
        return path
    if s.kind == "line":
        flat = [v for x, y in s.points for v in (x, height - y)]
        return PolyLine(flat, strokeColor=stroke, strokeWidth=s.width)
    x, y = s.points[0]
    if s.kind == "circle":
        return Circle(x, height - y, s.radius, fillColor=fill, strokeColor=stroke)
    return String(x, height - y, s.text, fontName=font, fontSize=s.size)


def _legend(image: MapImage) -> str:
    kinds = "、".join(KIND_ZH.get(k, k) for k in image.kinds if k in KIND_STYLE)
    return (
        "图例：蓝线为轨迹，红线为违规时段，红点为告警点，红圈为证据定位点（白点起点，蓝点终点）"
        + (f"；围栏：{kinds}" if kinds else "")
    )
