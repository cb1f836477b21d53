"""A seed pins a run: two tiny runs with the same seed in `deterministic` mode, each in its own process — the first
building the tiny base it trains from, the second loading it — log the same loss at every step and end with the same
weights; another seed logs other losses. `bench/bench_determinism.py` compares the default and deterministic modes
and their speed."""
import hashlib, json, subprocess, sys
from pathlib import Path

TRAIN = "import sys; from brainvlm.run import train; train(sys.argv[1], sys.argv[2:])"


def train_in_subprocess(tiny: dict, name: str, *overrides: str) -> Path:
    "Train the tiny config as run `name` in a fresh Python process; returns its run folder."
    r = subprocess.run([sys.executable, "-c", TRAIN, str(tiny["config"]), f"run_name={name}", "trainer.logging_steps=1", *overrides],
                       env=tiny["env"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return tiny["runs"] / name


def losses(run: Path) -> dict[int, float]:
    return {h["step"]: h["loss"] for h in json.loads((run / "log_history.json").read_text()) if "loss" in h}


def sha256(p: Path) -> str: return hashlib.sha256(p.read_bytes()).hexdigest()


def test_same_seed_same_run_different_seed_different_run(tiny_training):
    base = Path(tiny_training["env"]["BRAINVLM_BASE_DIR"])
    assert not base.exists()                                   # the first run builds the tiny base in its own process
    built = train_in_subprocess(tiny_training, "built", "deterministic=true")
    assert (base / "tiny-llava" / "config.json").exists()
    loaded = train_in_subprocess(tiny_training, "loaded", "deterministic=true")
    other = train_in_subprocess(tiny_training, "seed1", "deterministic=true", "seed=1")

    a, b = losses(built), losses(loaded)
    assert sorted(a) == list(range(1, 7)), sorted(a)
    assert a == b, {s: (a[s], b.get(s)) for s in a if a[s] != b.get(s)}
    assert sha256(built / "final" / "model.safetensors") == sha256(loaded / "final" / "model.safetensors")
    c = losses(other)
    assert any(c[s] != a[s] for s in a), "another seed gave the same losses: the seed does not reach the run"

    rec = json.loads((built / "reproducibility.json").read_text())
    assert (rec["seed"], rec["deterministic"], rec["threads"]) == (0, True, 1), rec
    assert rec["versions"]["torch"] and json.loads((other / "reproducibility.json").read_text())["seed"] == 1
