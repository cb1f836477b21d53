"""Training-step cost of brainvlm's models: forward+backward time and peak memory per modality for the tiny presets,
and for each patch-embedding implementation.

What is measured
----------------
1. **Tiny presets** (`tiny-llava`, `tiny-blip2-t5`, `tiny-blip2-opt`, loaded with `brainvlm.models.load_base` from
   `--base-dir`, built there once if missing): one training step — `model(pixel_values, input_ids, attention_mask,
   labels, modality)`, `loss.backward()` — on a batch of `--batch` samples of each modality at the presets' sizes
   (T1 and dMRI 64³, rsfMRI 48³×20, image2d 224²). The text is a real conversation of the synthetic cohort (sex and
   lesion questions), tokenized by the model's own processor (`VolumeProcessor.conversation_tokenizer`, so the
   visual tokens are the model's count). Every part is trainable (`train: [patch_embed, vision, projector, lm]`),
   the most expensive policy; the predecessor's `[patch_embed]` is cheaper.
2. **Patch embeddings**: `brainvlm.embed.PatchEmbedding` alone, forward+backward, `impl="linear"` (patchify + matmul)
   vs `impl="conv"` (strided Conv2d/Conv3d; 4D folds the patch's frames into channels), at the real sizes (width
   1024: 2 T1 volumes at 128³, 2 fMRI windows at 96³×20, 8 RGB images at 224²) and the tiny presets' (width 64).

Each case runs in a fresh Python process. Time is the best of `--repeats` steps after two warm-up steps. Peak memory
("step peak MB"): on CPU, the process's peak resident set (Linux `VmHWM`) over the steps, above its resident set
after the model and inputs were made; on CUDA, `torch.cuda.max_memory_allocated` above the allocation before the
steps. "process peak MB" is the whole process's peak (Python, torch, transformers and the model included).
Inputs are random normal tensors of the right shape (the cost does not depend on the values).

Usage::

    .venv/bin/python bench/bench_models.py [--out outputs/bench] [--device cpu|cuda] [--threads 2]

It prints markdown tables and writes `<out>/bench_models.json`.
"""
from __future__ import annotations

import argparse, json, os, platform, subprocess, sys, time
from pathlib import Path

try:
    import brainvlm  # noqa: F401
except ImportError:  # run from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
from transformers.utils import logging as hf_logging

from brainvlm.cohorts import make_conversations
from brainvlm.embed import EMBED_BENCH_CASES, PATCH_IMPLS, PatchEmbedding
from brainvlm.embed import TINY_MODALITIES
from brainvlm.models import TINY_PRESETS, load_base, resolve_base

hf_logging.set_verbosity_error()


