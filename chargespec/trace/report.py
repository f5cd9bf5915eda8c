"""`chargespec trace --report DIR`: the log as a sequence chart, on one self-contained page.

Three lifelines: the vehicle and cable (whose events the checker inferred: dashed arrows, each
with its connector), the charge point and the central system (every frame of the log, an arrow
from its sender; the actions the spec does not model in grey).  The first frame no behaviour
explains is drawn red, with what the spec allowed there below the chart; the inferred
configuration follows when `--infer-config` ran.  Plain SVG in the HTML, no script; every
string from the log or the spec is escaped.
"""

from __future__ import annotations

import html
from typing import Any

from .check import SKIPPED, Verdict
from .readers import Log

ROW = 22  # px per row
X_EV, X_CP, X_CS = 110, 430, 790  # the lifelines
WIDTH = 900
KEY_FIELDS = ("connectorId", "idTag", "status", "reason", "errorCode", "type", "key", "value",
              "transactionId", "requestedMessage")


def _summary(payload: Any) -> str:
    if not isinstance(payload, dict):
        return ""
    parts = []
    info = payload.get("idTagInfo")
    for k in KEY_FIELDS:
        if k in payload and not isinstance(payload[k], (dict, list)):
            parts.append(f"{k}={payload[k]}")
    if isinstance(info, dict) and "status" in info:
        parts.append(f"status={info['status']}")
    text = ", ".join(parts)
    return text if len(text) <= 60 else text[:57] + "..."


def rows(log: Log, verdicts: list[Verdict]) -> list[dict[str, Any]]:
    """The chart's rows in order: inferred events before the frame they preceded, then the
    frame."""
    hidden: dict[int, list[str]] = {}
    observed = {f.line for f in log.frames}
    many = len(verdicts) > 1
    for v in verdicts:
        for (label, _), line in zip(v.events, v.lines):
            # observed events are frames already; only the inferred ones are drawn apart
            if line in observed and _is_observed(label):
                continue
            hidden.setdefault(line, []).append(f"c{v.connector}: {label}" if many else label)
    bad = {v.frame.line for v in verdicts if not v.explained and v.frame is not None}
    out: list[dict[str, Any]] = [{"kind": "hidden", "text": t} for t in hidden.get(0, [])]
    for f in log.frames:
        out += [{"kind": "hidden", "text": t} for t in hidden.get(f.line, [])]
        name = f.action or "?"
        what = {2: name, 3: f"{name}.conf", 4: f"{name} CALLERROR"}[f.kind]
        out.append({"kind": "frame", "from": f.origin, "text": f"{what}({_summary(f.payload)})",
                    "line": f.line, "time": f.time, "bad": f.line in bad,
                    "grey": name in SKIPPED})
    return out


def _is_observed(label: str) -> bool:
    head = label.split("(")[0]
    return head in ("authorize_conf", "start_tx_conf", "boot_conf", "remote_start",
                    "remote_stop", "reserve_now", "cancel_reservation", "soft_reset",
                    "hard_reset", "clear_cache", "change_availability", "unlock_connector",
                    "trigger_message", "get_configuration", "change_configuration",
                    "get_local_list_version")


def svg(chart: list[dict[str, Any]]) -> str:
    e = html.escape
    height = 60 + ROW * len(chart)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
             f'font-family="sans-serif" font-size="12">',
             '<defs><marker id="a" markerWidth="8" markerHeight="8" refX="8" refY="4" '
             'orient="auto"><path d="M0,0 L8,4 L0,8 z"/></marker></defs>']
    for x, name in ((X_EV, "vehicle / cable (inferred)"), (X_CP, "charge point"),
                    (X_CS, "central system")):
        parts.append(f'<text x="{x}" y="18" text-anchor="middle" font-weight="bold">'
                     f'{e(name)}</text>')
        parts.append(f'<line x1="{x}" y1="26" x2="{x}" y2="{height - 10}" stroke="#999"/>')
    for i, r in enumerate(chart):
        y = 46 + ROW * i
        if r["kind"] == "hidden":
            parts.append(f'<line x1="{X_EV}" y1="{y}" x2="{X_CP}" y2="{y}" stroke="#555" '
                         f'stroke-dasharray="5,4" marker-end="url(#a)"/>')
            parts.append(f'<text x="{(X_EV + X_CP) // 2}" y="{y - 4}" text-anchor="middle" '
                         f'font-style="italic">{e(r["text"])}</text>')
            continue
        a, b = (X_CP, X_CS) if r["from"] == "cp" else (X_CS, X_CP)
        colour = "#c00" if r["bad"] else "#888" if r["grey"] else "#000"
        parts.append(f'<line x1="{a}" y1="{y}" x2="{b}" y2="{y}" stroke="{colour}" '
                     f'stroke-width="{2 if r["bad"] else 1}" marker-end="url(#a)"/>')
        label = f'{r["text"]}  [line {r["line"]}]'
        parts.append(f'<text x="{(X_CP + X_CS) // 2}" y="{y - 4}" text-anchor="middle" '
                     f'fill="{colour}"><title>{e(str(r["time"] or ""))}</title>{e(label)}'
                     f'</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def page(log: Log, verdicts: list[Verdict], inference: Any = None) -> str:
    e = html.escape
    body = [f"<h1>chargespec trace: {e(log.file)}</h1>",
            f"<p>{len(log.frames)} frames ({e(log.format)}); "
            + ("every connector explained" if all(v.explained for v in verdicts)
               else "<b>not explained</b>") + "</p>"]
    for v in verdicts:
        if v.explained:
            body.append(f"<p>connector {v.connector}: explained ({v.frames} frames)</p>")
        elif v.frame is not None:
            body.append(f"<p>connector {v.connector}: <b>the first frame no behaviour "
                        f"explains</b>: line {v.frame.line}: {e(v.why)}</p>")
            if v.allowed:
                body.append("<p>the spec allowed there:</p><ul>"
                            + "".join(f"<li>{e(a)}</li>" for a in v.allowed) + "</ul>")
    if inference is not None and inference.config is not None:
        body.append("<h2>configuration</h2><table><tr><th>parameter</th><th>value</th>"
                    "<th>determined by</th></tr>")
        for p, (val, line) in sorted(inference.determined.items()):
            body.append(f"<tr><td>{e(p)}</td><td>{e(str(val))}</td><td>line {line}</td></tr>")
        for p, vals in sorted(inference.open.items()):
            body.append(f"<tr><td>{e(p)}</td><td>any of {e(', '.join(map(str, vals)))}</td>"
                        f"<td>open</td></tr>")
        body.append("</table>")
    body.append(svg(rows(log, verdicts)))
    return ("<!doctype html><html><head><meta charset='utf-8'><title>chargespec trace</title>"
            "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;"
            "text-align:left}</style></head><body>" + "\n".join(body) + "</body></html>\n")
