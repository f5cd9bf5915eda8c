"""The HTML both reports are made of: one self-contained page (inline CSS and script, inline
SVG, no network), tables, and the escaping every string from the spec or from an
implementation goes through.

Nothing here writes text into markup without `esc`: spec files and adapters are input, and a
rule id or an adapter's answer containing `<script>` must show as text.  The SVG that graphviz
writes is XML with its text already escaped by `dot`; it is inlined with its ids prefixed, so
two diagrams on one page never share an id.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any, Iterable, Sequence


def esc(x: Any) -> str:
    return escape("" if x is None else str(x), quote=True)


CSS = """
:root { --ink:#1d2733; --blue:#2b4c7e; --pale:#eef3fb; --line:#d5dbe3; --ok:#1e7b34;
        --bad:#b42318; --warn:#9a6700; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       color: var(--ink); margin: 0; }
header { background: var(--blue); color: white; padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; opacity: .85; }
nav { position: sticky; top: 0; background: white; border-bottom: 1px solid var(--line);
      padding: 6px 28px; z-index: 2; font-size: 13px; }
nav a { margin-right: 14px; color: var(--blue); text-decoration: none; }
main { padding: 8px 28px 40px; max-width: 1500px; }
h2 { border-bottom: 2px solid var(--blue); padding-bottom: 4px; margin-top: 34px; }
h3 { margin-top: 24px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--pale); position: sticky; top: 30px; }
td code, p code, li code { font-size: 12px; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
       background: #f4f6f9; padding: 0 3px; border-radius: 3px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; min-width: 170px; }
.card b { display: block; font-size: 20px; }
.ok { color: var(--ok); font-weight: 600; }
.bad { color: var(--bad); font-weight: 600; }
.warn { color: var(--warn); font-weight: 600; }
.muted { color: #667; }
figure.diagram { margin: 12px 0 24px; border: 1px solid var(--line); border-radius: 6px;
                 padding: 8px; overflow: auto; max-height: 900px; background: white; }
figure.diagram svg { max-width: 100%; height: auto; }
figure.sequence { margin: 12px 0 24px; border: 1px solid var(--line); border-radius: 6px;
  padding: 8px; overflow-x: auto; }
figure.sequence svg { max-width: 100%; height: auto; }
figure.sequence figcaption { font-size: 13px; color: #445; margin-bottom: 6px; }
figure.diagram figcaption { font-size: 13px; color: #445; margin-bottom: 6px; }
details { margin: 6px 0; }
summary { cursor: pointer; color: var(--blue); }
.side { display: grid; grid-template-columns: 160px 1fr 1fr; gap: 0; font-size: 13px; }
.side div { border-bottom: 1px solid var(--line); padding: 3px 6px; overflow-wrap: anywhere; }
.side .diff { background: #fdecea; }
.side .head { background: var(--pale); font-weight: 600; }
.timing { font-variant-numeric: tabular-nums; }
"""

# Fills the timing figures from timing.js (the one file that differs between runs) and records
# what rendered, for the browser test and for a reader who wonders why a figure is blank.
SCRIPT = """
(function () {
  var t = window.CHARGESPEC_TIMING || {};
  var cells = document.querySelectorAll('[data-timing]');
  for (var i = 0; i < cells.length; i++) {
    var v = t[cells[i].getAttribute('data-timing')];
    if (v !== undefined) { cells[i].textContent = v; }
  }
  var svgs = document.querySelectorAll('figure.diagram svg'), ok = 0;
  for (var k = 0; k < svgs.length; k++) {
    var b = svgs[k].getBBox();
    if (b.width > 0 && b.height > 0 && svgs[k].querySelector('g.node')) { ok++; }
  }
  document.body.setAttribute('data-diagrams-rendered', ok + '/' + svgs.length);
  var seqs = document.querySelectorAll('figure.sequence svg'), sok = 0, widest = 0;
  for (var s = 0; s < seqs.length; s++) {
    var sb = seqs[s].getBBox();
    if (sb.width > 0 && sb.height > 0 && seqs[s].querySelector('line')) { sok++; }
  }
  var all = document.querySelectorAll('figure svg');
  for (var w = 0; w < all.length; w++) {
    widest = Math.max(widest, all[w].getBoundingClientRect().width);
  }
  document.body.setAttribute('data-sequences-rendered', sok + '/' + seqs.length);
  document.body.setAttribute('data-widest-figure', String(Math.round(widest)));
  document.body.setAttribute('data-timing-loaded', window.CHARGESPEC_TIMING ? 'yes' : 'no');
})();
"""


def page(title: str, subtitle: str, nav: Sequence[tuple[str, str]], body: str,
         timing_js: str | None = None) -> str:
    links = "".join(f'<a href="#{esc(anchor)}">{esc(text)}</a>' for anchor, text in nav)
    timing = f'<script src="{esc(timing_js)}"></script>\n' if timing_js else ""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n{timing}</head>\n<body>\n"
            f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header>\n"
            f"<nav>{links}</nav>\n<main>\n{body}\n</main>\n<script>{SCRIPT}</script>\n"
            "</body>\n</html>\n")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], cls: str = "",
          raw: Sequence[int] = ()) -> str:
    """A table; every cell escaped, except the columns listed in `raw` (already markup made
    here, from escaped parts)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(f"<td>{c if i in raw else esc(c)}</td>" for i, c in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    klass = f' class="{esc(cls)}"' if cls else ""
    return f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def verdict(ok: bool | None, text: str | None = None) -> str:
    if ok is None:
        return f'<span class="warn">{esc(text or "not checked")}</span>'
    return f'<span class="{"ok" if ok else "bad"}">{esc(text or ("holds" if ok else "FAILS"))}</span>'


def timing(key: str) -> str:
    """A figure measured at generation time: filled from timing.js by the page's script."""
    return f'<span class="timing" data-timing="{esc(key)}">–</span>'


_PROLOG = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?(<!--.*?-->\s*)*", re.S)


def inline_svg(svg_text: str, prefix: str) -> str:
    """graphviz SVG for inlining: no XML prolog or doctype; every id prefixed."""
    body = _PROLOG.sub("", svg_text, count=1)
    return re.sub(r'\bid="', f'id="{prefix}-', body)


def figure(svg_text: str, prefix: str, caption: str, href: str | None = None) -> str:
    """An inline diagram, scaled to the page; `href` links the full-size file."""
    link = f' <a href="{esc(href)}">full size</a>' if href else ""
    return (f'<figure class="diagram" id="{esc(prefix)}"><figcaption>{esc(caption)}{link}'
            f'</figcaption>{inline_svg(svg_text, prefix)}</figure>')
