"""`brainvlm evaluate` on a tiny trained run (T1 and rsfMRI): metrics.json holds every metric with its 95% interval and n,
beside the `majority` and `image_stats` baselines fitted on the run's training split and scored on the same held-out
subjects (one row per subject, also for the fMRI run's several windows), and the printed table shows them."""
import json, subprocess

import numpy as np


def test_evaluate_writes_baselines_and_intervals(tiny_training):
    env, cohort, run = tiny_training["env"], tiny_training["cohort"], tiny_training["runs"] / "run"
    subprocess.run(["brainvlm", "train", str(tiny_training["config"]), "trainer.max_steps=2", "trainer.save_steps=2"],
                   check=True, env=env, capture_output=True)
    r = subprocess.run(["brainvlm", "evaluate", str(run)], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    saved = json.loads((run / "eval-test" / "metrics.json").read_text())
    test = json.loads((cohort / "manifest_test.json").read_text())
    train = json.loads((cohort / "manifest_train.json").read_text())
    assert set(saved) == {"T1", "rsfMRI"}
    for modality, v in saved.items():
        subjects = [s for s in test if modality in s["modality_paths"]]
        assert v["split"] == "test" and v["seed"] == 0 and v["n_subjects"] == len(subjects) == v["sex_n"] == v["age_n"] == v["lesion_n"], (modality, v)
        for key in ("sex_accuracy", "age_mae", "age_mae_baseline", "lesion_accuracy", "report_bleu", "report_rougeL"):
            lo, hi = v[f"{key}_ci"]
            assert lo <= v[key] <= hi, (modality, key, v[key], lo, hi)
        majority, probe = v["baselines"]["majority"], v["baselines"]["image_stats"]
        assert majority["sex_n"] == majority["age_n"] == probe["age_n"] == len(subjects)      # the same held-out rows, one per subject
        ages = [s["metadata"]["age"] for s in train if modality in s["modality_paths"]]
        assert np.isclose(majority["age_mae"], np.mean([abs(s["metadata"]["age"] - np.mean(ages)) for s in subjects]))
        assert {"age_mae_ci", "age_mae"} <= set(probe) and "report_bleu" in majority and "report_bleu" not in probe
    printed = r.stdout.splitlines()
    assert "fractions (0-1)" in printed[0] and {"model", "n", "majority", "image_stats"} <= set(printed[1].split()), r.stdout[:2000]
    assert any(line.split()[:2] == ["T1", "age_mae"] and line.count("[") == 3 for line in printed), r.stdout[:2000]
