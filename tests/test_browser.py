"""The report in a real browser: Chromium, headless, fetching over loopback only.

The page's own script records what rendered (`data-diagrams-rendered`: diagrams whose SVG has a
non-empty bounding box and nodes, out of all) and whether timing.js loaded; `--dump-dom` gives
the DOM after it ran.  Opened: the committed reports/index.html, and the report of the spec
with planted markup (tests/test_report.py), where no planted element may exist in the DOM.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from test_report import REPO, cited_sections

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def browser() -> str:
    found = os.environ.get("CHARGESPEC_BROWSER") or next(
        (p for p in map(shutil.which, CANDIDATES) if p), None)
    if not found:
        pytest.fail("no Chromium: `make test` installs Debian's chromium through apt; elsewhere "
                    "install it or set CHARGESPEC_BROWSER to a Chrome/Chromium binary")
    return found


class Served:
    """A directory over HTTP on 127.0.0.1, on a free port, for the test's duration."""

    def __init__(self, directory: Path):
        handler = functools.partial(_Quiet, directory=str(directory))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # noqa: D401 - keep pytest's output clean
        pass


def chromium(url: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [browser(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions",
           "--no-first-run", f"--user-data-dir={profile}",
           # loopback only: every other host fails to resolve
           "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
           "--virtual-time-budget=5000", *args, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


class DomFacts(HTMLParser):
    """What the dumped DOM holds: body attributes, ids, tags, table rows' first cells."""

    def __init__(self):
        super().__init__()
        self.body: dict[str, str] = {}
        self.ids: set[str] = set()
        self.tags: dict[str, int] = {}
        self.first_cells: list[str] = []
        self._in_td = False
        self._cell = 0
        self.title = ""
        self._in_title = False
        self._svg = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "svg":
            self._svg += 1
        if tag == "body":
            self.body = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "tr":
            self._cell = 0
        if tag == "td":
            self._cell += 1
            self._in_td = self._cell == 1
        if tag == "title" and not self._svg:
            self._in_title = True

    def handle_endtag(self, tag):
        if tag == "svg":
            self._svg -= 1
        if tag == "td":
            self._in_td = False
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_td:
            self.first_cells.append(data.strip())
        if self._in_title:
            self.title += data


def open_report(directory: Path, tmp_path: Path) -> tuple[DomFacts, str, Path]:
    served = Served(directory)
    try:
        shot = tmp_path / "report.png"
        dom = chromium(served.url + "index.html", tmp_path / "profile", "--dump-dom")
        assert dom.returncode == 0 and "<body" in dom.stdout, dom.stderr[-2000:]
        pic = chromium(served.url + "index.html", tmp_path / "profile",
                       f"--screenshot={shot}", "--window-size=1400,2000")
        assert pic.returncode == 0, pic.stderr[-2000:]
    finally:
        served.close()
    facts = DomFacts()
    facts.feed(dom.stdout)
    return facts, dom.stdout, shot


def assert_rendered(facts: DomFacts, shot: Path, spec) -> None:
    rendered, _, total = facts.body.get("data-diagrams-rendered", "0/?").partition("/")
    # the machine, 6 class projections, the status table, 2 DLM sites; the phases, 6 phase
    # pages and 6 status views (the readable state views)
    assert total == "23" and rendered == total, facts.body
    rendered, _, total = facts.body.get("data-sequences-rendered", "0/?").partition("/")
    assert total == "16" and rendered == total, facts.body  # the sequence charts
    assert 0 < int(facts.body.get("data-widest-figure", "0")) <= 1400, facts.body
    assert facts.body.get("data-timing-loaded") == "yes"
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    sections = set(facts.first_cells)
    missing = cited_sections(spec) - sections
    assert not missing, f"traceability matrix lacks {sorted(missing)}"


@pytest.mark.slow  # the planted build below renders the same pages in make test
def test_the_committed_report_renders_in_chromium(tmp_path, spec):
    facts, dom, shot = open_report(REPO / "reports", tmp_path)
    assert_rendered(facts, shot, spec)
    assert facts.tags.get("script") == 2
    assert not any(k.startswith("on") for k in facts.body)


def test_planted_markup_stays_text_in_chromium(built, tmp_path):
    c, _, directory = built
    facts, dom, shot = open_report(directory, tmp_path)
    assert_rendered(facts, shot, c.engine.spec)
    assert "pwned" not in facts.title
    # the readable views' edges carry their rules and guards as tooltips in the rendered DOM
    assert re.search(r"<title>authorize_conf: authorize_accepted_plugged \[[^<]*powered", dom)
    assert not ({"injected", "injected2"} & facts.ids)
    assert facts.tags.get("script") == 2 and "img" not in facts.tags
    assert "&lt;b id=\"injected\"&gt;" in dom or '&lt;b id="injected"&gt;' in dom


def test_every_picture_file_renders_in_chromium(tmp_path):
    """Every SVG of reports/diagrams and reports/sequences (the OCTT charts are linked from the
    page, not inlined) loaded as an image by one page: each decodes to a picture of non-zero
    size, none wider than 1,400 px at 100 % zoom (the DLM site pictures and the whole-machine
    projections are the report's reference drawings, kept at their size: only the readable
    views and the charts are held to the limit)."""
    import shutil as _sh
    site = tmp_path / "site"
    _sh.copytree(REPO / "reports", site)
    names = sorted(f"sequences/{p.name}" for p in (site / "sequences").glob("*.svg")) + sorted(
        f"diagrams/{p.name}" for p in (site / "diagrams").glob("*.svg"))
    bounded = [n for n in names if n.startswith("sequences/") or
               n.split("/")[1].startswith(("phase", "status-"))]
    imgs = "".join(f'<img src="{n}" data-bounded="{int(n in bounded)}">' for n in names)
    (site / "pictures.html").write_text(
        "<!doctype html><html><body>" + imgs + "<script>window.addEventListener('load',"
        "function(){var im=document.images,ok=0,wide=0;for(var i=0;i<im.length;i++){"
        "if(im[i].naturalWidth>0&&im[i].naturalHeight>0){ok++;}"
        "if(im[i].getAttribute('data-bounded')==='1'){wide=Math.max(wide,im[i].naturalWidth);}}"
        "document.body.setAttribute('data-loaded',ok+'/'+im.length);"
        "document.body.setAttribute('data-widest',String(wide));});</script></body></html>")
    served = Served(site)
    try:
        dom = chromium(served.url + "pictures.html", tmp_path / "profile", "--dump-dom")
    finally:
        served.close()
    facts = DomFacts()
    facts.feed(dom.stdout)
    assert len(names) > 90 and len(bounded) > 80
    assert facts.body.get("data-loaded") == f"{len(names)}/{len(names)}", facts.body
    assert 0 < int(facts.body.get("data-widest", "0")) <= 1400, facts.body
