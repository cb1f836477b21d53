"""The task runs end to end, as a user starts them: a scaled-down `brainvlm demo` (cohort → train.ipynb → evaluate.ipynb
→ metrics and targets) and a `brainvlm sweep` over two modalities with its summary table. Both talk while they run
(the notebooks' progress lines reach the console), and the executed notebooks keep their figures."""
import json, os, re, subprocess

import pandas as pd

TINY = ["--n", "12", "--grid", "32", "--fmri-grid", "16", "--frames", "8", "--dwi-directions", "6", "--workers", "2"]


def images(notebook) -> int:
    "How many image/png outputs an executed notebook stores."
    return sum("image/png" in o.get("data", {}) for c in json.loads(notebook.read_text())["cells"] for o in c.get("outputs", []))


def run(args, env, ok=True):
    r = subprocess.run(["brainvlm", *map(str, args)], capture_output=True, text=True, env=env)
    if ok: assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def test_demo_scaled_down(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "BRAINVLM_BASE_DIR": str(tmp_path / "base"), "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    out = tmp_path / "demo"
    r = run(["demo", *TINY, "--steps", "4", "--out", out], env)
    run1 = out / "run-1"
    for f in ("train.ipynb", "evaluate.ipynb", "loss.png", "eval-test/metrics.json", "eval-test/evaluation.png", "final/config.json", "answers.jsonl"):
        assert (run1 / f).exists(), f
    summary = json.loads((run1 / "demo.json").read_text())
    assert set(summary["metrics"]) == {"T1", "dMRI", "rsfMRI"}                      # trained and evaluated on all three
    assert set(summary["targets"]) == {"sex_accuracy", "lesion_accuracy", "age_mae_ratio"}
    assert {"prepare_s", "train_s", "evaluate_s", "total_s"} <= set(summary["seconds"])
    assert "held-out (test) metrics per modality" in r.stdout and "targets" in r.stdout
    progress = re.findall(r"^step (\d+)/4 loss [\d.]+ \((?:(?:T1|dMRI|rsfMRI) [\d.]+(?:, )?)+\) \d+:\d\d:\d\d elapsed, ETA \d+:\d\d:\d\d$", r.stdout, re.M)
    assert progress == ["1", "2", "3", "4"], r.stdout[-3000:]                      # streamed from train.ipynb as it trained
    assert "done: step 4/4" in r.stdout and "answering" in r.stderr                # and evaluate.ipynb's progress bars
    assert images(run1 / "train.ipynb") == 1 and images(run1 / "evaluate.ipynb") == 1    # the loss plot; the evaluation figure, once
    trained = {k for h in json.loads((run1 / "log_history.json").read_text()) for k in h if k.startswith("loss/")}
    assert trained == {"loss/T1", "loss/dMRI", "loss/rsfMRI"}, trained
    # a second demo reuses the cohort and trains a new run beside the first, never over it
    before = (run1 / "demo.json").read_bytes()
    run(["demo", *TINY, "--steps", "2", "--out", out], env)
    assert (out / "run-2" / "demo.json").exists() and (run1 / "demo.json").read_bytes() == before


def test_sweep_two_modalities(tiny_training, tmp_path):
    out = tmp_path / "sweep"
    r = run(["sweep", tiny_training["config"], "trainer.max_steps=2", "--modalities", "T1,rsfMRI", "--out", out], tiny_training["env"])
    table = pd.read_csv(out / "summary.csv")
    assert sorted(table.run) == ["all-T1", "all-rsfMRI"] and (table.trained_on == table.modality).all()
    assert {"sex_accuracy", "lesion_accuracy", "age_mae", "age_mae_baseline", "report_bleu"} <= set(table.columns)
    assert (out / "all-T1" / "train.ipynb").exists() and (out / "all-rsfMRI" / "evaluate.ipynb").exists()
    assert "all-rsfMRI" in r.stdout and r.stdout.count("step 2/2 loss") == 2       # each run's progress, streamed
    r = run(["sweep", tiny_training["config"], "--out", out], tiny_training["env"], ok=False)
    assert r.returncode == 2 and "already holds a sweep" in r.stderr
