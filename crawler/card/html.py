"""``card.html``: the dataset card as one self-contained page with charts.

``write_card_html(stats, path)`` draws four charts from a :class:`~crawler.card.stats.CardStats`
(through ``stats.as_dict()``, so the page shows no number the JSON does not hold):

- ``chart-reasons``: excluded URLs per reason code (a URL counts once per code it carries);
- ``chart-licenses``: kept URLs per licence;
- ``chart-hosts``: kept and excluded URLs of the top hosts (by URLs considered);
- ``chart-timeline``: kept and excluded URLs per UTC day.

The charts are matplotlib figures saved as SVG and inlined, so the page needs no JavaScript,
no network and no other file: inline CSS, inline SVG, a Content-Security-Policy that allows
nothing else. Text stays text in the SVG (``svg.fonttype = "none"``). Each bar is a
``<g id="CHART-bar-SERIES-N">``; every chart has a table of its numbers with ``data-key`` and
``data-value`` attributes, and the totals are ``<span id="total-KEY" data-value="N">`` (KEY is
the ``totals`` key with ``-`` for ``_``), so a test can hold the page against the JSON.

Every string from the data (host names, reason codes, licence ids) is hostile input: it is
escaped (``html.escape`` in the page, matplotlib's XML writer in the SVG), control characters
are shown as ``\\xNN``, matplotlib's mathtext is off (a ``$`` is a dollar sign) and chart
labels are cut to 48 characters (the tables have the whole string).
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler._output_parts import publish_bytes
from crawler.errors import OutputWriteError
from filters import ConfigError

if TYPE_CHECKING:
    from crawler.card.stats import CardStats

__all__ = ["MAX_BARS", "TOP_HOSTS", "render_card_html", "write_card_html"]

#: Bars drawn at most in the reason and licence charts (the tables list every one).
MAX_BARS = 30
#: Hosts drawn (and tabled) in the kept-vs-excluded chart.
TOP_HOSTS = 20
_LABEL_MAX = 48
_KEPT = "#2f7d32"
_EXCLUDED = "#b3261e"
_BAR = "#3366aa"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_SVG_START = re.compile(r"<svg\b")
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(url\(#|href="#)([^)"]+)')

_CSS = """
body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:1.5rem auto;padding:0 1rem;
color:#1b1b1b;background:#fff}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;
border-bottom:1px solid #ddd}
.totals{display:flex;flex-wrap:wrap;gap:.6rem 1.6rem;margin:1rem 0;padding:0}
.totals div{min-width:8rem}.totals dt{color:#555;font-size:.85rem}
.totals dd{margin:0;font-size:1.4rem;font-variant-numeric:tabular-nums}
figure{margin:1rem 0}figure svg{max-width:100%;height:auto}
figcaption{color:#444;font-size:.9rem}
table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}
th,td{text-align:left;padding:.2rem .6rem;border-bottom:1px solid #e6e6e6}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#555;font-size:.9rem}.empty{color:#555;font-style:italic}
code{font:0.9em ui-monospace,monospace}
"""
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _clean(value: Any) -> str:
    """A data string made printable: control characters and lone surrogates as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", str(value))


def _e(value: Any) -> str:
    return html.escape(_clean(value), quote=True)


def _label(value: Any) -> str:
    text = _clean(value)
    return text if len(text) <= _LABEL_MAX else text[: _LABEL_MAX - 1] + "…"


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"card statistics: expected a count, got {value!r:.60}")
    return value


def _fmt(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else _e(value)


# --- SVG through matplotlib -------------------------------------------------------------


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig


def _svg(fig: Any, chart: str, title: str) -> str:
    """The figure as an inline ``<svg>`` element, its ids prefixed with ``chart``."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    start = _SVG_START.search(text)
    if start is None:  # pragma: no cover - matplotlib always writes an <svg> element
        raise RuntimeError("matplotlib wrote no <svg> element")
    text = _METADATA.sub("", text[start.start() :])
    text = _ID.sub(lambda m: f'id="{chart}-{m.group(1)}"', text)
    text = _REF.sub(lambda m: f"{m.group(1)}{chart}-{m.group(2)}", text)
    # matplotlib's one style rule: scoped to this chart instead of the whole page
    text = text.replace("*{stroke-linejoin", f"#{chart} svg *{{stroke-linejoin", 1)
    return text.replace(
        "<svg ", f'<svg role="img" aria-label="{html.escape(title, quote=True)}" ', 1
    ).strip()


#: Set while a figure is built and saved: text stays text, no mathtext, stable ids.
_RC: Any = {  # matplotlib types the keys as a Literal of every rc name
    "svg.fonttype": "none",
    "svg.hashsalt": "heed-card",
    "text.parse_math": False,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _hbars(
    chart: str, title: str, labels: Sequence[str], series: Sequence[tuple[str, str, list[int]]]
) -> str:
    """Horizontal (stacked) bars, one row per label, first label on top."""
    import matplotlib

    with matplotlib.rc_context(_RC):
        fig = _figure(8.0, 0.9 + 0.28 * len(labels))
        ax = fig.add_subplot()
        rows = list(range(len(labels)))[::-1]
        left = [0] * len(labels)
        for name, colour, values in series:
            bars = ax.barh(rows, values, left=left, color=colour, label=name, height=0.7)
            for i, bar in enumerate(bars):
                bar.set_gid(f"bar-{name}-{i}")
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.set_yticks(rows, [_label(x) for x in labels])
        ax.set_xlabel("URLs")
        ax.xaxis.get_major_locator().set_params(integer=True)
        if len(series) > 1:
            ax.legend(loc="lower left", bbox_to_anchor=(0, 1), ncols=len(series), frameon=False)
        return _svg(fig, chart, title)


def _timeline_svg(chart: str, title: str, days: list[str], kept: list[int], excl: list[int]) -> str:
    import matplotlib

    with matplotlib.rc_context(_RC):
        fig = _figure(8.0, 3.2)
        ax = fig.add_subplot()
        xs = list(range(len(days)))
        for name, colour, values, bottom in (
            ("kept", _KEPT, kept, [0] * len(days)),
            ("excluded", _EXCLUDED, excl, kept),
        ):
            bars = ax.bar(xs, values, bottom=bottom, color=colour, label=name, width=0.8)
            for i, bar in enumerate(bars):
                bar.set_gid(f"bar-{name}-{i}")
        step = max(1, len(days) // 12)
        ax.set_xticks(xs[::step], [_label(d) for d in days[::step]], rotation=45, ha="right")
        ax.set_ylabel("URLs")
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1), ncols=2, frameon=False)
        return _svg(fig, chart, title)


# --- the page ---------------------------------------------------------------------------


def _table(headers: Sequence[str], rows: Sequence[tuple[str, Sequence[int]]], key: str) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for name, values in rows:
        cells = "".join(f'<td class="n" data-value="{v}">{v:,}</td>' for v in values)
        body.append(f'<tr data-key="{_e(name)}"><td>{_e(name)}</td>{cells}</tr>')
    return (
        f'<details><summary>The numbers</summary><table data-table="{key}">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></details>"
    )


def _figure_html(chart: str, title: str, marks: int, svg: str, note: str, table: str) -> str:
    inner = svg if marks else '<p class="empty">Nothing to draw.</p>'
    caption = f"{_e(title)}{(' ' + note) if note else ''}"
    return (
        f'<section><h2>{_e(title)}</h2><figure id="{chart}" data-marks="{marks}">{inner}'
        f"<figcaption>{caption}</figcaption></figure>{table}</section>"
    )


def _reasons(d: Mapping[str, Any]) -> str:
    chart, title = "chart-reasons", "Exclusions by reason"
    by_reason = d.get("exclusions", {}).get("by_reason", {})
    items = sorted(
        ((str(k), _int(v["urls"])) for k, v in by_reason.items()), key=lambda kv: (-kv[1], kv[0])
    )
    drawn = items[:MAX_BARS]
    svg = (
        _hbars(
            chart, title, [k for k, _ in drawn], [("excluded", _EXCLUDED, [n for _, n in drawn])]
        )
        if drawn
        else ""
    )
    more = len(items) - len(drawn)
    note = (
        f"(the {len(drawn)} most frequent of {len(items)} reasons; the table has all)"
        if more
        else "(a URL counts once per reason it carries)"
    )
    table = _table(("reason", "URLs"), [(k, [n]) for k, n in items], "reasons")
    return _figure_html(chart, title, len(drawn), svg, _e(note), table)


def _licenses(d: Mapping[str, Any]) -> str:
    chart, title = "chart-licenses", "Licences of the kept pages"
    items = sorted(
        ((str(k), _int(v)) for k, v in d.get("licenses", {}).items()),
        key=lambda kv: (-kv[1], kv[0]),
    )
    drawn = items[:MAX_BARS]
    svg = (
        _hbars(chart, title, [k for k, _ in drawn], [("kept", _BAR, [n for _, n in drawn])])
        if drawn
        else ""
    )
    note = (
        f"(the {len(drawn)} most frequent of {len(items)} licences; the table has all)"
        if len(items) > len(drawn)
        else '("none": no licence declared)'
    )
    table = _table(("licence", "kept URLs"), [(k, [n]) for k, n in items], "licenses")
    return _figure_html(chart, title, len(drawn), svg, _e(note), table)


def _hosts(d: Mapping[str, Any]) -> str:
    chart, title = "chart-hosts", "Kept and excluded URLs per host"
    hosts = [(str(h["host"]), _int(h["kept"]), _int(h["excluded"])) for h in d.get("hosts", [])]
    top = sorted(hosts, key=lambda h: (-(h[1] + h[2]), h[0]))[:TOP_HOSTS]
    svg = (
        _hbars(
            chart,
            title,
            [h for h, _, _ in top],
            [
                ("kept", _KEPT, [k for _, k, _ in top]),
                ("excluded", _EXCLUDED, [x for _, _, x in top]),
            ],
        )
        if top
        else ""
    )
    note = f"(the top {len(top)} of {len(hosts)} hosts by URLs considered)"
    table = _table(("host", "kept", "excluded"), [(h, [k, x]) for h, k, x in top], "hosts")
    return _figure_html(chart, title, 2 * len(top), svg, _e(note), table)


def _timeline(d: Mapping[str, Any]) -> str:
    chart, title = "chart-timeline", "Pages over time"
    days = [(str(t["date"]), _int(t["kept"]), _int(t["excluded"])) for t in d.get("timeline", [])]
    svg = (
        _timeline_svg(
            chart, title, [x for x, _, _ in days], [k for _, k, _ in days], [e for _, _, e in days]
        )
        if days
        else ""
    )
    note = "(per UTC day: a kept page by when it was fetched, an exclusion by when it was decided)"
    table = _table(("day", "kept", "excluded"), [(x, [k, e]) for x, k, e in days], "timeline")
    return _figure_html(chart, title, 2 * len(days), svg, _e(note), table)


_TOTAL_LABELS = {
    "urls": "URLs considered",
    "kept": "kept",
    "excluded": "excluded",
    "kept_body_bytes": "bytes kept (bodies)",
    "kept_text_bytes": "bytes kept (text)",
}


def _totals(d: Mapping[str, Any]) -> str:
    out = []
    for key, value in d.get("totals", {}).items():
        name = re.sub(r"[^a-z0-9]+", "-", str(key).lower()).strip("-")
        label = _TOTAL_LABELS.get(str(key), str(key).replace("_", " "))
        shown = _fmt(value)
        out.append(
            f'<div><dt>{_e(label)}</dt><dd><span id="total-{name}" data-value="{_e(value)}">'
            f"{shown}</span></dd></div>"
        )
    return f'<dl class="totals">{"".join(out)}</dl>'


def render_card_html(stats: Mapping[str, Any]) -> str:
    """The page for ``stats.as_dict()``.

    Raises:
        ConfigError: a count in the statistics is not an integer.
    """
    name = str(stats.get("name") or "dataset")
    period = stats.get("period") or {}
    first, last = period.get("first_event_at"), period.get("last_event_at")
    sources = stats.get("sources") or []
    versions = stats.get("engine_versions") or []
    meta = [
        f"collected {_e(first)} to {_e(last)}" if first and last else "no URLs",
        f"{len(sources)} source folder{'s' if len(sources) != 1 else ''}",
    ]
    if versions:
        meta.append("heed " + ", ".join(_e(v) for v in versions))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{_e(name)}: dataset card</title>",
        f"<style>{_CSS}</style></head><body>",
        f'<h1 id="card-name">{_e(name)}</h1>',
        f'<p class="muted" id="card-period">{"; ".join(meta)}</p>',
        _totals(stats),
        _reasons(stats),
        _licenses(stats),
        _hosts(stats),
        _timeline(stats),
        '<p class="muted">Written by <code>heed card</code>; README.md and eu-summary.json '
        "beside this page hold the same numbers.</p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def write_card_html(stats: CardStats, path: str | Path) -> Path:
    """Write ``card.html`` for ``stats`` to ``path`` (atomically); returns the path.

    Raises:
        OutputWriteError: the file cannot be written.
    """
    target = Path(path)
    data = render_card_html(stats.as_dict()).encode("utf-8")
    try:
        publish_bytes(target, data)
    except OSError as e:
        raise OutputWriteError(f"cannot write {target}: {e}") from None
    return target
