"""Checks of a `tessera report` page as headless Chromium saw it (tests/e2e/report.sh).

  report_check.py console LOG       Chromium's stderr (--enable-logging=stderr --v=0): fails on
                                    any console message of the page (an uncaught exception, a
                                    Content-Security-Policy refusal, a failed load). The report
                                    has no script, so a console line is always a fault.
  report_check.py dom DOM [--runs N] [--eval] [--images MIN]
                                    the DOM Chromium built (--dump-dom): curves (SVG paths with
                                    at least two points), N run sections, the gallery's <img>
                                    elements with data: URIs that decode as PNG (at least MIN),
                                    the eval table (with --eval), the comparison with its
                                    overlaid curves and config diff when N > 1; no resource
                                    outside the page (src/href to a network or file URL).
  report_check.py shot PNG          the screenshot: a readable PNG that is not blank (the
                                    standard deviation of its grey levels and its number of
                                    distinct colours above a floor that a blank page fails).
Exit 0 when the check holds, 1 with the reasons otherwise.
"""
import base64
import io
import re
import sys
from html.parser import HTMLParser

from PIL import Image, ImageStat


class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.paths = []          # d of <path class="series">
        self.circles = 0
        self.imgs = []           # src of <img>
        self.sections = []       # id of <section>
        self.tables = {}         # class -> number of <tr> inside
        self.external = []
        self._table = []
        self.svgs = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("src", "href"):
            v = a.get(key) or ""
            if re.match(r"^\s*(https?:|//|file:|ftp:)", v, re.I):
                self.external.append(f"<{tag} {key}={v[:80]}>")
        if tag == "svg":
            self.svgs += 1
        elif tag == "path" and "series" in (a.get("class") or ""):
            self.paths.append(a.get("d") or "")
        elif tag == "circle":
            self.circles += 1
        elif tag == "img":
            self.imgs.append(a.get("src") or "")
        elif tag == "section":
            self.sections.append(a.get("id") or "")
        elif tag == "table":
            self._table.append(a.get("class") or "")
            self.tables.setdefault(self._table[-1], 0)
        elif tag == "tr" and self._table:
            self.tables[self._table[-1]] += 1

    def handle_endtag(self, tag):
        if tag == "table" and self._table:
            self._table.pop()


def points(d):
    return len(re.findall(r"[ML]\s*-?[\d.]+\s+-?[\d.]+", d))


def check_console(path):
    lines = [l.rstrip() for l in open(path, errors="replace") if ":CONSOLE" in l]
    if lines:
        print(f"{len(lines)} console message(s):")
        for l in lines[:10]:
            print("  " + l[:300])
        return 1
    print("console: no messages")
    return 0


def check_dom(path, runs, want_eval, min_images):
    dom = Dom()
    dom.feed(open(path, errors="replace").read())
    bad = []
    curves = [d for d in dom.paths if points(d) >= 2]
    if len(curves) < 3:
        bad.append(f"{len(curves)} curves with >= 2 points (of {len(dom.paths)} series paths)")
    if dom.circles < 2:
        bad.append(f"{dom.circles} validation points (<circle>)")
    run_sections = [s for s in dom.sections if s.startswith("run-")]
    if len(run_sections) != runs:
        bad.append(f"{len(run_sections)} run sections, expected {runs}")
    pngs = 0
    for src in dom.imgs:
        m = re.match(r"^data:image/png;base64,([A-Za-z0-9+/=]+)$", src)
        if not m:
            bad.append(f"an <img> without a PNG data: URI: {src[:60]}")
            continue
        try:
            im = Image.open(io.BytesIO(base64.b64decode(m.group(1), validate=True)))
            im.verify()
            pngs += 1
        except Exception as e:  # noqa: BLE001 - any decoding failure is a failed check
            bad.append(f"an <img> data: URI is not a PNG: {e}")
    if pngs < min_images:
        bad.append(f"gallery: {pngs} PNG <img> elements, expected at least {min_images}")
    if want_eval and dom.tables.get("eval", 0) < 2:
        bad.append(f"no eval table rows (tables: {dom.tables})")
    if runs > 1:
        if "comparison" not in dom.sections:
            bad.append("no comparison section")
        if dom.tables.get("config-diff", 0) < 2:
            bad.append(f"no config diff rows (tables: {dom.tables})")
    if dom.external:
        bad.append(f"resources outside the page: {dom.external[:5]}")
    print(f"dom: {dom.svgs} svg, {len(curves)} curves, {dom.circles} points, {pngs} PNG images, "
          f"sections {dom.sections}, tables {dom.tables}")
    for b in bad:
        print("FAIL: " + b)
    return 1 if bad else 0


def check_shot(path):
    im = Image.open(path)
    im.load()
    grey = im.convert("L")
    std = ImageStat.Stat(grey).stddev[0]
    colours = im.convert("RGB").getcolors(maxcolors=1 << 20)
    n = len(colours) if colours is not None else 1 << 20
    print(f"screenshot {path}: {im.size[0]}x{im.size[1]}, grey stddev {std:.2f}, {n} colours")
    if std < 2.0 or n < 16:
        print("FAIL: the screenshot is blank")
        return 1
    return 0


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    what, path = argv[1], argv[2]
    if what == "console":
        return check_console(path)
    if what == "shot":
        return check_shot(path)
    if what == "dom":
        args = argv[3:]
        runs = int(args[args.index("--runs") + 1]) if "--runs" in args else 1
        min_images = int(args[args.index("--images") + 1]) if "--images" in args else 1
        return check_dom(path, runs, "--eval" in args, min_images)
    print(f"unknown check {what}")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
