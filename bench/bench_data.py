"""DataLoader throughput of brainvlm's datasets: T1 volumes and rsfMRI windows, 0 vs 2 workers, cache vs source files,
fp16 pixels (as the cache hands them out) vs float32 (as they were handed out before), against what a GPU consumes.

What is measured
----------------
Samples per second through a real `torch.utils.data.DataLoader` (batch size 4, `ModalityCollator`), side by
side in one run, for

* `VolumeDataset(..., "T1")`: one T1 volume per sample, `(1, G, G, G)`;
* `FMRIWindowDataset(...)`: one `--window`-frame window per sample, `(1, F, F, F, window)`;

each read from the source `.nii.gz` files and from the volume cache (`brainvlm cache`), with `num_workers` 0
and 2, eval mode (no augmentation) and, for T1, train mode with `VolumeAugment` too. From the cache, pixels are
handed out as the cache stores them, fp16, a window in its time-major memory order (the model converts and
transposes on its device); the rows "float32 (before)" wrap the same dataset so that every sample is converted
to a contiguous float32 tensor on the CPU, as `ModalityDataset.load` did before (issue 16, item 6): the side by
side comparison of the two in one run. The cohort is the synthetic one (`brainvlm synth`), written once under
`<out>/cohort_...` and reused. The numbers are warm page-cache numbers (every file is read once before timing).
On a 2-core machine, 2 workers compete with the main process.

Each row is compared with what one GPU consumes, `--gpu-samples-per-min` (default 1000: the issue's target for
`bench/bench_gpu.py`, LLaVA-1.5-7B on T1 at 512 visual tokens on one H100): "loader / GPU" >= 1 means this
loader keeps one such GPU fed.

Usage::

    .venv/bin/python bench/bench_data.py [--out outputs/bench] [--n 12] [--grid 64] [--fmri-grid 48] [--frames 100] [--window 20]

The issue's fMRI window is `--fmri-grid 96 --window 20`. It prints a markdown table and writes `<out>/bench_data.json`.
"""
from __future__ import annotations

import argparse, json, platform, time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from brainvlm.cohorts import load_manifest, compute_cohort_stats, cache_manifest, register_cohorts
from brainvlm.data import (ConversationTokenizer, VolumeDataset, FMRIWindowDataset, ModalityCollator, VolumeAugment,
                           cohort_texts, train_tokenizer, seed_worker)
from brainvlm.io import VolumeCache
from brainvlm.synth import SynthConfig, make_cohort


class AsFloat32(Dataset):
    "A dataset's samples with their pixels as `ModalityDataset.load` handed them out before: float32, contiguous (converted on the CPU)."
    def __init__(self, ds): self.ds = ds
    def __len__(self): return len(self.ds)
    def __getitem__(self, i):
        s = self.ds[i]; (m, x), = s["pixel_values"].items()
        return {**s, "pixel_values": {m: x.float().contiguous()}}


