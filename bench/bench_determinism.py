"""What a seed pins, and what deterministic mode costs: the tiny T1 + rsfMRI run of `tests/test_determinism.py`, trained
several times (each in its own process) in each of four modes, run after run in turn so that they share the machine's
load: the default mode at torch's thread count and at one thread, `deterministic=true` (one CPU thread) and
`deterministic=true` at the default mode's thread count — so that the cost of the deterministic algorithms (same thread
count) and of the thread count (same mode) read apart. For each mode: the largest loss difference between its two runs,
whether their final weights are the same (sha256), and seconds per training step (`train_runtime`/steps); then the
differences between modes. Prints a table and writes `outputs/bench/determinism.json`.

    python bench/bench_determinism.py --steps 24 --repeats 3"""
import argparse, hashlib, json, os, subprocess, sys, tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import conftest  # noqa: E402

TRAIN = "import sys; from brainvlm.run import train; train(sys.argv[1], sys.argv[2:])"

def run(tiny: dict, env: dict, name: str, overrides: list[str]) -> dict:
    "Train run `name` in a fresh process; its losses, final sha256, seconds per step and recorded thread count."
    r = subprocess.run([sys.executable, "-c", TRAIN, str(tiny["config"]), f"run_name={name}", *overrides], env=env, capture_output=True, text=True)
    if r.returncode: raise SystemExit(f"{name} failed:\n{r.stderr[-3000:]}")
    folder = tiny["runs"] / name
    hist = json.loads((folder / "log_history.json").read_text())
    losses = {h["step"]: h["loss"] for h in hist if "loss" in h}
    end = next(h for h in hist if "train_runtime" in h)
    return {"losses": losses, "sha": hashlib.sha256((folder / "final" / "model.safetensors").read_bytes()).hexdigest(),
            "s_per_step": end["train_runtime"] / max(losses), "threads": json.loads((folder / "reproducibility.json").read_text())["threads"]}

def max_diff(a: dict, b: dict) -> float: return max(abs(a[s] - b[s]) for s in a)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=24); ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="outputs/bench/determinism.json")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tiny = conftest.make_tiny_training(Path(d))
        env = {k: v for k, v in tiny["env"].items() if k != "OMP_NUM_THREADS"}          # torch's own thread count in the default mode
        subprocess.run([sys.executable, "-c", "from brainvlm.models import resolve_base; resolve_base('tiny-llava')"], check=True, env=env)
        default_threads = int(subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"], env=env,
                                             capture_output=True, text=True, check=True).stdout)
        common = [f"trainer.max_steps={a.steps}", "trainer.logging_steps=1", f"trainer.save_steps={a.steps}", "trainer.answer_samples_every=0"]
        modes = {f"default, {default_threads} threads": [], "default, 1 thread": ["num_threads=1"],
                 "deterministic, 1 thread": ["deterministic=true"],
                 f"deterministic, {default_threads} threads": ["deterministic=true", f"num_threads={default_threads}"]}
        runs = {m: [] for m in modes}
        for i in range(a.repeats):                                                      # modes in turn: the same machine load
            for m, over in modes.items(): runs[m].append(run(tiny, env, f"{m.replace(', ', '-').replace(' ', '')}-{i}", common + over))
    rows = [{"mode": m, "threads": rs[0]["threads"], "runs": len(rs), "steps": a.steps,
             "max_abs_loss_diff": max(max_diff(rs[0]["losses"], r["losses"]) for r in rs[1:]),
             "same_sha": len({r["sha"] for r in rs}) == 1,
             "s_per_step": [round(r["s_per_step"], 4) for r in rs],
             "mean_s_per_step": round(sum(r["s_per_step"] for r in rs) / len(rs), 4)} for m, rs in runs.items()]
    base = rows[0]["mean_s_per_step"]
    for r in rows: r["time_vs_default"] = round(r["mean_s_per_step"] / base, 3)
    names = list(runs)
    between = [{"modes": [m, n], "max_abs_loss_diff": max_diff(runs[m][0]["losses"], runs[n][0]["losses"]),
                "same_sha": runs[m][0]["sha"] == runs[n][0]["sha"]} for i, m in enumerate(names) for n in names[i + 1:]]
    out = {"rows": rows, "between_modes": between, "cpu_count": os.cpu_count()}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(out, indent=1))
    print(f"{'mode':28s} {'threads':>7} {'runs':>4} {'max|Δloss|':>10} {'same sha':>8} {'s/step':>7} {'× default':>9}")
    for r in rows:
        print(f"{r['mode']:28s} {r['threads']:7d} {r['runs']:4d} {r['max_abs_loss_diff']:10.3g} {str(r['same_sha']):>8} "
              f"{r['mean_s_per_step']:7.3f} {r['time_vs_default']:9.2f}")
    for b in between: print(f"{b['modes'][0]:>24} vs {b['modes'][1]:24}: max|Δloss| {b['max_abs_loss_diff']:.3g}, same sha {b['same_sha']}")
    print("written:", a.out)

if __name__ == "__main__": main()
