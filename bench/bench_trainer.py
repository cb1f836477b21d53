"""Training throughput of `ModalityTrainer` against a plain Hugging Face `Trainer`, and 1 vs 2 DDP processes on CPU.

What is measured
----------------
1. **Trainer overhead.** The same `tiny-llava` model (every part trainable, T1 at 64³ in 16³ patches: 64 visual
   tokens, as the demo gives diffusion), the same cached single-modality data of a synthetic cohort (whole conversations),
   batch 8, AdamW, no checkpoints or logs during the timed steps:
   - `hf`: a plain `transformers.Trainer` with its own data loader; the collator flattens brainvlm's
     modality-keyed batch to the model's keyword arguments (`pixel_values`, `input_ids`, `attention_mask`, `labels`).
   - `ours`: `brainvlm.trainer.ModalityTrainer` with its homogeneous batch sampler, per-modality forward, token-weighted
     loss, per-modality loss logs and the zero-weighted unused-modality term.
   The two run in alternation (`--rounds` times each), every run in a fresh process, so that machine noise hits both.
2. **DDP.** `ModalityTrainer` in one process against two processes under `torchrun` (gloo), with batch 8 per
   process: samples/s over all processes. With two cores, the fair single-process comparison has the same total
   threads (2); the table also shows one process with one thread, i.e. what each DDP rank has.

Throughput is samples per second over the steps after the first `--warmup` (timed by a callback at each step end).
Peak memory is the process's peak resident set (Linux `VmHWM`), for DDP the largest rank's.

Usage::

    .venv/bin/python bench/bench_trainer.py [--out outputs/bench] [--steps 40] [--rounds 3]

It prints markdown tables and writes `<out>/bench_trainer.json`.
"""
from __future__ import annotations

import argparse, json, os, platform, statistics, subprocess, sys, time
from pathlib import Path

try:
    import brainvlm  # noqa: F401
except ImportError:  # run from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("HF_HUB_OFFLINE", "1")

MODALITIES = {"T1": {"img_size": [64, 64, 64], "patch_size": [16, 16, 16]}}
BATCH = 8


def prepare(data: Path, n: int) -> None:
    "A T1-only synthetic cohort at 64³, its statistics and cache (reused when present)."
    from brainvlm.synth import SynthConfig, make_cohort
    from brainvlm.cohorts import load_manifest, compute_cohort_stats, cache_manifest
    from brainvlm.core import write_json
    if (data / "stats.json").exists(): return
    make_cohort(SynthConfig(n=n, modalities=("T1",), fractions=(1.0, 0.0, 0.0)), data / "cohort", workers=2, progress=False)
    train = load_manifest(data / "cohort" / "manifest_train.json")
    stats = compute_cohort_stats(train, progress=False)
    cache_manifest(train, data / "cache", stats, progress=False)
    write_json(stats, data / "stats.json")


def status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"): return int(line.split()[1])
    return 0


def worker(variant: str, data: Path, steps: int, warmup: int, base_dir: Path) -> None:
    "One timed training run in this process (under torchrun: this rank); rank 0 prints one JSON line."
    import torch
    from transformers import Trainer, TrainingArguments, TrainerCallback
    from transformers.utils import logging as hf_logging
    from brainvlm.cohorts import load_manifest, register_cohorts
    from brainvlm.core import seed_everything
    from brainvlm.data import VolumeDataset, ModalityCollator
    from brainvlm.models import load_base
    from brainvlm.trainer import ModalityTrainer
    hf_logging.set_verbosity_error()
    register_cohorts(data / "cohort" / "cohort.yaml")
    seed_everything(0)
    model, proc = load_base("tiny-llava", modalities=MODALITIES, train=["patch_embed", "vision", "projector", "lm"], base_dir=base_dir)
    text = proc.conversation_tokenizer(max_seq_length=512)
    stats = json.loads((data / "stats.json").read_text())
    ds = VolumeDataset(load_manifest(data / "cohort" / "manifest_train.json"), "T1", text, stats=stats, cache=data / "cache")
    collate = ModalityCollator(proc.tokenizer.pad_token_id)

    def flat(samples):                              # the plain Trainer's batch: the model's keyword arguments
        (b,) = collate(samples).values()
        return dict(b)

    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    args = TrainingArguments(output_dir=str(data / f"run-{variant}-{os.getpid()}"), max_steps=steps, per_device_train_batch_size=BATCH,
                             learning_rate=1e-3, logging_steps=10_000, save_strategy="no", report_to=[], disable_tqdm=True,
                             remove_unused_columns=False, use_cpu=True, seed=0, dataloader_num_workers=0,
                             ddp_backend="gloo" if distributed else None, ddp_find_unused_parameters=False)
    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, *a, **k): times.append(time.perf_counter())

    if variant == "hf": trainer = Trainer(model=model, args=args, train_dataset=ds, data_collator=flat, callbacks=[Clock()])
    else: trainer = ModalityTrainer(model=model, args=args, train_dataset=ds, data_collator=collate, callbacks=[Clock()])
    trainer.train()
    per_rank = BATCH * (len(times) - 1 - warmup) / (times[-1] - times[warmup])
    world = int(os.environ.get("WORLD_SIZE", "1"))
    peak = torch.tensor([status_kb("VmHWM") / 1024])
    if distributed:
        import torch.distributed as dist
        dist.all_reduce(peak, op=dist.ReduceOp.MAX)
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps({"variant": variant, "processes": world, "threads": torch.get_num_threads(),
                          "samples_per_s": per_rank * world, "peak_rss_mb": float(peak)}))


