"""The task runs end to end, as a user starts them: a scaled-down `brainvlm demo` (cohort → train.ipynb → evaluate.ipynb
→ metrics and targets) and a `brainvlm sweep` over two modalities with its summary table. Both talk while they run
(the notebooks' progress lines reach the console), and the executed notebooks keep their figures."""
import json, re, subprocess
from pathlib import Path

import pandas as pd
from conftest import offline_env

TINY = ["--n", "20", "--split-sizes", "10,4,6", "--grid", "32", "--fmri-grid", "16", "--frames", "8", "--dwi-directions", "6", "--workers", "2"]
ROOT = Path(__file__).resolve().parents[1]


def images(notebook) -> int:
    "How many image/png outputs an executed notebook stores."
    return sum("image/png" in o.get("data", {}) for c in json.loads(notebook.read_text())["cells"] for o in c.get("outputs", []))


def run(args, env, ok=True):
    r = subprocess.run(["brainvlm", *map(str, args)], capture_output=True, text=True, env=env)
    if ok: assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def documented_run_entries() -> list[re.Pattern]:
    "The run-folder entries the Contracts page lists (nbs/contracts.ipynb's table), as patterns (`<N>` matches anything)."
    nb = json.loads((ROOT / "nbs" / "contracts.ipynb").read_text())
    table = next("".join(c["source"]) for c in nb["cells"] if "| entry | written by |" in "".join(c["source"]))
    names = [n for line in table.splitlines()[2:] if line.startswith("| `") for n in re.findall(r"`([^`]+)`", line.split("|")[1])]
    return [re.compile(re.escape(n).replace(re.escape("<"), "<").replace(re.escape(">"), ">").replace("<N>", r"\d+")
                       .replace("<split>", r"\w+").rstrip("/") + "$") for n in names]


def test_demo_scaled_down(tmp_path):
    env = offline_env(tmp_path)
    out = tmp_path / "demo"
    r = run(["demo", *TINY, "--steps", "4", "--seeds", "0,1", "--out", out], env)
    group = out / "run-1"
    for seed in (0, 1):
        run1 = group / f"seed-{seed}"
        for f in ("train.ipynb", "evaluate.ipynb", "loss.png", "eval-test/metrics.json", "eval-test/evaluation.png", "final/config.json",
                  "answers.jsonl", "reference-test/metrics.json"):
            assert (run1 / f).exists(), f
        assert f"seed: {seed}" in (run1 / "config.yaml").read_text()
        documented = documented_run_entries()                                          # the Contracts page lists every entry
        assert [e.name for e in run1.iterdir() if not any(p.match(e.name) for p in documented)] == []
    summary = json.loads((group / "demo.json").read_text())
    assert summary["seeds"] == [0, 1] and len(summary["metrics"]) == 2 and len(summary["reference"]) == 2
    assert set(summary["metrics"][0]) == {"T1", "dMRI", "rsfMRI"}                   # trained and evaluated on all three
    assert summary["cohort"]["variant"] == "benchmark"
    assert {(t["modality"], t["metric"]) for t in summary["targets"]} >= {(m, "sex_accuracy") for m in ("T1", "dMRI", "rsfMRI")}
    assert {"majority", "image_stats", "CNN", "model 95% CI per seed", "n"} <= set(summary["table"][0])
    assert {"prepare_s", "train_s_seed0", "evaluate_s_seed1", "reference_s_seed0", "total_s"} <= set(summary["seconds"])
    assert "held-out (test) results per modality, 2 seed(s) [0, 1]" in r.stdout and "targets (" in r.stdout and " ± " in r.stdout
    progress = re.findall(r"^step (\d+)/4 loss [\d.]+ \((?:(?:T1|dMRI|rsfMRI) [\d.]+(?:, )?)+\) \d+:\d\d:\d\d elapsed, ETA \d+:\d\d:\d\d$", r.stdout, re.M)
    assert progress == ["1", "2", "3", "4"] * 2, r.stdout[-3000:]                  # streamed from train.ipynb as it trained
    assert "done: step 4/4" in r.stdout and "answering" in r.stderr                # and evaluate.ipynb's progress bars
    run1 = group / "seed-0"
    assert images(run1 / "train.ipynb") == 1 and images(run1 / "evaluate.ipynb") == 1    # the loss plot; the evaluation figure, once
    trained = {k for h in json.loads((run1 / "log_history.json").read_text()) for k in h if k.startswith("loss/")}
    assert trained == {"loss/T1", "loss/dMRI", "loss/rsfMRI"}, trained
    # a second demo reuses the cohort and trains new runs beside the first, never over them
    before = (group / "demo.json").read_bytes()
    run(["demo", *TINY, "--steps", "2", "--no-reference", "--out", out], env)
    assert (out / "run-2" / "demo.json").exists() and (group / "demo.json").read_bytes() == before


def test_sweep_two_modalities_two_seeds(tiny_training, tmp_path):
    out = tmp_path / "sweep"
    r = run(["sweep", tiny_training["config"], "trainer.max_steps=2", "--modalities", "T1,rsfMRI", "--seeds", "0,1", "--out", out],
            tiny_training["env"])
    table = pd.read_csv(out / "summary.csv")
    assert sorted(table.run) == ["all-T1-seed0", "all-T1-seed1", "all-rsfMRI-seed0", "all-rsfMRI-seed1"]
    assert (table.trained_on == table.modality).all() and sorted(table.seed) == [0, 0, 1, 1]
    assert {"sex_accuracy", "lesion_accuracy", "age_mae", "report_bleu"} <= set(table.columns)
    assert "seed: 1" in (out / "all-T1-seed1" / "config.yaml").read_text()
    seeds = pd.read_csv(out / "seeds.csv", header=[0, 1], index_col=[0, 1, 2])
    assert seeds.columns[-1][0] == "n_seeds" and seeds.iloc[:, -1].tolist() == [2, 2]
    assert "over seeds [0, 1]" in r.stdout and " ± " in r.stdout
    assert (out / "all-T1-seed0" / "train.ipynb").exists() and (out / "all-rsfMRI-seed1" / "evaluate.ipynb").exists()
    assert r.stdout.count("step 2/2 loss") == 4                                     # each run's progress, streamed
    r = run(["sweep", tiny_training["config"], "--out", out], tiny_training["env"], ok=False)
    assert r.returncode == 2 and "already holds a sweep" in r.stderr
