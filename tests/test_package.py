"""Checks on the exported package that a notebook cell cannot make: every module imports on its own
(no name that only a notebook's hidden cell defined), and no module imports a higher-numbered one."""
import ast, importlib, json, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _modules():
    """Module name -> chapter number ("06", "06a", ...: reading order is string order), from each numbered notebook's `default_exp`."""
    out = {}
    for nb in sorted((ROOT / "nbs").glob("[0-9][0-9]*_*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            src = "".join(cell["source"])
            if cell["cell_type"] == "code" and "default_exp" in src:
                out[src.split("default_exp", 1)[1].split()[0]] = nb.name.split("_", 1)[0]
    return out


def test_every_module_imports_in_a_fresh_interpreter():
    for mod in _modules():
        r = subprocess.run([sys.executable, "-c", f"import brainvlm.{mod}"], capture_output=True, text=True)
        assert r.returncode == 0, f"brainvlm.{mod}: {r.stderr[-2000:]}"


def test_import_graph_follows_reading_order():
    order = _modules()
    assert {"core", "io", "cohorts", "synth", "models", "run", "launch"} <= set(order)
    for mod, num in order.items():
        tree = ast.parse((ROOT / "brainvlm" / f"{mod}.py").read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("brainvlm."):
                names = [node.module.split(".")[1]]
            elif isinstance(node, ast.Import):
                names = [a.name.split(".")[1] for a in node.names if a.name.startswith("brainvlm.")]
            for n in names:
                assert order.get(n, "") < num, f"brainvlm.{mod} ({num}) imports brainvlm.{n} ({order.get(n)})"


def test_console_script_is_installed():
    r = subprocess.run(["brainvlm", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "synth" in r.stdout and "cache" in r.stdout


def test_notebooks_carry_no_widget_state():
    """Widget state or widget outputs make the docs pages load the widget manager from a CDN: keep them out."""
    for nb in sorted((ROOT / "nbs").glob("*.ipynb")):
        data = json.loads(nb.read_text())
        assert "widgets" not in data.get("metadata", {}), f"{nb.name}: notebook metadata holds widget state"
        for cell in data["cells"]:
            for out in cell.get("outputs", []):
                assert "application/vnd.jupyter.widget-view+json" not in out.get("data", {}), f"{nb.name}: a widget output"


def test_exported_signatures_evaluate():
    """show_doc evaluates every exported signature's annotations in its module (the docs build stops otherwise)."""
    import inspect
    for mod in _modules():
        m = importlib.import_module(f"brainvlm.{mod}")
        for name, obj in vars(m).items():
            if getattr(obj, "__module__", None) != m.__name__ or not (inspect.isclass(obj) or inspect.isfunction(obj)): continue
            if inspect.isclass(obj) and issubclass(obj, BaseException) and "__init__" not in vars(obj): continue
            inspect.signature(obj, eval_str=True)       # raises NameError when an annotation names something not imported


def test_bench_scripts_start():
    "Every `bench/` script parses and imports what it names (`--help` runs its imports, not its measurements)."
    scripts = sorted((ROOT / "bench").glob("bench_*.py"))
    assert len(scripts) >= 5
    for s in scripts:
        r = subprocess.run([sys.executable, str(s), "--help"], capture_output=True, text=True, cwd=ROOT)
        assert r.returncode == 0 and "usage:" in r.stdout, f"{s.name}: {r.stderr[-2000:]}"