def launch(variant: str, data: Path, base_dir: Path, steps: int, warmup: int, processes: int = 1, threads: int = 2) -> dict:
    script = [str(Path(__file__).resolve()), "--worker", variant, "--data", str(data), "--base-dir", str(base_dir),
              "--steps", str(steps), "--warmup", str(warmup)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false"}
    cmd = ([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes), "--master_port", "29517"] + script
           if processes > 1 else [sys.executable] + script)
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0: raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}")
    return json.loads([l for l in r.stdout.splitlines() if l.startswith("{")][-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="outputs/bench"); p.add_argument("--steps", type=int, default=40)
    p.add_argument("--warmup", type=int, default=5); p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--subjects", type=int, default=32)
    p.add_argument("--worker"); p.add_argument("--data"); p.add_argument("--base-dir")
    a = p.parse_args()
    if a.worker: return worker(a.worker, Path(a.data), a.steps, a.warmup, Path(a.base_dir))

    out = Path(a.out); data, base_dir = out / "bench_trainer_data", out / "base"
    from brainvlm.models import resolve_base
    prepare(data, a.subjects)
    resolve_base("tiny-llava", base_dir)                # built once, before any worker (or DDP rank) needs it
    runs = []
    for r in range(a.rounds):
        for variant in ("hf", "ours"):
            runs.append({"round": r, **launch(variant, data, base_dir, a.steps, a.warmup)})
            print(f"round {r} {variant}: {runs[-1]['samples_per_s']:.1f} samples/s, peak {runs[-1]['peak_rss_mb']:.0f} MB", flush=True)
    ddp = []
    for r in range(a.rounds):
        for processes, threads in ((1, 2), (1, 1), (2, 1)):
            ddp.append({"round": r, **launch("ours", data, base_dir, a.steps, a.warmup, processes, threads)})
            print(f"round {r} DDP {processes}×{threads} threads: {ddp[-1]['samples_per_s']:.1f} samples/s", flush=True)

    med = lambda rows, key: statistics.median(x[key] for x in rows)
    _runs = lambda rows: ", ".join(f"{x['samples_per_s']:.1f}" for x in rows)
    hf = [x for x in runs if x["variant"] == "hf"]; ours = [x for x in runs if x["variant"] == "ours"]
    overhead = 1 - med(ours, "samples_per_s") / med(hf, "samples_per_s")
    print(f"\n## Trainer overhead (tiny-llava, T1 64³, batch {BATCH}, median of {a.rounds} alternating runs)\n")
    print("| trainer | samples/s (runs) | median | peak RSS MB |\n|---|---|---:|---:|")
    for name, rows in (("HF Trainer", hf), ("ModalityTrainer", ours)):
        print(f"| {name} | {_runs(rows)} | {med(rows, 'samples_per_s'):.1f} | {med(rows, 'peak_rss_mb'):.0f} |")
    print(f"\nModalityTrainer overhead: {100 * overhead:+.1f} % of the plain Trainer's throughput (target: at most 10 %)")
    print(f"\n## DDP on CPU (ModalityTrainer, batch {BATCH} per process, median of {a.rounds})\n")
    print("| processes × threads | samples/s (runs) | median | peak RSS MB per process |\n|---|---|---:|---:|")
    for processes, threads in ((1, 2), (1, 1), (2, 1)):
        rows = [x for x in ddp if x["processes"] == processes and x["threads"] == threads]
        print(f"| {processes} × {threads} | {_runs(rows)} | {med(rows, 'samples_per_s'):.1f} | {med(rows, 'peak_rss_mb'):.0f} |")
    result = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
              "steps": a.steps, "warmup": a.warmup, "batch": BATCH, "trainer_runs": runs, "ddp_runs": ddp,
              "overhead_fraction": overhead}
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_trainer.json").write_text(json.dumps(result, indent=1))
    print("\nwritten:", out / "bench_trainer.json")


if __name__ == "__main__":
    main()
