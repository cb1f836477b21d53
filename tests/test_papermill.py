"""`papermill nbs/train.ipynb out.ipynb -p modality rsfMRI` trains on rsfMRI only, through the same code path as
`brainvlm train`, and the executed notebook and the loss plot land in the run's outputs. The card's command, typed
exactly so in a fresh copy of the repository with nothing prepared, trains the quickstart."""
import json, os, shutil, subprocess, sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


NOISE = ("without encryption", "gemm_4bit", "publisher trust check", "LOAD REPORT", "FutureWarning", "UserWarning",
         "Unable to parse line")   # ipykernel, bitsandbytes, kernels, transformers, papermill's parameter parser


def noise(text: str) -> list[str]:
    "The library messages a user of the card's command should not see."
    return [n for n in NOISE if n in text]


def stored_noise(notebook: Path) -> list[str]:
    "Progress widgets (they render as nothing in a stored notebook) and stderr messages an executed notebook keeps."
    outs = [o for c in json.loads(notebook.read_text())["cells"] for o in c.get("outputs", [])]
    widgets = ["a progress widget"] * sum("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outs)
    return widgets + [m for o in outs if o.get("name") == "stderr" for m in noise("".join(o["text"]))]


def test_task_notebook_parameters_parse():
    "papermill reads every parameter of the task notebooks (a second `=` on a line made it drop `overrides`)."
    import ast, papermill
    for name in ("train", "evaluate"):
        nb = json.loads((ROOT / "nbs" / f"{name}.ipynb").read_text())
        cell = next("".join(c["source"]) for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
        assigned = [t.id for node in ast.parse(cell).body for t in node.targets]
        assert list(papermill.inspect_notebook(str(ROOT / "nbs" / f"{name}.ipynb"))) == assigned


def images(notebook: Path) -> int:
    "How many image/png outputs an executed notebook stores."
    return sum("image/png" in o.get("data", {}) for c in json.loads(notebook.read_text())["cells"] for o in c.get("outputs", []))


def test_train_notebook_with_papermill(tiny_training, tmp_path):
    out = tmp_path / "executed_train.ipynb"
    r = subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "nbs" / "train.ipynb"), str(out), "-p", "config", str(tiny_training["config"]),
                        "-p", "modality", "rsfMRI", "-p", "max_steps", "2", "--cwd", str(tmp_path)],
                       env=tiny_training["env"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-4000:]
    run = tiny_training["runs"] / "run"
    resolved = (run / "config.yaml").read_text()
    assert "only_modality: rsfMRI" in resolved and "max_steps: 2" in resolved
    seen = {k for h in json.loads((run / "log_history.json").read_text()) for k in h if k.startswith("loss/")}
    assert seen == {"loss/rsfMRI"}, seen                      # trained on rsfMRI only
    assert (run / "loss.png").exists() and out.exists()
    assert images(out) == 1                                    # the loss plot is stored, though the environment says MPLBACKEND=Agg


def test_card_command_in_a_fresh_copy(tmp_path):
    "The card's command from the root of a fresh copy (the notebooks, configs/, settings.ini; no outputs/), twice."
    clone = tmp_path / "clone"
    for d in ("nbs", "configs"): shutil.copytree(ROOT / d, clone / d)
    shutil.copy(ROOT / "settings.ini", clone)
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "BRAINVLM_BASE_DIR")} | {"HF_HUB_OFFLINE": "1"}
    r = subprocess.run("papermill nbs/train.ipynb out.ipynb -p modality rsfMRI", shell=True, cwd=clone, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    assert noise(r.stdout + r.stderr) == [], r.stderr[-4000:]     # quiet: papermill's progress, nothing else
    quick = clone / "outputs" / "quickstart"
    run = quick / "run-1"
    assert "only_modality: rsfMRI" in (run / "config.yaml").read_text()
    history = json.loads((run / "log_history.json").read_text())
    assert {k for h in history for k in h if k.startswith("loss/")} == {"loss/rsfMRI"}
    losses = [h["loss"] for h in history if "loss" in h]
    assert losses[-1] < losses[0], losses                      # it learns
    assert (run / "final" / "config.json").exists() and (run / "loss.png").exists() and (quick / "cohort" / "cohort.yaml").exists()
    executed = clone / "out.ipynb"
    printed = "".join("".join(o.get("text", "")) for c in json.loads(executed.read_text())["cells"] for o in c.get("outputs", []))
    steps = yaml.safe_load((clone / "configs" / "quickstart.yaml").read_text())["trainer"]["max_steps"]
    assert "writing the quickstart cohort" in printed and f"step {steps}/{steps} loss" in printed, printed[-3000:]   # progress lines
    assert "outputs/quickstart/run-1/final/" in printed and "brainvlm evaluate outputs/quickstart/run-1" in printed   # where it went, what next
    assert images(executed) == 1 and stored_noise(executed) == []
    # again: the cohort is reused and the run goes beside the first one
    made = (quick / "cohort" / "dataset_description.json").stat().st_mtime_ns
    r = subprocess.run("papermill nbs/train.ipynb out.ipynb -p modality rsfMRI -p max_steps 2", shell=True, cwd=clone, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    assert (quick / "run-2" / "final").exists() and (quick / "cohort" / "dataset_description.json").stat().st_mtime_ns == made
    assert "no training loss was logged" in executed.read_text()           # 2 steps, fewer than logging_steps: said, not a crash
