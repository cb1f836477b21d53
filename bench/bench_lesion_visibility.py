"""Which lesions does the benchmark cohort draw? The protocol of `03_synth` ("Lesion visibility"), fixed before any of
these numbers were seen: walk `brainvlm.synth.LESION_LADDER` in order and take the first rung whose lesions, on
validation subjects and in every modality,
  (a) a detector that learns nothing finds with an AUC of at least 0.80 (`normative_lesion_scores`: signed, smoothed
      voxel-wise z-scores against the lesion-free training subjects, its largest value inside the brain; or its mirror
      variant, the same on each voxel minus its left-right mirror: an amendment made after the first pass had seen
      rungs 0-1, see `03_synth`), and
  (b) no one-line statistic of the image (mean, SD, min, max, percentiles; direction taken from train) and not the
      image-statistics probe of `09_evaluate` (fitted on train) finds with an AUC above 0.65.
Each rung gets its own cohort of seed `--seed` (default 1: none of the demo's seed-0 subjects) with `--train` training
and `--val` validation subjects at the benchmark's grids, read through the run's own datasets (the CNN's inputs).
No learner is trained and no test subject is read. With `--cnn`, afterwards and once, the supervised CNN of
`09a_reference` on the chosen rung, exactly as that chapter's demonstration runs it (150 / 50 / 100 subjects, seed 0,
its epoch chosen on val): its val and test metrics beside the majority answer and the probe. Writes
`outputs/bench/lesion_visibility.json` (every tried rung; `--cnn` adds to the file).

    python bench/bench_lesion_visibility.py [--train 240 --val 100 --seed 1 --workers 2] [--cnn]"""
import argparse, json, tempfile, time
from pathlib import Path

import numpy as np

VISIBLE, ONE_LINER_MAX = 0.80, 0.65              # the protocol's thresholds: (a) at least, (b) at most
PERCENTILES = (1, 5, 25, 50, 75, 95, 99)
DEMO_WINDOWS = {"sequence_length": 20, "stride_between_seq": 2.0}      # the demo's fMRI windows


def run_config(cohort: Path, cache: Path, modalities):
    "A resolved run config reading every split of `cohort` (the demo's fMRI windows)."
    from brainvlm.run import resolve_config
    manifest = [str(cohort / "manifest_{split}.json")]
    return resolve_config({"cohorts": [str(cohort / "cohort.yaml")], "cache": str(cache),
                           "dataset": {m: {"manifest": manifest, **(DEMO_WINDOWS if m == "rsfMRI" else {})} for m in modalities}})


def one_line_statistics(x: np.ndarray) -> dict:
    "Per statistic name, one value per image (N,) of every channel's nonzero (brain) voxels: mean, sd, min, max, percentiles."
    out = {}
    for c in range(x.shape[1]):
        vs = [v[v != 0] for v in x[:, c]]
        out.update({f"ch{c}_mean": [v.mean() for v in vs], f"ch{c}_sd": [v.std() for v in vs],
                    f"ch{c}_min": [v.min() for v in vs], f"ch{c}_max": [v.max() for v in vs],
                    **{f"ch{c}_p{q}": [np.percentile(v, q) for v in vs] for q in PERCENTILES}})
    return {k: np.asarray(v, float) for k, v in out.items()}


def rung_numbers(cfg, modality: str, stats: dict) -> dict:
    "(a) and (b) for one modality of one rung's cohort: the detector's, every one-liner's and the probe's lesion AUC on val."
    from omegaconf import OmegaConf
    from brainvlm.evaluate import auc_score, _auc_of, baseline_rows, metrics
    from brainvlm.reference import _pixels_only, reference_data
    from brainvlm.run import build_datasets
    from brainvlm.synth import LESION_SIGNS, normative_lesion_scores
    train, val = (reference_data(cfg, modality, s, stats) for s in ("train", "val"))   # each subject's first window
    y_train, y_val = (np.array([bool(m["lesion"]) for m in d.metadata]) for d in (train, val))
    xt, xv = train.x.numpy(), val.x.numpy()
    detector, mirror = (_auc_of("auc", y_val, normative_lesion_scores(xt[~y_train], xv, LESION_SIGNS[modality], mirror=m)) for m in (False, True))
    st, sv = one_line_statistics(xt), one_line_statistics(xv)
    one = {k: float(auc_score(y_val, sv[k] if auc_score(y_train, st[k]) >= 0.5 else -sv[k])) for k in st}   # direction from train
    plain = OmegaConf.merge(cfg, {"only_modality": modality, "dataset": {modality: {"augment": None}}})
    sets = {s: list(build_datasets(plain, _pixels_only, s, stats).datasets.values()) for s in ("train", "val")}
    probe = metrics(baseline_rows(sets["train"], sets["val"], kinds=["lesion"])["image_stats"])[modality]
    worst = max(one, key=one.get)
    return {"n_train": len(y_train), "n_controls": int((~y_train).sum()), "n_val": len(y_val), "n_val_lesions": int(y_val.sum()),
            "detector_auc": detector["auc"], "detector_auc_ci": detector["auc_ci"], "mirror_auc": mirror["auc"], "mirror_auc_ci": mirror["auc_ci"],
            "probe_auc": probe["lesion_auc"], "probe_auc_ci": probe["lesion_auc_ci"],
            "one_liner_max_auc": one[worst], "one_liner_max": worst, "one_liners": one,
            "visible": max(detector["auc"], mirror["auc"]) >= VISIBLE, "not_one_liner": max(one[worst], probe["lesion_auc"]) <= ONE_LINER_MAX}


