"""JupyterLab, as `bash run.sh lab` starts it, serves the notebooks and runs code in a kernel.

Starts `jupyter lab` headless with the arguments run.sh's `lab` command gives it (the repository as root, the file
browser on nbs/), on 127.0.0.1 with a token and a free port, in private Jupyter config/data/runtime folders; checks
that `/lab` answers, that the contents API returns `nbs/00_core.ipynb` as a notebook, then opens a session on that
notebook (as JupyterLab does when you open it), runs code in its kernel over the kernel's websocket (the package
imports, the working folder is nbs/, a figure comes back inline) and shuts everything down. About 10 s.
"""
import json, os, re, secrets, shlex, signal, socket, subprocess, sys, tempfile, time, urllib.error, urllib.request, uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEADLINE = 60  # seconds for the whole test, server start included


def _lab_args() -> list[str]:
    "The arguments run.sh's `lab` command passes to `jupyter lab` (before the user's own), with $PWD the repository."
    m = re.search(r'^\s*exec jupyter lab (.*?)\s*"\$@"\s*$', (ROOT / "run.sh").read_text(), flags=re.M)
    assert m, "run.sh has no `lab` command that execs `jupyter lab ... \"$@\"`"
    return [a.replace("$PWD", str(ROOT)) for a in shlex.split(m.group(1))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    def __init__(self, url, token):
        self.url, self.token = url.rstrip("/"), token

    def request(self, path, method="GET", body=None, timeout=10):
        "(status, content type, body) of a request with the token; redirects followed (`self.final_url`: where to)."
        req = urllib.request.Request(f"{self.url}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            data, self.final_url = r.read(), r.geturl()
            return r.status, r.headers.get("Content-Type", ""), data


@pytest.fixture(scope="module")
def lab():
    try: import jupyterlab  # noqa: F401
    except ImportError:
        msg = "jupyterlab is not installed (a dev requirement: `bash run.sh setup` installs it)"
        if os.environ.get("CI"): pytest.fail(msg)
        pytest.skip(msg)
    start = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="lab-test-"))
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp / "config"), "JUPYTER_DATA_DIR": str(tmp / "data"),
           "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"), "IPYTHONDIR": str(tmp / "ipython"), "JUPYTER_PLATFORM_DIRS": "1"}
    env.pop("MPLBACKEND", None)  # as run.sh's `lab` does: kernels draw inline
    env.pop("JUPYTER_PORT", None); env.pop("JUPYTER_TOKEN", None)
    token = secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", *_lab_args(), "--no-browser", "--ip=127.0.0.1", f"--port={_free_port()}",
           f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False", "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--ServerApp.shutdown_no_activity_timeout=300",
           "--MappingKernelManager.cull_idle_timeout=0"]
    log, server = open(tmp / "lab.log", "w+"), None
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # the server writes jpserver-<pid>.json (with its real URL: the port may move on a clash) once it listens
        info, end = None, time.monotonic() + 40
        while info is None:
            if proc.poll() is not None or time.monotonic() > end:
                log.seek(0)
                pytest.fail(f"jupyter lab did not start (exit {proc.poll()}):\n{log.read()[-3000:]}")
            for f in (tmp / "runtime").glob(f"jpserver-{proc.pid}.json"):
                try: info = json.loads(f.read_text())
                except ValueError: pass  # being written
            time.sleep(0.1)
        server = Lab(info["url"], token)
        while True:  # until it answers
            try:
                if server.request("/api/status", timeout=2)[0] == 200: break
            except (urllib.error.URLError, ConnectionError, TimeoutError): pass
            if time.monotonic() > end: pytest.fail("jupyter lab did not answer /api/status")
            time.sleep(0.1)
        print(f"jupyter lab answering after {time.monotonic() - start:.1f}s at {server.url}")
        server.start = start
        yield server
    finally:
        if server is not None:
            try: server.request("/api/shutdown", method="POST", timeout=5)  # shuts its kernels down too
            except (urllib.error.URLError, ConnectionError, TimeoutError): pass
        try: proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try: proc.wait(10)
            except subprocess.TimeoutExpired: os.killpg(proc.pid, signal.SIGKILL); proc.wait(5)
        log.close()
        import shutil; shutil.rmtree(tmp, ignore_errors=True)


