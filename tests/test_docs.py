"""The documentation site, checked in a real browser.

Builds `_docs/` with tools/build_docs.py (or reuses a build made from the same inputs), serves it on 127.0.0.1 and
drives headless Chromium over the Chrome DevTools Protocol (websocket-client): every page loads with no failed
request, no console error and nothing from outside the site; the home page, the notebook pages, show_doc blocks,
figures and the search box are there. The layout, at a desktop and a narrow width: wide code blocks scroll instead of
being cut off, names and signatures never break inside a word, a config class's inherited parameters are folded away;
progress bars are not stderr boxes, the navigation names chapter and task notebooks apart, and source links go only
to the real repository. Saves screenshots to outputs/docs_home.png and outputs/docs_screens/.
Chromium comes from Debian (`bash run.sh setup` installs it as root); without it the test skips, except in CI.
"""
import base64, functools, html, http.server, json, os, re, shutil, socketserver, subprocess, sys, tempfile, threading, time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_docs"
NBS = ROOT / "nbs"
SCREENS = ROOT / "outputs" / "docs_screens"
sys.path.insert(0, str(ROOT / "tools"))
import build_docs  # noqa: E402  (tools/build_docs.py: which repository source links may point to)


TITLE = "(document.querySelector('.md-content h1') || {textContent: ''}).textContent.replace('\u00b6', '').trim()"


def _notebooks():
    "Every notebook nbdev documents (it skips names and folders starting with `_` or `.`)."
    return sorted(p for p in NBS.rglob("*.ipynb")
                  if not any(part[0] in "_." for part in p.relative_to(NBS).parts))


def _page(nb: Path) -> str:
    from nbdev.frontmatter import _nbpath2html  # nbdev's own naming: 00_core.ipynb -> core.html
    return _nbpath2html(Path(nb.name)).name


def _image_outputs(nb: Path) -> int:
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    return sum(1 for c in cells for o in c.get("outputs", []) if any(k.startswith("image/") for k in o.get("data", {})))


# ------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def site():
    t = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "tools" / "build_docs.py"), "--if-stale"], cwd=ROOT, check=True)
    print(f"docs build (or freshness check): {time.perf_counter() - t:.1f}s")
    assert (SITE / "index.html").exists()
    return SITE


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass


@pytest.fixture(scope="module")
def base_url(site):
    handler = functools.partial(_Quiet, directory=str(site))
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/"
    srv.shutdown(); srv.server_close()


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name): return shutil.which(name)
    msg = "chromium is not installed (`bash run.sh setup` installs Debian's chromium when run as root)"
    if os.environ.get("CI"): pytest.fail(msg + ": the docs browser test must run in CI")
    pytest.skip(msg)


