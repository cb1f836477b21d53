"""Time the supervised reference (`brainvlm.reference`): a benchmark-variant synthetic cohort of the given size, then
`run_reference` per modality (train, epoch chosen on val, test scored once). Prints the seconds per modality and the
held-out metrics beside the majority and image-statistics baselines; writes `outputs/bench/reference.json`.

    python bench/bench_reference.py [--train 150 --val 30 --test 60 --grid 32 --fmri-grid 32 --frames 16 --epochs 20 --modalities T1,dMRI,rsfMRI]"""
import argparse, json, tempfile, time
from pathlib import Path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=150); ap.add_argument("--val", type=int, default=30); ap.add_argument("--test", type=int, default=60)
    ap.add_argument("--grid", type=int, default=32, help="T1 and dMRI grid (n³)"); ap.add_argument("--fmri-grid", type=int, default=32)
    ap.add_argument("--frames", type=int, default=16, help="fMRI frames per run (windows of half of them)")
    ap.add_argument("--epochs", type=int, default=20); ap.add_argument("--patience", type=int, default=5)
    ap.add_argument("--modalities", default="T1,dMRI,rsfMRI"); ap.add_argument("--variant", default="benchmark")
    ap.add_argument("--out", default="outputs/bench/reference.json")
    a = ap.parse_args()
    from brainvlm.synth import SynthConfig, make_cohort
    from brainvlm.run import resolve_config
    from brainvlm.evaluate import metrics_table
    from brainvlm.reference import run_reference, reference_metrics
    mods = a.modalities.split(",")
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        make_cohort(SynthConfig(variant=a.variant, split_sizes=(a.train, a.val, a.test), grid=a.grid, fmri_grid=a.fmri_grid, frames=a.frames,
                                modalities=tuple(mods)), Path(d) / "cohort", progress=False)
        cohort_s = time.perf_counter() - t0
        manifest = [str(Path(d) / "cohort" / "manifest_{split}.json")]
        cfg = resolve_config({"cohorts": [str(Path(d) / "cohort" / "cohort.yaml")], "cache": str(Path(d) / "cache"),
                              "dataset": {m: {"manifest": manifest, **({"sequence_length": a.frames // 2} if m == "rsfMRI" else {})} for m in mods}})
        rows, fits = run_reference(cfg, epochs=a.epochs, patience=a.patience)
        result = reference_metrics(cfg, rows)
    print(metrics_table(result, formatted=True).rename(columns={"model": "CNN"}).to_string())
    seconds = {m: round(f.seconds, 1) for m, f in fits.items()}
    print(f"cohort {cohort_s:.0f} s; training seconds per modality: {seconds}")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({"args": vars(a), "cohort_s": round(cohort_s, 1), "train_s": seconds,
                                       "epochs": {m: len(f.history) for m, f in fits.items()}, "metrics": result}, indent=1, default=str))
    print("written:", a.out)


if __name__ == "__main__": main()
