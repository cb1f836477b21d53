"""`brainvlm ask` answers from a run folder alone, exactly as `brainvlm evaluate` answered for the same held-out subject —
here for a run that read its volumes from the cache (fp16, whole fMRI runs preprocessed), as the demo does; the
notebook `09_evaluate` checks the same for a run without a cache."""
import json, subprocess

import pandas as pd


def _brainvlm(env, *args):
    r = subprocess.run(["brainvlm", *map(str, args)], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def test_ask_equals_evaluate(tiny_training):
    env, cohort, runs = tiny_training["env"], tiny_training["cohort"], tiny_training["runs"]
    stats, cache = cohort.parent / "stats.json", cohort.parent / "cache"
    _brainvlm(env, "stats", cohort / "manifest_train.json", "--cohorts", cohort / "cohort.yaml", "--out", stats)
    _brainvlm(env, "cache", *[cohort / f"manifest_{s}.json" for s in ("train", "val", "test")], "--cohorts", cohort / "cohort.yaml",
              "--stats", stats, "--cache", cache)           # the synthetic cohort's preset grid is the run's img_size: the run reads these
    _brainvlm(env, "train", tiny_training["config"], f"stats={stats}", f"cache={cache}")
    run = runs / "run"
    _brainvlm(env, "evaluate", run, "--split", "test")
    pred = pd.read_csv(run / "eval-test" / "predictions.csv")
    manifest = json.loads((cohort / "manifest_test.json").read_text())
    questions = {"sex": "What is the participant's sex?", "age": "How old is the participant, in years?"}
    checked = 0
    for modality in ("T1", "rsfMRI"):
        rec = next(r for r in manifest if modality in r["modality_paths"])
        out = _brainvlm(env, "ask", run, "--modality", modality, "--scan", cohort / rec["modality_paths"][modality], *questions.values())
        answers = out.splitlines()[1::2]
        for (kind, _), answer in zip(questions.items(), answers):
            row = pred[(pred.subject_id == rec["subject_id"]) & (pred.modality == modality) & (pred.kind == kind)]
            assert len(row) == 1, (modality, kind, rec["subject_id"])
            assert answer.strip() == str(row.answer.iloc[0]).strip(), (modality, kind, answer, row.answer.iloc[0])
            checked += 1
    assert checked == 4