class Browser:
    "A minimal Chrome DevTools Protocol client for one page target."
    def __init__(self, ws_url):
        import websocket
        self.ws = websocket.create_connection(ws_url, suppress_origin=True, timeout=30)
        self.n, self.events = 0, []

    def _post(self, method, session=None, **params):
        self.n += 1
        msg = {"id": self.n, "method": method, "params": params}
        if session: msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        return self.n

    def _event(self, msg):
        self.events.append(msg)
        if msg["method"] == "Target.attachedToTarget":  # a worker (Material's search): watch its requests too
            sid = msg["params"]["sessionId"]
            for domain in ("Network", "Runtime", "Log"): self._post(f"{domain}.enable", session=sid)

    def send(self, method, **params):
        n = self._post(method, **params)
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == n and "sessionId" not in msg:
                if "error" in msg: raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg: self._event(msg)

    def pump(self, seconds):
        "Collect events for up to `seconds`."
        import websocket
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.ws.settimeout(left)
            try: msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException: break
            finally: self.ws.settimeout(30)
            if "method" in msg: self._event(msg)

    def js(self, expr):
        r = self.send("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r: raise RuntimeError(f"{expr}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_for(self, expr, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.js(expr): return True
            self.pump(0.1)
        return False

    def visit(self, url, base):
        """Load `url`, wait until the page and everything it requests are done; return its problems: failed
        requests, HTTP errors, requests to anything but the local server, console errors, uncaught exceptions."""
        start = len(self.events)
        self.send("Page.navigate", url=url)
        end = time.monotonic() + 30
        while time.monotonic() < end and not any(e["method"] == "Page.loadEventFired" for e in self.events[start:]):
            self.pump(0.2)
        # then until nothing has happened for 0.5 s (MathJax and the search index load after 'load')
        while time.monotonic() < end:
            seen = len(self.events)
            self.pump(0.5)
            if len(self.events) == seen: break
        problems = []
        for e in self.events[start:]:
            m, p = e["method"], e["params"]
            if m == "Network.requestWillBeSent":
                u = p["request"]["url"]
                if not (u.startswith(base) or u.startswith(("data:", "blob:", "about:"))): problems.append(f"request to {u}")
            elif m == "Network.responseReceived" and p["response"]["status"] >= 400:
                problems.append(f"HTTP {p['response']['status']} for {p['response']['url']}")
            elif m == "Network.loadingFailed" and not p.get("canceled"):
                problems.append(f"failed request ({p.get('errorText')}, {p.get('blockedReason', '')})")
            elif m == "Runtime.exceptionThrown":
                problems.append(f"exception: {p['exceptionDetails'].get('text')} {p['exceptionDetails'].get('exception', {}).get('description', '')}")
            elif m == "Runtime.consoleAPICalled" and p["type"] == "error":
                problems.append(f"console.error: {[a.get('value', a.get('description')) for a in p['args']]}")
            elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
                problems.append(f"console: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return problems


@pytest.fixture(scope="module")
def browser():
    exe = _chromium()
    profile = tempfile.mkdtemp(prefix="docs-chromium-")
    proc = subprocess.Popen([exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                             "--disable-background-networking", "--disable-component-update", "--disable-sync",
                             "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--remote-debugging-port=0",
                             "--window-size=1280,1000", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file, end = Path(profile) / "DevToolsActivePort", time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > end: pytest.fail(f"{exe} did not start (exit {proc.poll()})")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        b = Browser(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
        for domain in ("Page", "Network", "Runtime", "Log"): b.send(f"{domain}.enable")
        b.send("Target.setAutoAttach", autoAttach=True, waitForDebuggerOnStart=False, flatten=True)
        b.send("Network.setCacheDisabled", cacheDisabled=True)
        yield b
    finally:
        proc.terminate()
        try: proc.wait(10)
        except subprocess.TimeoutExpired: proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------- tests
def test_pages_load_nothing_from_the_internet(site):
    "No script, stylesheet, font or icon comes from outside the site (links to elsewhere are fine)."
    bad = []
    for f in site.rglob("*.html"):
        text = f.read_text(encoding="utf-8")
        bad += [f"{f.name}: {m}" for m in re.findall(r'<script[^>]*\ssrc="(?:https?:)?//[^"]*"', text)]
        bad += [f"{f.name}: {m}" for m in re.findall(r'<link[^>]*\shref="(?:https?:)?//[^"]*"[^>]*>', text)
                if not re.search(r'rel="(?:canonical|alternate)"', m)]
    for f in site.rglob("*.css"):
        bad += [f"{f.name}: {m}" for m in re.findall(r'(?:@import|url\()\s*["\']?(?:https?:)?//[^)"\']*', f.read_text(encoding="utf-8"))]
    assert not bad, bad


def test_links_between_pages_resolve(site):
    "Every link from one page to another (nav, doclinks of backticked names, notebook links) reaches a page and anchor."
    ids = {f.relative_to(site).as_posix(): set(re.findall(r'\sid="([^"]+)"', f.read_text(encoding="utf-8")))
           for f in site.rglob("*.html")}
    bad, n = [], 0
    for f in site.rglob("*.html"):
        if f.name == "404.html": continue  # its links are absolute from the site root
        here = f.relative_to(site).as_posix()
        for href in re.findall(r'<a\s[^>]*href="([^"]+)"', f.read_text(encoding="utf-8")):
            href = html.unescape(href)
            if re.match(r"^[a-z][a-z0-9+.-]*:|^//", href): continue
            n += 1
            page, _, anchor = href.partition("#")
            page = os.path.normpath(os.path.join(os.path.dirname(here), page)) if page else here
            if page in (".", ""): page = "index.html"
            if page not in ids: bad.append(f"{here}: {href} (no such page)")
            elif anchor and anchor not in ids[page]: bad.append(f"{here}: {href} (no such anchor)")
    assert n > 0 and not bad, bad


def test_home_page(browser, base_url):
    problems = browser.visit(base_url + "index.html", base_url)
    assert not problems, problems
    assert "brainvlm" in browser.js("document.title")
    assert browser.js(TITLE) == "brainvlm"
    text = browser.js("document.querySelector('.md-content').innerText")
    for cmd in ("bash run.sh demo", "bash run.sh test", "bash run.sh docs"): assert cmd in text
    assert browser.js("!!document.querySelector('input.md-search__input')"), "no search box"
    shot = browser.send("Page.captureScreenshot", format="png")["data"]
    out = ROOT / "outputs" / "docs_home.png"
    out.parent.mkdir(exist_ok=True)
    out.write_bytes(base64.b64decode(shot))


def test_nav_reaches_every_notebook(browser, base_url):
    assert not browser.visit(base_url + "index.html", base_url)
    nav = browser.js("Array.from(document.querySelectorAll('nav.md-nav--primary a.md-nav__link[href]')).map(a => a.href)")
    nav = {u.split("#")[0] for u in nav}
    pages = {nb: base_url + _page(nb) for nb in _notebooks()}
    assert (NBS / "00_core.ipynb") in pages and (NBS / "index.ipynb") in pages
    missing = [str(nb.relative_to(ROOT)) for nb, url in pages.items() if url not in nav]
    assert not missing, f"not in the navigation: {missing}"
    for nb, url in pages.items():
        problems = browser.visit(url, base_url)
        assert not problems, (url, problems)
        assert browser.js(TITLE), f"{url}: no title"
        broken = browser.js("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src.slice(0, 80))")
        assert not broken, f"{url}: images that did not load: {broken}"


def test_notebook_page_core(browser, base_url):
    "00_core: title and description from the notebook, show_doc blocks, no `#| hide`/`#| export` source."
    assert not browser.visit(base_url + "core.html", base_url)
    assert browser.js(TITLE) == "Core"
    assert "Modality specifications" in browser.js("document.querySelector('.md-content h1 + blockquote').innerText")
    docs = browser.js("""Array.from(document.querySelectorAll('.jp-Cell.celltag_nbdev_show_doc')).map(c => ({
        name: (c.querySelector('h3, h4') || {textContent: ''}).textContent.replace('\\u00b6', '').trim(),
        sig: (c.querySelector('pre') || {textContent: ''}).textContent,
        source: (c.querySelector('a[href*="/blob/"]') || {textContent: ''}).textContent}))""")
    names = [d["name"] for d in docs]
    assert "get_modality" in names and "ModalitySpec" in names, names
    d = docs[names.index("get_modality")]
    assert "def get_modality(" in d["sig"], d
    # source links only when settings.ini's git_url is this checkout's repository (not a placeholder organisation)
    assert d["source"] == ("source" if build_docs.source_repo() else ""), d
    text = browser.js("document.querySelector('.md-content').innerText")
    assert "#|" not in text
    assert "from fastcore.test import" not in text              # a `#| hide` cell
    assert "_SECRET_WORDS" not in text                          # an `#| export` cell's source
    assert 'get_modality("rsfMRI")' in text                      # an ordinary code cell stays
    # a doclink of a backticked name goes to the local page
    assert browser.js("Array.from(document.querySelectorAll('.md-content a')).some(a => a.getAttribute('href') === 'core.html#dataerror')")


def test_figures_load(browser, base_url):
    "Every stored figure output is on its page, and loaded (naturalWidth > 0)."
    with_figs = {nb: n for nb in _notebooks() if (n := _image_outputs(nb))}
    if not with_figs: pytest.skip("no notebook in nbs/ has a stored figure output yet")
    for nb, n in with_figs.items():
        url = base_url + _page(nb)
        assert not browser.visit(url, base_url)
        assert browser.wait_for("Array.from(document.images).every(i => i.complete)")
        shown = browser.js("""Array.from(document.querySelectorAll('.jp-OutputArea-output img')).filter(i => i.naturalWidth > 0).length
                              + document.querySelectorAll('.jp-OutputArea-output svg').length""")
        assert shown >= n, f"{url}: {shown} figures shown, {nb.name} stores {n}"


def test_search(browser, base_url):
    assert not browser.visit(base_url + "core.html", base_url)
    browser.js("document.querySelector('input.md-search__input').focus()")
    browser.send("Input.insertText", text="modality")
    assert browser.wait_for("document.querySelectorAll('.md-search-result__item').length > 0", timeout=15), \
        "the search box found nothing for 'modality'"
    hits = browser.js("Array.from(document.querySelectorAll('.md-search-result__item a')).map(a => a.href)")
    assert any(h.startswith(base_url + "core.html") for h in hits), hits


# ---------------------------------------------------------------------------------------------------- layout
LAYOUT = r"""(() => {
  const content = document.querySelector('.md-content__inner');
  const right = content.getBoundingClientRect().right;
  const scrolls = e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX);
  const clips = e => ['hidden', 'clip'].includes(getComputedStyle(e).overflowX);
  const label = e => (e.closest('.jp-Cell') || e).id + ' ' + e.tagName.toLowerCase() + ': ' + e.textContent.trim().slice(0, 60);
  const cut = [], split = [], styles = [];
  // 1. a code block whose text is wider than the block scrolls sideways, in a scroller that fits the column
  for (const e of content.querySelectorAll('pre, div.highlight, div.highlight-ipynb')) {
    if (!e.checkVisibility() || e.scrollWidth <= e.clientWidth + 1) continue;
    let s = e, hidden = null;
    while (s && s !== content && !scrolls(s)) { if (s !== e && clips(s)) hidden = hidden || s; s = s.parentElement; }
    if (s === content || !s) cut.push('no scrollbar: ' + label(e));
    else if (hidden) cut.push('clipped by ' + hidden.className + ': ' + label(e));
    else if (s.getBoundingClientRect().right > right + 1) cut.push('scroller wider than the page: ' + label(e));
  }
  // 2. names (inline code that is one identifier) and signature tokens sit on one line; their styles break no word
  const oneLine = e => e.getClientRects().length <= 1;
  for (const e of content.querySelectorAll('code')) {
    if (e.closest('pre') || !e.checkVisibility() || !/^[A-Za-z_][\w.]*$/.test(e.textContent.trim())) continue;
    if (!oneLine(e)) split.push('name: ' + e.textContent);
    const st = getComputedStyle(e);
    if (st.wordBreak !== 'normal' || st.overflowWrap === 'anywhere') styles.push(`code ${e.textContent}: word-break ${st.wordBreak}, overflow-wrap ${st.overflowWrap}`);
  }
  for (const pre of content.querySelectorAll('.celltag_nbdev_show_doc .jp-RenderedMarkdown pre')) {
    if (!pre.checkVisibility()) continue;
    const st = getComputedStyle(pre);
    if (st.wordBreak !== 'normal' || st.overflowWrap !== 'normal') styles.push(`signature ${label(pre)}: word-break ${st.wordBreak}, overflow-wrap ${st.overflowWrap}`);
    for (const t of pre.querySelectorAll('span')) if (/^\w+$/.test(t.textContent) && !oneLine(t)) split.push('signature token: ' + t.textContent + ' in ' + label(pre));
  }
  for (const h of content.querySelectorAll('.celltag_nbdev_show_doc h3, .celltag_nbdev_show_doc h4, h1, h2')) {
    const text = h.firstChild;
    if (!text || text.nodeType !== 3 || /\s/.test(text.textContent.trim())) continue;
    const r = document.createRange(); r.selectNodeContents(text);
    if (r.getClientRects().length > 1) split.push('heading: ' + text.textContent);
  }
  return {cut, split, styles};
})()"""


def _pages():
    return [f.name for f in sorted(SITE.glob("*.html")) if f.name != "404.html"]


def _width(browser, width):
    if width is None: browser.send("Emulation.clearDeviceMetricsOverride")
    else: browser.send("Emulation.setDeviceMetricsOverride", width=width, height=1000, deviceScaleFactor=1, mobile=False)


def _shot(browser, name, selector=None):
    "A screenshot of the viewport, scrolled to `selector` (under the header), in outputs/docs_screens/."
    if selector:
        browser.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (e) {{ e.scrollIntoView(); window.scrollBy(0, -80); }} }})()")
        browser.pump(0.2)
    SCREENS.mkdir(parents=True, exist_ok=True)
    (SCREENS / f"{name}.png").write_bytes(base64.b64decode(browser.send("Page.captureScreenshot", format="png")["data"]))


PAGE_FACTS = r"""({
    bars: Array.from(document.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]'))
               .filter(e => /\d+%\|/.test(e.textContent)).map(e => e.textContent.trim().slice(0, 60)),
    progress: Array.from(document.querySelectorAll('pre.nb-progress')).map(e => e.textContent.split('\n').length),
    sources: Array.from(document.querySelectorAll('.md-content a')).filter(a => a.textContent.trim() === 'source').map(a => a.href),
    rawmd: Array.from(document.querySelectorAll('.celltag_nbdev_show_doc pre')).filter(e => /\]\(|`/.test(e.textContent))
                .map(e => e.textContent.trim().slice(0, 80))})"""
WIDTHS = (1280, 800)  # a desktop window and a narrow one (Material's layout without the side bars)


@pytest.fixture(scope="module")
def page_reports(browser, base_url):
    "Every page visited once per width: what LAYOUT finds, and PAGE_FACTS (at the desktop width)."
    reports = {}
    try:
        for width in WIDTHS:
            _width(browser, width)
            for page in _pages():
                assert not browser.visit(base_url + page, base_url)
                reports[width, page] = {**browser.js(LAYOUT), **(browser.js(PAGE_FACTS) if width == WIDTHS[0] else {})}
            assert not browser.visit(base_url + "index.html", base_url)
            _shot(browser, f"home-{width}", "table")
    finally:
        _width(browser, None)
    return reports


@pytest.mark.parametrize("width", WIDTHS)
def test_layout_wide_code_scrolls(page_reports, width):
    """No code block is cut off on any page: a block whose text is wider than it scrolls sideways, in a scroller that
    fits the page's column (the README's commands on the home page were cut off on the right)."""
    bad = {page: r["cut"][:5] for (w, page), r in page_reports.items() if w == width and r["cut"]}
    assert not bad, json.dumps(bad, indent=1)


def test_signatures_show_no_raw_markdown(page_reports):
    """A signature is a code block, which shows markdown raw: its parameter comments carry no `[name](page.html#name)`
    doclinks and no backticks (reference_data's comment read "([`resolve_config`](run.html#resolve_config), ...")."""
    bad = {page: r["rawmd"][:3] for (w, page), r in page_reports.items() if w == WIDTHS[0] and r["rawmd"]}
    assert not bad, json.dumps(bad, indent=1)


@pytest.mark.parametrize("width", WIDTHS)
def test_layout_names_and_signatures_stay_whole(page_reports, width):
    """No module name, show_doc name or signature token is split across lines, and their styles break no word
    (Material's `word-break: break-word` split `brainvlm.cohorts` in the home page's table; Jupyter's output style
    `break-all`, `grid:Seque|nce` in signatures)."""
    bad = {page: {k: r[k][:5] for k in ("split", "styles") if r[k]}
           for (w, page), r in page_reports.items() if w == width and (r["split"] or r["styles"])}
    assert not bad, json.dumps(bad, indent=1)


def test_layout_inherited_config_parameters_folded(browser, base_url):
    "`VolumeBlip2VisionConfig`: its own parameters in the signature, the ~20 it inherits from transformers folded away."
    assert not browser.visit(base_url + "blip2.html", base_url)
    block = browser.js("""(() => {
        const h = document.getElementById('volumeblip2visionconfig');
        const out = h && h.closest('.jp-RenderedMarkdown');
        if (!out) return null;
        const sig = out.querySelector('pre'), det = out.querySelector('details.inherited-params');
        return {sig: sig.textContent, sig_visible: sig.checkVisibility(), height: out.getBoundingClientRect().height,
                details: det && det.textContent, open: det && det.open,
                folded_visible: det ? det.querySelector('pre').checkVisibility() : null,
                summary: det && det.querySelector('summary').textContent};
    })()""")
    assert block, "no show_doc block for VolumeBlip2VisionConfig on blip2.html"
    assert block["sig_visible"] and "def VolumeBlip2VisionConfig(" in block["sig"]
    for own in ("modalities", "patch_policy", "patch_impl"): assert own in block["sig"], block["sig"]
    for inherited in ("transformers_version", "id2label", "hidden_size", "qkv_bias"):
        assert inherited not in block["sig"], block["sig"]
        assert block["details"] and inherited in block["details"], block
    assert block["open"] is False and block["folded_visible"] is False, block
    assert "inherited from transformers" in block["summary"], block["summary"]
    assert block["height"] < 400, f"the show_doc block is {block['height']:.0f}px tall"
    _shot(browser, "blip2-config", "#volumeblip2visionconfig")
    # and open, the folded parameters show
    browser.js("document.querySelector('#volumeblip2visionconfig').closest('.jp-RenderedMarkdown').querySelector('details.inherited-params').open = true")
    assert browser.js("document.querySelector('details.inherited-params pre').checkVisibility()")


def test_progress_bars_navigation_and_source_links(browser, base_url, page_reports):
    """tqdm bars stored on stderr show as their final line, not as stderr boxes; the navigation names every page
    once, a task notebook as `Task: ...`; source links only to settings.ini's repository when it is this checkout's."""
    facts = {page: r for (w, page), r in page_reports.items() if w == WIDTHS[0]}
    stderr_bars = [f"{page}: {b}" for page, r in facts.items() for b in r["bars"]]
    assert not stderr_bars, stderr_bars
    assert all(n <= 5 for r in facts.values() for n in r["progress"]), {p: r["progress"] for p, r in facts.items()}
    stored = sum(1 for nb in _notebooks() for c in json.loads(nb.read_text(encoding="utf-8"))["cells"]
                 for o in c.get("outputs", []) if o.get("name") == "stderr" and re.search(r"\d+%\|", "".join(o.get("text", ""))))
    assert sum(len(r["progress"]) for r in facts.values()) or not stored, "the notebooks store progress bars, the pages show none"
    sources = [u for r in facts.values() for u in r["sources"]]
    repo = build_docs.source_repo()
    if repo is None: assert not sources, sources[:3]
    else: assert sources and all(u.startswith(repo.rstrip("/") + "/") for u in sources), sources[:3]
    if with_bars := [page for page, r in facts.items() if r["progress"]]:
        assert not browser.visit(base_url + with_bars[0], base_url)
        _shot(browser, "progress-bar", "pre.nb-progress")

    assert not browser.visit(base_url + "index.html", base_url)
    nav = browser.js("""Array.from(document.querySelectorAll('nav.md-nav--primary a.md-nav__link[href]'))
        .filter(a => !a.closest('.md-nav--secondary'))  // the open page's table of contents is not the site's navigation
        .map(a => [a.textContent.trim(), a.getAttribute('href')])""")
    titles = {}
    for title, href in nav: titles.setdefault(title, set()).add(href.split("#")[0])
    assert all(len(h) == 1 for h in titles.values()), {t: h for t, h in titles.items() if len(h) > 1}
    tasks = [nb for nb in _notebooks() if not nb.name[0].isdigit() and nb.name != "index.ipynb"
             and any("parameters" in c.get("metadata", {}).get("tags", []) for c in json.loads(nb.read_text(encoding="utf-8"))["cells"])]
    task_pages = {h for t, hs in titles.items() if t.startswith("Task: ") for h in hs}
    for nb in tasks: assert any(nb.stem in h for h in task_pages), (nb.name, sorted(titles))
    if (NBS / "evaluate.ipynb").exists() and (NBS / "09_evaluate.ipynb").exists():
        assert "Task: Evaluate" in titles and "Evaluate" not in titles, sorted(titles)
