"""``report.html``: the case document as one self-contained, printable HTML page (issue 12).

No script, no external file: the map is inline SVG (``replay.evidence.mapimage``), the styles
are in the page and fit an A4 print. Every value is HTML-escaped (a fence or company name is
data, not markup).
"""

from __future__ import annotations

from html import escape

from replay.evidence.document import Document
from replay.evidence.mapimage import KIND_STYLE, KIND_ZH, MapImage, svg

_STYLE = """
body { font-family: "Noto Serif CJK SC", "Songti SC", SimSun, serif; margin: 2em auto;
       max-width: 50em; color: #111; }
h1 { font-size: 1.4em; text-align: center; margin-bottom: 0.2em; }
p.sub { text-align: center; margin-top: 0; }
h2 { font-size: 1.1em; border-bottom: 1px solid #444; margin-top: 1.4em; }
table { border-collapse: collapse; width: 100%; font-size: 0.92em; }
th, td { border: 1px solid #999; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; width: 32%; font-weight: normal; }
td.mono, span.mono { font-family: monospace; word-break: break-all; }
.legend span { display: inline-block; margin-right: 1em; font-size: 0.85em; }
.legend i { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.3em;
            vertical-align: middle; border: 1px solid #666; }
.sign { margin-top: 3em; display: flex; justify-content: space-between; }
@media print { body { margin: 0; max-width: none; } h2 { page-break-after: avoid; } }
"""


def report_html(doc: Document, image: MapImage) -> str:
    """The page (module docstring).

    Examples
    --------
    >>> page = report_html(Document("标题", "副<标题>", [("一", [("车牌", "苏B&1")])]),
    ...                    MapImage(10, 10))
    >>> "副&lt;标题&gt;" in page and "苏B&amp;1" in page and "<svg" in page
    True
    """
    out = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{escape(doc.subtitle)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(doc.title)}</h1>",
        f'<p class="sub">{escape(doc.subtitle)}</p>',
    ]
    for heading, rows in doc.sections:
        out.append(f"<h2>{escape(heading)}</h2>")
        out.append(_rows(rows))
    out.append("<h2>七、轨迹图（含告警点与电子围栏）</h2>")
    out.append(svg(image))
    out.append(_legend(image))
    out.append("<h2>八、证据定位点</h2>")
    out.append(_table(("序号 seq", "时间（北京时间）", "纬度", "经度"), doc.pings))
    out.append("<h2>九、案件流转记录</h2>")
    if doc.audit is None:
        out.append(f"<p>{escape(doc.audit_note or '无案件流转记录。')}</p>")
    else:
        out.append(_table(("环节", "操作人", "时间", "备注"), doc.audit))
    out.append(
        '<div class="sign"><span>经办人（签名）：__________</span>'
        "<span>审核人（签名）：__________</span><span>日期：__________</span></div>"
    )
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _rows(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{escape(k)}</th><td{_mono(k)}>{escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _mono(label: str) -> str:
    return ' class="mono"' if ("SHA-256" in label or "命令" in label) else ""


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body or '<tr><td colspan=4>无</td></tr>'}</table>"


def _legend(image: MapImage) -> str:
    items = [
        '<span><i style="background:#1f4e79"></i>轨迹</span>',
        '<span><i style="background:#c0392b"></i>告警点/违规段</span>',
        '<span><i style="background:#fff;border-color:#c0392b"></i>证据定位点</span>',
    ]
    for kind in image.kinds:
        fill, _ = KIND_STYLE.get(kind, ("#eeeeee", "#888888"))
        items.append(
            f'<span><i style="background:{fill}"></i>{escape(KIND_ZH.get(kind, kind))}</span>'
        )
    return f'<div class="legend">{"".join(items)}</div>'
