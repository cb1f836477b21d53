"""Training throughput, MFU and peak memory of the LLaVA-1.5-7B architecture on one GPU, beside brainvlm's memory estimate.

What is measured
----------------
The LLaVA-1.5-7B architecture (CLIP ViT-L/14 tower, Vicuna-7B language model, MLP projector: `brainvlm.scale.PUBLISHED_BASES`,
as `llava-hf/llava-1.5-7b-hf` publishes it), turned into brainvlm's volume model by `brainvlm.models.volume_config` and
randomly initialised in bf16 on the GPU (no download), with SDPA attention, the freeze policy of
`configs/llava-1.5-7b-lora.yaml` (patch embedding and projector train, tower and language model frozen) plus LoRA
(r=16, alpha=32, dropout 0.05 on q_proj/v_proj), gradient checkpointing (non-reentrant) and AdamW. Two inputs:

- `T1-512`: a T1 volume of 128³ in 16³ patches, 512 visual tokens;
- `T1-256`: the same volume in 16×16×32 patches, 256 visual tokens;

each followed by `--text-tokens` text tokens (BOS, question and answer; the answer's labels are the loss), `--batch`
samples per step. Inputs are random (the cost does not depend on the values). Time is measured over `--steps` steps
after `--warmup` steps (forward, backward, optimizer step, synchronised).

- tokens/s: language-model tokens (visual + text) per second; samples/min: samples per minute.
- MFU: FLOPs per step / step time / the card's dense bf16 peak (`PEAK_TFLOPS`, or `--peak-tflops`). FLOPs per sample are
  `brainvlm.scale.training_flops` (the formula of nbs/08a_scale.ipynb, tested there against PyTorch's FlopCounterMode):
      F = sum over weights of 2·n·T·(1 + [a gradient runs through it] + [it trains])
        + sum over layers of 4·T²·d·c·(1 + 2·[a gradient runs through it]),  c = 1/2 for causal attention, else 1
  with n a weight's entries and T its tokens: the patch embedding and projector see the visual tokens, the CLIP tower
  (24 layers, width 1024) the visual tokens + CLS, the language model (32 layers, width 4096, LoRA and lm_head included)
  visual + text tokens. The vision tower is included; gradient checkpointing's recomputation is not (model FLOPs).
- Peak memory: `torch.cuda.max_memory_allocated` over all steps (weights, gradients, AdamW state and activations; the
  CUDA context is not in it), beside `brainvlm.scale`'s prediction for the same model, batch and tokens (one GPU, DDP:
  the model's own types, bf16 weights and fp32 LoRA adapters). Under --tiny (CPU) "measured" is the process's peak
  resident set (Linux VmHWM: Python, torch and the libraries included), not comparable with the prediction.

The card's name is printed with every figure. The issue's targets on one H100: >= 35% MFU and >= 1000 T1 samples/min at
512 visual tokens.

`--tiny` runs the same code path at a tiny size on CPU (a LLaVA of width 64/128 and 2-3 layers, T1 32³ in 8³ and 8×8×16
patches): it proves the script works where no GPU is; its numbers are not a measurement of anything. This script is not
part of CI (tests run only its `--help`).

Usage::

    .venv/bin/python bench/bench_gpu.py [--out outputs/bench] [--batch 8] [--steps 10] [--text-tokens 128]
    .venv/bin/python bench/bench_gpu.py --tiny

It prints a markdown table and writes `<out>/bench_gpu.json` (`bench_gpu_tiny.json` under `--tiny`).
"""
from __future__ import annotations

import argparse, json, os, platform, sys, time
from pathlib import Path

try:
    import brainvlm  # noqa: F401
except ImportError:  # run from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
from transformers.utils import logging as hf_logging

from brainvlm.models import add_lora, apply_freeze_policy, family_of, volume_config
from brainvlm.scale import (PUBLISHED_BASES, Strategy, activation_bytes, model_state_bytes, parameter_counts,
                            training_flops)

hf_logging.set_verbosity_error()

