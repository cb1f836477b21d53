"""Per-category training time and peak memory of 2D VQA runs (`brainvlm.vqa.train_vqa`) for the tiny BLIP-2 presets on CPU.

What is measured
----------------
A synthetic fan-shaped ultrasound cohort (`make_vqa_cohort`, chapter `03a_vqa2d`): the three categories (femur,
abdomen, trans_thalamic), `--images` images each at `--size` pixels, split by patient. For each tiny preset
(`tiny-blip2-opt`, `tiny-blip2-t5`) and each category, one run of `configs/vqa-quickstart.yaml`'s settings (LoRA r=8 on
the language model's q/v projections, the tower and the Q-Former trained, batches of 8) for `--epochs` epochs, in a
fresh process, so that each run's peak memory is its own:

- `train_s`: the trainer's own runtime (`train_runtime` of the log history: the optimizer steps, no loading or saving);
- `wall_s`: `training_summary.json`'s wall time: config, model, training, saving, the val loss and the test answers;
- `peak_rss_mb`: the process's peak resident memory (Linux `ru_maxrss`), which is what `peak_memory_mb` reports on CPU;
- `steps`, `train_images`: how much the run did.

The GPU half of this benchmark (8- and 4-bit BLIP-2 OPT-2.7B, peak GPU memory) needs a CUDA GPU and is not run here.

Usage::

    .venv/bin/python bench/bench_vqa.py [--out outputs/bench] [--images 40] [--size 64] [--epochs 2] [--threads 2]

It prints a markdown table and writes `<out>/bench_vqa.json`.
"""
from __future__ import annotations

import argparse, json, os, platform, subprocess, sys, time
from pathlib import Path

try:
    import brainvlm  # noqa: F401
except ImportError:  # run from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
PRESETS = ("tiny-blip2-opt", "tiny-blip2-t5")
CATEGORIES = ("femur", "abdomen", "trans_thalamic")


def prepare(data: Path, images: int, size: int) -> None:
    "The cohort and its manifests (reused when present with the same settings)."
    from brainvlm.vqa2d import ingest_vqa, make_vqa_cohort, write_vqa_manifests
    made = {"images": images, "size": size}
    if (data / "bench_cohort.json").exists() and json.loads((data / "bench_cohort.json").read_text()) == made: return
    make_vqa_cohort(data, categories=CATEGORIES, images_per_category=images, size=size, overwrite=True)
    write_vqa_manifests(ingest_vqa(data), overwrite=True)
    (data / "bench_cohort.json").write_text(json.dumps(made))


def one_run(data: Path, runs: Path, preset: str, category: str, epochs: int, size: int) -> dict:
    "Train one (preset, category) run in this process; its measured numbers."
    import yaml
    from brainvlm.vqa import train_vqa, vqa_overrides
    cfg = yaml.safe_load((ROOT / "configs" / "vqa-quickstart.yaml").read_text())
    cfg.update(run_name=f"{preset}-{category}", output_root=str(runs), cohorts=[str(data / "cohort.yaml")])
    cfg["dataset"]["image2d"].update(manifest=[str(data / "manifest_{split}.json")], img_size=[size, size])
    cfg["model"]["hf_name"] = preset
    cfg["trainer"].update(save_steps=100_000, logging_steps=50, disable_tqdm=True)
    run = train_vqa(cfg, vqa_overrides(category=category, num_epochs=epochs))
    s = json.loads((run / "training_summary.json").read_text())
    history = json.loads((run / "log_history.json").read_text())
    return {"preset": preset, "category": category, "train_images": s["images"]["train"], "steps": s["steps"],
            "train_s": round(history[-1].get("train_runtime", float("nan")), 1), "wall_s": s["wall_time_s"],
            "peak_rss_mb": s["peak_memory_mb"], "trainable_parameters": s["parameters"]["trainable"],
            "total_parameters": s["parameters"]["total"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="outputs/bench"); ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--size", type=int, default=64); ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--one", nargs=2, metavar=("PRESET", "CATEGORY"), help=argparse.SUPPRESS)   # the worker process
    a = ap.parse_args()
    out = Path(a.out); data, runs = out / "vqa" / "cohort", out / "vqa" / "runs"
    if a.one:
        import torch
        torch.set_num_threads(a.threads)
        print("RESULT " + json.dumps(one_run(data, runs, *a.one, a.epochs, a.size)))
        return
    prepare(data, a.images, a.size)
    env = {**os.environ, "OMP_NUM_THREADS": str(a.threads), "BRAINVLM_BASE_DIR": str(out / "vqa" / "base")}
    rows, t0 = [], time.perf_counter()
    for preset in PRESETS:
        for category in CATEGORIES:
            run = runs / f"{preset}-{category}"
            if run.exists(): subprocess.run(["rm", "-rf", str(run)], check=True)     # a fresh run each time
            r = subprocess.run([sys.executable, __file__, "--out", str(out), "--size", str(a.size), "--epochs", str(a.epochs),
                                "--threads", str(a.threads), "--one", preset, category], env=env, capture_output=True, text=True)
            if r.returncode != 0: sys.exit(f"{preset} {category} failed:\n{r.stderr[-3000:]}")
            rows.append(json.loads(next(l for l in r.stdout.splitlines() if l.startswith("RESULT "))[len("RESULT "):]))
            print(f"  {preset} {category}: {rows[-1]['train_s']} s training, {rows[-1]['peak_rss_mb']:.0f} MB", flush=True)
    cols = list(rows[0])
    print(f"\n{a.images} images per category at {a.size}², {a.epochs} epochs, batches of 8, {a.threads} threads, CPU "
          f"({platform.processor() or platform.machine()}, {os.cpu_count()} logical cores)\n")
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows: print("| " + " | ".join(str(r[c]) for c in cols) + " |")
    result = {"settings": {"images_per_category": a.images, "size": a.size, "epochs": a.epochs, "threads": a.threads, "batch_size": 8,
                           "config": "configs/vqa-quickstart.yaml", "device": "cpu", "gpu": "not run: no CUDA GPU"},
              "machine": {"processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count()},
              "runs": rows, "total_s": round(time.perf_counter() - t0, 1)}
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_vqa.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nwrote {out / 'bench_vqa.json'}")


if __name__ == "__main__":
    main()