def _execute(lab: Lab, kernel_id: str, code: str, timeout: float = 30) -> dict:
    "Run `code` in the kernel over its websocket (Jupyter's messaging protocol); return its outputs and reply."
    import websocket
    ws = websocket.create_connection(f"{lab.url.replace('http', 'ws', 1)}/api/kernels/{kernel_id}/channels",
                                     header=[f"Authorization: token {lab.token}"], timeout=timeout)
    try:
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({"header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex,
                                       "msg_type": "execute_request", "version": "5.3", "date": ""},
                            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                            "content": {"code": code, "silent": False, "store_history": False,
                                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
        out = {"stdout": "", "stderr": "", "display": [], "error": None, "reply": None}
        idle, end = False, time.monotonic() + timeout
        while not (idle and out["reply"]):
            ws.settimeout(max(0.1, end - time.monotonic()))
            if time.monotonic() > end: raise TimeoutError(f"no reply to {code!r} in {timeout}s: {out}")
            msg = json.loads(ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id: continue
            t, c = msg["msg_type"], msg["content"]
            if t == "stream": out[c["name"]] += c["text"]
            elif t in ("display_data", "execute_result"): out["display"].append(c["data"])
            elif t == "error": out["error"] = f"{c['ename']}: {c['evalue']}"
            elif t == "execute_reply": out["reply"] = c["status"]
            elif t == "status" and c["execution_state"] == "idle": idle = True
        return out
    finally:
        ws.close()


def test_lab_serves_the_notebooks(lab):
    status, ctype, body = lab.request("/lab")
    assert status == 200 and "text/html" in ctype and b"JupyterLab" in body
    status, _, body = lab.request("/")  # what the browser opens: run.sh's `lab` sends it to the notebooks
    assert status == 200 and lab.final_url.endswith("/lab/tree/nbs"), lab.final_url
    status, _, body = lab.request("/api/contents/nbs/00_core.ipynb?content=1")
    model = json.loads(body)
    assert status == 200 and model["type"] == "notebook" and model["path"] == "nbs/00_core.ipynb"
    assert model["content"]["nbformat"] == 4 and any(c["cell_type"] == "code" for c in model["content"]["cells"])
    listing = json.loads(lab.request("/api/contents/nbs")[2])
    assert {"00_core.ipynb", "index.ipynb"} <= {c["name"] for c in listing["content"]}


def test_lab_runs_a_notebook_kernel(lab):
    "Open nbs/00_core.ipynb's session (what JupyterLab does on opening it) and run code in its kernel."
    t = time.monotonic()
    status, _, body = lab.request("/api/sessions", method="POST", body={
        "path": "nbs/00_core.ipynb", "name": "00_core.ipynb", "type": "notebook", "kernel": {"name": "python3"}})
    session = json.loads(body)
    assert status == 201, body
    kernel_id = session["kernel"]["id"]
    try:
        out = _execute(lab, kernel_id, "import os, sys, brainvlm.core\n"
                                        "print(brainvlm.core.IMAGE_TOKEN, os.path.basename(os.getcwd()), sys.prefix)")
        assert out["reply"] == "ok" and out["error"] is None, out
        token, cwd, prefix = out["stdout"].split()
        assert token == "<image>"
        assert cwd == "nbs", "the kernel of a notebook in nbs/ runs in nbs/ (as nbdev_test runs it)"
        assert Path(prefix).resolve() == Path(sys.prefix).resolve(), "the kernel runs in the project's environment"
        # a figure comes back inline (the kernel is not on the Agg backend the command line uses)
        out = _execute(lab, kernel_id, "import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0]); plt.show()")
        assert out["reply"] == "ok" and any("image/png" in d for d in out["display"]), out
        # an error is reported as one
        out = _execute(lab, kernel_id, "from brainvlm.core import get_modality\nget_modality('no-such-modality')")
        assert out["reply"] == "error" and out["error"], out
    finally:
        lab.request(f"/api/sessions/{session['id']}", method="DELETE")
    assert kernel_id not in {k["id"] for k in json.loads(lab.request("/api/kernels")[2])}
    print(f"kernel session: {time.monotonic() - t:.1f}s; whole test {time.monotonic() - lab.start:.1f}s")
    assert time.monotonic() - lab.start < DEADLINE