PEAK_TFLOPS = {"H100 PCIe": 756.0, "H100": 989.4, "H200": 989.4, "A100": 312.0, "L40S": 362.0}   # dense bf16 tensor cores, per card name
VARIANTS = {"T1-512": {"img_size": [128] * 3, "patch_size": [16, 16, 16]}, "T1-256": {"img_size": [128] * 3, "patch_size": [16, 16, 32]}}
TINY_VARIANTS = {"T1-64": {"img_size": [32] * 3, "patch_size": [8, 8, 8]}, "T1-32": {"img_size": [32] * 3, "patch_size": [8, 8, 16]}}
TRAIN = ["patch_embed", "projector"]          # configs/llava-1.5-7b-lora.yaml's freeze policy, plus LoRA


def tiny_base():
    "A LLaVA of the 7B's layout at a tiny size (for --tiny)."
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig
    return LlavaConfig(vision_config=CLIPVisionConfig(hidden_size=64, intermediate_size=192, num_hidden_layers=3, num_attention_heads=4, hidden_act="quick_gelu"),
                       text_config=LlamaConfig(vocab_size=1000, hidden_size=128, intermediate_size=352, num_hidden_layers=2, num_attention_heads=4,
                                               num_key_value_heads=4),
                       image_token_index=999, projector_hidden_act="gelu", vision_feature_layer=-2, vision_feature_select_strategy="default")


def card_name(device: str) -> str:
    return torch.cuda.get_device_name(0) if device == "cuda" else f"CPU {platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


def peak_flops(card: str, override: float | None) -> float | None:
    "The card's dense bf16 peak in FLOP/s: `--peak-tflops`, else the first `PEAK_TFLOPS` name the card's name contains."
    if override: return override * 1e12
    return next((tf * 1e12 for name, tf in PEAK_TFLOPS.items() if name in card), None)


def build(base, modality: dict, device: str):
    "The volume LLaVA of `base` with one T1 patch embedding, random bf16 weights on `device`, SDPA, LoRA and gradient checkpointing."
    config = volume_config(base, {"T1": modality}, train=TRAIN)
    with torch.device(device):
        model = family_of(config).model_class._from_config(config, dtype=torch.bfloat16, attn_implementation="sdpa")
    apply_freeze_policy(model)
    model = add_lora(model, r=16, alpha=32, dropout=0.05, target_modules=["q_proj", "v_proj"])
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.config.use_cache = False
    return model.train()


def batch_for(model, modality: dict, batch: int, text_tokens: int, device: str) -> dict:
    "Random inputs: BOS, one image token per visual token, then text; labels on the text after BOS."
    c = model.config
    n, vocab = c.visual_token_count("T1"), c.text_config.vocab_size
    ids = torch.randint(3, c.image_token_id, (batch, n + text_tokens))
    ids[:, 0], ids[:, 1:1 + n] = 1, c.image_token_id
    labels = ids.masked_fill(torch.arange(ids.shape[1]) <= n, -100)
    pixels = torch.randn(batch, 1, *modality["img_size"], dtype=torch.bfloat16)
    return {k: v.to(device) for k, v in dict(pixel_values=pixels, input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).items()} | {"modality": "T1"}


def _vmhwm_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"): return int(line.split()[1])
    return 0


def run_variant(name: str, base, modality: dict, args, card: str, peak: float | None) -> dict:
    model = build(base, modality, args.device)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
    inputs = batch_for(model, modality, args.batch, args.text_tokens, args.device)
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)

    def step():
        model(**inputs).loss.backward()
        opt.step(); opt.zero_grad(set_to_none=True)
    if args.device == "cuda": torch.cuda.reset_peak_memory_stats()
    for _ in range(args.warmup): step()
    sync(); t = time.perf_counter()
    for _ in range(args.steps): step()
    sync(); seconds = (time.perf_counter() - t) / args.steps
    measured = torch.cuda.max_memory_allocated() if args.device == "cuda" else _vmhwm_kb() * 1024
    tokens = model.config.visual_token_count("T1") + args.text_tokens
    flops = sum(training_flops(model, "T1", args.text_tokens).values()) * args.batch
    states = model_state_bytes(parameter_counts(model), Strategy(gpus=1))
    acts = activation_bytes(model, "T1", args.text_tokens, args.batch, checkpointing=True)
    predicted = states["weights"] + states["gradients"] + states["optimizer"] + sum(acts.values())
    row = {"card": card, "variant": name, "visual tokens": tokens - args.text_tokens, "text tokens": args.text_tokens, "batch": args.batch,
           "step s": round(seconds, 4), "tokens/s": round(tokens * args.batch / seconds, 1),
           "samples/min": round(60 * args.batch / seconds, 1), "TFLOP/step": round(flops / 1e12, 4),
           "MFU %": round(100 * flops / seconds / peak, 1) if peak else None,
           "peak MiB (measured)": round(measured / 2**20), "peak MiB (predicted)": round(predicted / 2**20),
           "of which activations MiB": round(sum(acts.values()) / 2**20)}
    del model, opt, inputs
    if args.device == "cuda": torch.cuda.empty_cache()
    return row


