"""Can the vision tower see the synthetic cohort's findings? Linear patch embedding vs the pooled convolutional stem.

What is measured
----------------
The tiny-llava preset's vision tower (`VolumeClipVisionModel`: width 64, 2 layers), with a given T1 patch embedding,
plus one linear read-out of its mean token for three targets at once — lesion present (logit), sex (logit) and age
(standardised regression) — trained for `--steps` steps of batch `--batch` (AdamW, lr `--lr`) on the demo cohort's
training subjects, then scored on the training subjects and on the held-out ones (val + test):

* lesion and sex accuracy (logit > 0), age MAE in years against predicting the training mean;
* one row per patch embedding: linear (CLIP/LLaVA's) and `stem=8` (two stride-2 convolutions, then max and mean per
  patch; see `05_embed`), each at 16³ and 32³ patches of the 64³ grid.

This isolates the vision side: the full VLM also has to route what the tower sees into its answers (`10_tasks`).
The volumes are the demo's cache (`brainvlm prepare --out DIR`, run first when DIR has no cohort).

Usage::

    .venv/bin/python bench/bench_stem.py [--demo outputs/demo] [--out outputs/bench] [--steps 300] [--threads 2]

It prints a markdown table and writes `<out>/bench_stem.json`.
"""
from __future__ import annotations

import argparse, json, os, platform, sys, time
from pathlib import Path

try:
    import brainvlm  # noqa: F401
except ImportError:  # run from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np
import pandas as pd
import torch
from transformers import AutoConfig

from brainvlm.cohorts import SPLITS, load_manifest, load_stats, preprocessing_for, register_cohorts
from brainvlm.io import VolumeCache, load_volume
from brainvlm.launch import prepare_demo
from brainvlm.llava import VolumeClipVisionModel
from brainvlm.models import resolve_base, volume_config

VARIANTS = {"linear-16": (16, 0), "stem8-16": (16, 8), "linear-32": (32, 0), "stem8-32": (32, 8), "stem16-32": (32, 16)}   # name: (patch edge, stem channels)


def load_split(demo: Path, split: str, stats: dict, cache: VolumeCache):
    "T1 volumes `(N, 1, D, H, W)` and targets (lesion, sex M, age) of one split."
    m = load_manifest(demo / "cohort" / f"manifest_{split}.json")
    xs, ys = [], []
    for r in m:
        prep = preprocessing_for(r["cohort"], "T1", stats=stats.get(r["cohort"], {}).get("T1"))
        xs.append(load_volume(m.path_of(r, "T1"), "T1", prep, cache, r["cohort"], r["subject_id"], record=r["subject_id"]))
        md = r["metadata"]; ys.append([float(md["lesion"]), float(md["sex"] == "M"), float(md["age"])])
    return torch.from_numpy(np.stack(xs))[:, None].float(), torch.tensor(ys)


def tower(base: Path, patch: int, stem: int, grid: int, seed: int) -> VolumeClipVisionModel:
    t1 = {"img_size": [grid] * 3, "patch_size": [patch] * 3, **({"stem": stem} if stem else {})}
    vc = volume_config(AutoConfig.from_pretrained(base), {"T1": t1}).vision_config
    torch.manual_seed(seed)
    return VolumeClipVisionModel(vc)


def scores(model, head, x, y, age_mean, age_std, batch=16) -> dict:
    model.eval(); out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(head(model(x[i:i + batch], modality="T1").last_hidden_state[:, 1:].mean(1)))
    p = torch.cat(out)
    return {"lesion_acc": ((p[:, 0] > 0).float() == y[:, 0]).float().mean().item(),
            "sex_acc": ((p[:, 1] > 0).float() == y[:, 1]).float().mean().item(),
            "age_mae": (p[:, 2] * age_std + age_mean - y[:, 2]).abs().mean().item()}


def run(name, patch, stem, data, base, a, seed) -> dict:
    (xt, yt), (xh, yh) = data
    model = tower(base, patch, stem, xt.shape[-1], seed)
    head = torch.nn.Linear(model.config.hidden_size, 3)
    age_mean, age_std = yt[:, 2].mean(), yt[:, 2].std()
    opt = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=a.lr)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for step in range(a.steps):
        model.train()
        i = torch.randint(len(xt), (a.batch,), generator=g)
        p = head(model(xt[i], modality="T1").last_hidden_state[:, 1:].mean(1))
        y = yt[i]
        loss = bce(p[:, 0], y[:, 0]) + bce(p[:, 1], y[:, 1]) + torch.nn.functional.mse_loss(p[:, 2], (y[:, 2] - age_mean) / age_std)
        opt.zero_grad(); loss.backward(); opt.step()
    seconds = time.perf_counter() - t0
    tr, ho = scores(model, head, xt, yt, age_mean, age_std), scores(model, head, xh, yh, age_mean, age_std)
    return {"patch embedding": name, "seed": seed, "tokens": (xt.shape[-1] // patch) ** 3,
            "lesion acc. train": tr["lesion_acc"], "lesion acc. held-out": ho["lesion_acc"],
            "sex acc. held-out": ho["sex_acc"], "age MAE held-out (y)": ho["age_mae"],
            "age MAE baseline (y)": (yh[:, 2] - age_mean).abs().mean().item(), "train s": seconds}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--demo", default="outputs/demo", help="a prepared demo folder (made with `brainvlm prepare` when missing)")
    p.add_argument("--out", default="outputs/bench")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seeds", default="0,1,2", help="one training run per seed (initialisation and batch order); the table gives the mean")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset of: " + ", ".join(VARIANTS))
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    demo = Path(a.demo)
    if not (demo / "cohort" / "cohort.yaml").exists(): prepare_demo(demo)
    register_cohorts(demo / "cohort" / "cohort.yaml")
    stats, cache = load_stats(demo / "intensity_stats.json"), VolumeCache(demo / "cache")
    train = load_split(demo, "train", stats, cache)
    held = [load_split(demo, s, stats, cache) for s in SPLITS if s != "train"]
    held = (torch.cat([h[0] for h in held]), torch.cat([h[1] for h in held]))
    print(f"{len(train[0])} training and {len(held[0])} held-out subjects, T1 {tuple(train[0].shape[2:])}; "
          f"lesion rate {train[1][:, 0].mean():.2f} / {held[1][:, 0].mean():.2f}", flush=True)
    base = resolve_base("tiny-llava")
    rows = []
    for name in a.variants.split(","):
        patch, stem = VARIANTS[name]
        for seed in map(int, a.seeds.split(",")):
            rows.append(run(name, patch, stem, (train, held), base, a, seed))
            print(f"  {name}, seed {seed}: {rows[-1]['train s']:.0f} s, held-out lesion acc. {rows[-1]['lesion acc. held-out']:.2f}", flush=True)
    table = pd.DataFrame(rows).drop(columns="seed").groupby(["patch embedding", "tokens"], sort=False).mean().reset_index()
    print(f"mean of {len(a.seeds.split(','))} seeds:\n" + table.round(3).to_markdown(index=False))
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    meta = {"steps": a.steps, "batch": a.batch, "lr": a.lr, "seeds": a.seeds, "threads": a.threads, "torch": torch.__version__,
            "machine": platform.machine(), "n_train": len(train[0]), "n_held_out": len(held[0])}
    (out / "bench_stem.json").write_text(json.dumps({"meta": meta, "mean": table.to_dict("records"), "rows": rows}, indent=1))
    print("written:", out / "bench_stem.json")


if __name__ == "__main__":
    main()
