"""The documentation site, checked in a real browser.

Builds `_docs/` with tools/build_docs.py (or reuses a build made from the same inputs), serves it on 127.0.0.1 and
drives headless Chromium over the Chrome DevTools Protocol (websocket-client): every page loads with no failed
request, no console error and nothing from outside the site; the home page, the notebook pages, show_doc blocks,
figures and the search box are there. Saves a screenshot of the home page to outputs/docs_home.png.
Chromium comes from Debian (`bash run.sh setup` installs it as root); without it the test skips, except in CI.
"""
import base64, functools, html, http.server, json, os, re, shutil, socketserver, subprocess, sys, tempfile, threading, time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_docs"
NBS = ROOT / "nbs"


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
    assert "def get_modality(" in d["sig"] and d["source"] == "source", d
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