def throughput(ds, workers: int, seconds: float, batch_size: int = 4) -> dict:
    "Samples/s over whole passes of `ds` (at least one), stopping after `seconds`; and the batches' pixel dtype."
    dl = DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=workers, collate_fn=ModalityCollator(0),
                    worker_init_fn=seed_worker, persistent_workers=workers > 0)
    n, dtypes, t0 = 0, set(), time.perf_counter()
    while True:
        for batch in dl:
            n += sum(b["pixel_values"].shape[0] for b in batch.values())
            dtypes |= {str(b["pixel_values"].dtype).replace("torch.", "") for b in batch.values()}
        if time.perf_counter() - t0 > seconds: break
    dt = time.perf_counter() - t0
    return {"samples": n, "seconds": round(dt, 2), "samples_per_s": round(n / dt, 1), "batch dtype": "/".join(sorted(dtypes))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="outputs/bench"); ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--grid", type=int, default=64); ap.add_argument("--fmri-grid", type=int, default=48)
    ap.add_argument("--frames", type=int, default=100); ap.add_argument("--window", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--workers", default="0,2", help="comma-separated num_workers values")
    ap.add_argument("--gpu-samples-per-min", type=float, default=1000.0,
                    help="samples per minute one GPU consumes (default: the issue's target for bench/bench_gpu.py on one H100)")
    a = ap.parse_args()
    workers_list = [int(w) for w in a.workers.split(",")]
    gpu_per_s = a.gpu_samples_per_min / 60
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    cfg = SynthConfig(n=a.n, grid=a.grid, fmri_grid=a.fmri_grid, frames=a.frames, modalities=("T1", "rsfMRI"), fractions=(1.0, 0.0, 0.0))
    cdir = out / f"cohort_{a.n}_{a.grid}_{a.fmri_grid}_{a.frames}"
    if not (cdir / "manifest_train.json").exists(): make_cohort(cfg, cdir, workers=2)
    register_cohorts(cdir / "cohort.yaml")
    train = load_manifest(cdir / "manifest_train.json")
    stats = compute_cohort_stats(train, progress=False)
    cache = VolumeCache(cdir / "cache"); cache_manifest(train, cache, stats, progress=False)
    tok = train_tokenizer(cohort_texts(), out / "tokenizer", vocab_size=1000)
    text = ConversationTokenizer(tok, {"T1": 64, "rsfMRI": 64}, max_seq_length=512)

    rows = []
    for modality in ("T1", "rsfMRI"):
        for source, c in (("source .nii.gz", None), ("cache", cache)):
            for train_mode in ((False, True) if modality == "T1" else (False,)):
                aug = VolumeAugment() if train_mode else None
                if modality == "T1": ds = VolumeDataset(train, "T1", text, stats=stats, cache=c, augment=aug)
                else: ds = FMRIWindowDataset(train, "rsfMRI", text, stats=stats, cache=c, sequence_length=a.window)
                ds[0]                                                   # warm the page cache
                variants = [("as read", ds)] + ([("float32 (before)", AsFloat32(ds))] if c is not None and not train_mode else [])
                for pixels, d in variants:
                    for workers in workers_list:
                        r = throughput(d, workers, a.seconds)
                        rows.append({"modality": modality, "read from": source, "pixels": pixels,
                                     "mode": "train (augment)" if train_mode else "eval", "workers": workers,
                                     "shape": list(ds[0]["pixel_values"][modality].shape), **r,
                                     "loader_vs_gpu": round(r["samples_per_s"] / gpu_per_s, 2)})
                        print(rows[-1], flush=True)
    base = {(r["modality"], r["mode"], r["workers"]): r["samples_per_s"] for r in rows if r["read from"] == "source .nii.gz"}
    for r in rows: r["speedup_vs_source"] = round(r["samples_per_s"] / base[(r["modality"], r["mode"], r["workers"])], 2)
    fp16 = {(r["modality"], r["workers"]): r["samples_per_s"] for r in rows
            if r["read from"] == "cache" and r["mode"] == "eval" and r["pixels"] == "as read"}
    for r in rows:
        if r["read from"] == "cache" and r["pixels"] == "float32 (before)":
            r["fp16_speedup"] = round(fp16[(r["modality"], r["workers"])] / r["samples_per_s"], 2)
    print(f"\n| modality | shape | read from | pixels | batch dtype | mode | workers | samples/s | vs source | loader / GPU ({a.gpu_samples_per_min:g}/min) |"
          "\n|---|---|---|---|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['modality']} | {'x'.join(map(str, r['shape']))} | {r['read from']} | {r['pixels']} | {r['batch dtype']} | {r['mode']} "
              f"| {r['workers']} | {r['samples_per_s']} | {r['speedup_vs_source']}× | {r['loader_vs_gpu']} |")
    for r in rows:
        if "fp16_speedup" in r:
            print(f"{r['modality']} from the cache, {r['workers']} workers: fp16 as read is {r['fp16_speedup']}× the float32 (before) rate")
    info = {"python": platform.python_version(), "torch": torch.__version__, "cpus": torch.get_num_threads(), "config": vars(a),
            "gpu_samples_per_s": gpu_per_s}
    (out / "bench_data.json").write_text(json.dumps({"machine": info, "rows": rows}, indent=1))
    print(f"\nwritten: {out / 'bench_data.json'}")


if __name__ == "__main__":
    main()