def markdown(rows: list[dict]) -> str:
    cols = list(rows[0])
    return "\n".join(["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols),
                      *("| " + " | ".join("n/a" if r[c] is None else str(r[c]) for c in cols) + " |" for r in rows)])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="outputs/bench")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--tiny", action="store_true", help="the same code path at a tiny size on CPU (proves the script; measures nothing)")
    ap.add_argument("--batch", type=int, help="samples per step (default: 8; --tiny: 2)")
    ap.add_argument("--steps", type=int, help="timed steps (default: 10; --tiny: 2)")
    ap.add_argument("--warmup", type=int, help="steps before timing (default: 3; --tiny: 1)")
    ap.add_argument("--text-tokens", type=int, help="text tokens per sample, BOS included (default: 128; --tiny: 16)")
    ap.add_argument("--peak-tflops", type=float, help="the card's dense bf16 peak, for MFU (default: PEAK_TFLOPS by the card's name)")
    args = ap.parse_args(argv)
    if args.tiny: args.device = "cpu"
    elif args.device != "cuda": ap.error("the 7B benchmark needs a CUDA GPU; --tiny runs the same code path on CPU")
    for k, full, tiny in [("batch", 8, 2), ("steps", 10, 2), ("warmup", 3, 1), ("text_tokens", 128, 16)]:
        if getattr(args, k) is None: setattr(args, k, tiny if args.tiny else full)
    torch.manual_seed(0)
    base, variants = (tiny_base(), TINY_VARIANTS) if args.tiny else (PUBLISHED_BASES["llava-hf/llava-1.5-7b-hf"](), VARIANTS)
    card = card_name(args.device)
    peak = peak_flops(card, args.peak_tflops)
    env = {"card": card, "device": args.device, "tiny": args.tiny, "peak_tflops": peak and peak / 1e12, "torch": torch.__version__,
           "batch": args.batch, "steps": args.steps, "warmup": args.warmup, "text_tokens": args.text_tokens,
           "model": "tiny LLaVA (width 64/128)" if args.tiny else "LLaVA-1.5-7B architecture, random bf16 weights",
           "train": TRAIN + ["lm_lora"], "gradient_checkpointing": True, "attention": "sdpa"}
    print(f"bench_gpu on {env}", file=sys.stderr)
    rows = []
    for name, modality in variants.items():
        rows.append(run_variant(name, base, modality, args, card, peak))
        r = rows[-1]
        print(f"  [{card}] {name}: {r['samples/min']} samples/min, {r['tokens/s']} tokens/s, MFU {r['MFU %'] or 'n/a'}%, "
              f"peak {r['peak MiB (measured)']} MiB (predicted {r['peak MiB (predicted)']})", file=sys.stderr)
    targets = None
    if "H100" in card and not args.tiny:
        t1 = rows[0]
        targets = {"MFU >= 35%": t1["MFU %"] is not None and t1["MFU %"] >= 35, "T1 samples/min >= 1000": t1["samples/min"] >= 1000}
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    path = out / ("bench_gpu_tiny.json" if args.tiny else "bench_gpu.json")
    path.write_text(json.dumps({"env": env, "rows": rows, "targets": targets}, indent=1))
    what = "tiny LLaVA on CPU: proves the code path, not a measurement" if args.tiny else "LLaVA-1.5-7B architecture"
    print(f"## {what}: one training step (LoRA + patch embedding + projector, gradient checkpointing, SDPA) on {card}\n")
    print(markdown(rows))
    if not peak: print(f"\nMFU: n/a, the peak of {card} is not known: pass --peak-tflops")
    if targets: print(f"\ntargets on {card}: " + ", ".join(f"{k}: {'met' if v else 'missed'}" for k, v in targets.items()))
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