def _status_kb(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"): return int(line.split()[1])
    except OSError: return None
    return None


def measure(step, device: str, repeats: int, warmup: int = 2) -> dict:
    "Best time of `step()` over `repeats` runs after `warmup` runs, and the peak memory of the steps above the memory before them (MB)."
    if device == "cuda": torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(); before = torch.cuda.memory_allocated()
    else: before = _status_kb("VmRSS")
    for _ in range(warmup): step()                                          # allocator, oneDNN/cuBLAS plans
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        step()
        if device == "cuda": torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    if device == "cuda": peak = (torch.cuda.max_memory_allocated() - before) / 2**20
    else:
        hwm = _status_kb("VmHWM")
        peak = (hwm - before) / 1024 if hwm is not None and before is not None else float("nan")
    return {"ms": round(1e3 * best, 1), "peak_mb": round(peak, 1)}


CONVERSATION = make_conversations({"sex": "F", "age": 41.0, "lesion": True, "lesion_side": "left"}, kinds=("sex", "lesion"))


def preset_case(preset: str, modality: str, base_dir: Path, device: str, batch: int, repeats: int) -> dict:
    "One training step of `preset` on a batch of `modality` (run in a fresh process: its memory is the step's alone)."
    model, proc = load_base(preset, base_dir=base_dir, train=["patch_embed", "vision", "projector", "lm"])
    model.to(device).train()
    sample = proc.conversation_tokenizer(system=None)(CONVERSATION, modality)
    tok = {k: v[None].repeat(batch, 1).to(device) for k, v in sample.items()}
    shape = model.config.vision_config.modalities[modality]
    size = [*shape["img_size"], *([shape["sequence_length"]] if "sequence_length" in shape else [])]
    pixels = torch.randn(batch, shape["channels"], *size, device=device)

    def step():
        model.zero_grad(set_to_none=True)
        model(pixel_values=pixels, **tok, modality=modality).loss.backward()
    r = measure(step, device, repeats)
    return {"preset": preset, "modality": modality, "input": "x".join(map(str, size)),
            "visual tokens": proc.num_visual_tokens[modality], "text tokens": int(tok["input_ids"].shape[1]),
            "parameters": sum(p.numel() for p in model.parameters()), "step ms": r["ms"], "step peak MB": r["peak_mb"],
            "process peak MB": round((_status_kb("VmHWM") or 0) / 1024) if device == "cpu" else None}


def embed_case(name: str, device: str, repeats: int) -> dict:
    layout, dim, batch = EMBED_BENCH_CASES[name]
    row = {"case": name, "tokens": layout.num_patches}
    for impl in PATCH_IMPLS:
        m = PatchEmbedding(layout, dim, impl=impl).to(device)
        x = torch.randn(batch, *layout.input_shape, device=device)

        def step():
            m.zero_grad(set_to_none=True)
            m(x).square().mean().backward()
        r = measure(step, device, repeats)
        row[f"{impl} ms"], row[f"{impl} peak MB"] = r["ms"], r["peak_mb"]
        del m, x
    row["conv / linear"] = round(row["conv ms"] / row["linear ms"], 2)
    return row


def _in_child(args, case: str) -> dict:
    "Run one case in a fresh interpreter (so peak memory is that case's) and return its row."
    cmd = [sys.executable, __file__, "--case", case, "--device", args.device, "--batch", str(args.batch),
           "--repeats", str(args.repeats), "--base-dir", str(args.base_dir)] + (["--threads", str(args.threads)] if args.threads else [])
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode: raise RuntimeError(f"case {case} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def markdown(rows: list[dict]) -> str:
    cols = list(rows[0])
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(f"{r[c]:,}" if isinstance(r[c], int) and c == "parameters" else str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="outputs/bench")
    ap.add_argument("--base-dir", default="outputs/base", help="where the tiny bases are (built once if missing)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-embeddings", action="store_true")
    ap.add_argument("--case", default=None, help=argparse.SUPPRESS)      # internal: one case, in a child process
    args = ap.parse_args(argv)
    if args.threads: torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.case:
        kind, _, rest = args.case.partition(":")
        row = (preset_case(*rest.split("/"), Path(args.base_dir), args.device, args.batch, args.repeats) if kind == "preset"
               else embed_case(rest, args.device, args.repeats))
        print(json.dumps(row)); return
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    for p in TINY_PRESETS: resolve_base(p, args.base_dir)                  # build missing bases once, before any timing
    env = {"device": args.device, "gpu": torch.cuda.get_device_name(0) if args.device == "cuda" else None,
           "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "threads": args.threads or torch.get_num_threads(),
           "torch": torch.__version__, "batch": args.batch, "repeats": args.repeats}
    print(f"bench_models on {env}", file=sys.stderr)
    presets = []
    for p in TINY_PRESETS:
        for m in TINY_MODALITIES:
            presets.append(_in_child(args, f"preset:{p}/{m}"))
            print(f"  {p:15s} {m:8s} {presets[-1]['step ms']:8.1f} ms {presets[-1]['step peak MB']:8.1f} MB", file=sys.stderr)
    embeds = []
    if not args.skip_embeddings:
        for name in EMBED_BENCH_CASES:
            embeds.append(_in_child(args, f"embed:{name}"))
            print(f"  {name:40s} linear {embeds[-1]['linear ms']:8.1f} ms  conv {embeds[-1]['conv ms']:8.1f} ms", file=sys.stderr)
    result = {"env": env, "presets": presets, "patch_embeddings": embeds}
    (out / "bench_models.json").write_text(json.dumps(result, indent=1))
    print(f"## Tiny presets: one training step (forward + backward, every part trainable), batch {args.batch}, {args.device}, "
          f"{env['threads']} threads\n")
    print(markdown(presets))
    if embeds:
        print(f"\n## Patch embedding alone: forward + backward, {args.device}\n")
        print(markdown(embeds))
    print(f"\nwritten {out / 'bench_models.json'}")


if __name__ == "__main__":
    main()