def ladder(a) -> dict:
    "Every rung in order until the first that meets (a) and (b) in every modality (all rungs with --all)."
    from brainvlm.synth import LESION_LADDER, SynthConfig, make_cohort
    from brainvlm.run import config_stats
    table, chosen, seconds = [], None, {}
    with tempfile.TemporaryDirectory() as d:
        for k, rung in enumerate(LESION_LADDER):
            t0, cohort = time.perf_counter(), Path(d) / f"rung-{k}"
            make_cohort(SynthConfig(variant="benchmark", seed=a.seed, split_sizes=(a.train, a.val, 0), **rung), cohort, workers=a.workers, progress=False)
            cfg = run_config(cohort, Path(d) / f"cache-{k}", a.modalities)
            stats, ok = config_stats(cfg), True
            for m in a.modalities:
                r = {"rung": k, "modality": m, **{key: list(v) for key, v in rung.items()}, **rung_numbers(cfg, m, stats)}
                table.append(r); ok &= r["visible"] and r["not_one_liner"]
                print(f"rung {k} {m:7s}: detector {r['detector_auc']:.3f} [{r['detector_auc_ci'][0]:.3f}, {r['detector_auc_ci'][1]:.3f}]"
                      f"  mirror {r['mirror_auc']:.3f} [{r['mirror_auc_ci'][0]:.3f}, {r['mirror_auc_ci'][1]:.3f}]"
                      f"  probe {r['probe_auc']:.3f} [{r['probe_auc_ci'][0]:.3f}, {r['probe_auc_ci'][1]:.3f}]"
                      f"  largest one-liner {r['one_liner_max_auc']:.3f} ({r['one_liner_max']})  (a) {r['visible']}  (b) {r['not_one_liner']}", flush=True)
            seconds[k] = round(time.perf_counter() - t0, 1)
            if ok and chosen is None: chosen = k
            if chosen is not None and not a.all: break
    return {"amendment": "the mirror variant of the detector was added to (a) after a first pass had measured rungs 0 and 1 "
                         "(and rung 2's T1) with the per-voxel detector alone; its numbers are those of rungs 0-1 here",
            "seed": a.seed, "n_train": a.train, "n_val": a.val, "n_controls": table[0]["n_controls"], "thresholds": {"visible": VISIBLE, "one_liner_max": ONE_LINER_MAX},
            "ladder": [{k: list(v) for k, v in r.items()} for r in LESION_LADDER], "chosen": chosen, "table": table, "seconds": seconds}


def cnn(a) -> dict:
    "Once, on the chosen rung (the benchmark's default): the CNN of 09a as its demonstration trains it; val and test metrics beside the baselines."
    from brainvlm.evaluate import metrics_table
    from brainvlm.reference import reference_data, reference_metrics, reference_rows, run_reference
    from brainvlm.synth import SynthConfig, make_cohort
    out = {}
    with tempfile.TemporaryDirectory() as d:
        t0, cohort = time.perf_counter(), Path(d) / "cohort"
        make_cohort(SynthConfig(variant="benchmark", split_sizes=(150, 50, 100)), cohort, workers=a.workers, progress=False)
        cfg = run_config(cohort, Path(d) / "cache", a.modalities)
        out["cohort_s"] = round(time.perf_counter() - t0, 1)
        rows, fits = run_reference(cfg, "test", epochs=20, patience=5, progress=False)
        val_rows = [reference_rows(f, reference_data(cfg, m, "val")) for m, f in fits.items()]
        import pandas as pd
        for split, r in (("val", pd.concat(val_rows, ignore_index=True)), ("test", rows)):
            result = reference_metrics(cfg, r, split=split)
            out[split] = metrics_table(result).reset_index().to_dict("records")
            print(f"\nCNN on {split} (epoch chosen on val{'; optimistic' if split == 'val' else ''}), beside the baselines:\n"
                  + metrics_table(result, formatted=True).rename(columns={"model": "CNN"}).to_string(), flush=True)
        out["epochs"] = {m: {"kept": min(f.history, key=lambda h: h["val_loss"])["epoch"], "run": len(f.history), "seconds": round(f.seconds, 1)} for m, f in fits.items()}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=240); ap.add_argument("--val", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1, help="the cohorts' seed (1: none of the demo's seed-0 subjects)")
    ap.add_argument("--workers", type=int, default=2); ap.add_argument("--modalities", default="T1,dMRI,rsfMRI")
    ap.add_argument("--all", action="store_true", help="measure every rung, not only up to the first that meets the protocol")
    ap.add_argument("--cnn", action="store_true", help="only the CNN on the chosen rung (after the ladder was measured)")
    ap.add_argument("--out", default="outputs/bench/lesion_visibility.json")
    a = ap.parse_args(); a.modalities = a.modalities.split(",")
    out = Path(a.out)
    if a.cnn:
        from brainvlm.synth import BENCHMARK_RUNG
        result = json.loads(out.read_text())
        if result["chosen"] != BENCHMARK_RUNG: ap.error(f"{out} chose rung {result['chosen']}, but synth.BENCHMARK_RUNG is {BENCHMARK_RUNG}")
        result["cnn"] = cnn(a)
    else:
        result = ladder(a)
        print(f"chosen rung: {result['chosen']} (None: no rung meets the protocol)")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=float))
    print("written:", out)


if __name__ == "__main__": main()
