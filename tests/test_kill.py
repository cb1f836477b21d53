"""Kills and partial writes: `kill -9` a training run at random steps and in the middle of checkpoint saves, resume it
(`resume=true`) until it finishes, and compare its loss curve and final weights with an uninterrupted run; kill
`brainvlm cache` in the middle of writing an entry and run it again.

The subprocesses run `brainvlm` through a small preamble (`PREAMBLE` below) that slows each training step and each
file save a little and leaves marks (the current step, "a save is in progress") so that the kills land where they
must. `bench/bench_kill.py` repeats the training kill at more random points and seeds."""
import hashlib, json, os, random, signal, subprocess, sys, time
from pathlib import Path

PREAMBLE = r'''
import os, sys, time, functools
from pathlib import Path
marks = Path(os.environ["KILLTEST_MARKS"]); marks.mkdir(parents=True, exist_ok=True)
save_pause = float(os.environ.get("KILLTEST_SAVE_PAUSE", "0.3"))
step_pause = float(os.environ.get("KILLTEST_STEP_PAUSE", "0.05"))

def slow_save(fn):
    @functools.wraps(fn)
    def wrapper(*a, **k):
        (marks / "saving").write_text(str(time.time()))
        time.sleep(save_pause)                 # the kill lands here: the file is not written yet
        out = fn(*a, **k)
        (marks / "saving").unlink(missing_ok=True)
        return out
    return wrapper

import numpy as np, torch, safetensors.torch
torch.save = slow_save(torch.save)
safetensors.torch.save_file = slow_save(safetensors.torch.save_file)
np.save = slow_save(np.save)
if sys.argv[1] == "train":
    from brainvlm.trainer import ModalityTrainer
    step = ModalityTrainer.training_step
    def training_step(self, *a, **k):
        time.sleep(step_pause)
        out = step(self, *a, **k)
        (marks / "step").write_text(str(self.state.global_step + 1))
        return out
    ModalityTrainer.training_step = training_step
from brainvlm.__main__ import main
main(sys.argv[1:])
'''

TRAIN_OVERRIDES = ["trainer.max_steps=24", "trainer.save_steps=4", "trainer.logging_steps=1", "trainer.answer_samples_every=0"]


def _read(p: Path, default=None):
    try: return p.read_text()
    except FileNotFoundError: return default


def run_until(args, env, marks: Path, kill_when=None, timeout=300) -> dict:
    "Run the preamble with `args`; `kill -9` it as soon as `kill_when(marks)` holds. Returns {killed, returncode, output}."
    for f in ("step", "saving"): (marks / f).unlink(missing_ok=True)
    script = marks.parent / "preamble.py"; script.write_text(PREAMBLE)
    p = subprocess.Popen([sys.executable, str(script), *args], env={**env, "KILLTEST_MARKS": str(marks)},
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    t0 = time.time()
    out_file = marks.parent / f"out-{p.pid}.txt"
    while p.poll() is None:
        if kill_when is not None and kill_when(marks):
            os.kill(p.pid, signal.SIGKILL); p.wait()
            return {"killed": True, "returncode": p.returncode, "output": p.stdout.read()}
        if time.time() - t0 > timeout:
            p.kill(); raise TimeoutError(f"{args} still running after {timeout} s")
        time.sleep(0.01)
    out = p.stdout.read(); out_file.write_text(out)
    return {"killed": False, "returncode": p.returncode, "output": out}


def _step(marks: Path) -> int: return int(_read(marks / "step", "0") or 0)


def losses(run: Path) -> dict[int, float]:
    "{step: loss} of a finished run's log history."
    return {h["step"]: h["loss"] for h in json.loads((run / "log_history.json").read_text()) if "loss" in h}


def sha256(p: Path) -> str: return hashlib.sha256(p.read_bytes()).hexdigest()


def kill_and_resume(tiny: dict, name: str, kills: list[tuple[str, int]]) -> dict:
    """Train run `name` with each kill of `kills` in turn — ("step", k): after step k; ("save", k): during the first save
    after step k — resuming after each, then resume to the end. Returns the finished run's losses, sha and outputs."""
    env, config, marks = tiny["env"], str(tiny["config"]), tiny["runs"].parent / f"marks-{name}"
    outputs = []
    for i, (where, k) in enumerate(kills):
        when = (lambda m, k=k: _step(m) >= k) if where == "step" else (lambda m, k=k: _step(m) >= k and (m / "saving").exists())
        r = run_until(["train", config, f"run_name={name}", *TRAIN_OVERRIDES] + (["resume=true"] if i else []), env, marks, when)
        assert r["killed"], f"the run finished before the kill {where} {k}:\n{r['output'][-3000:]}"
        outputs.append(r["output"])
    r = run_until(["train", config, f"run_name={name}", *TRAIN_OVERRIDES, "resume=true"], env, marks)
    assert r["returncode"] == 0, r["output"][-5000:]
    outputs.append(r["output"])
    run = tiny["runs"] / name
    return {"losses": losses(run), "sha": sha256(run / "final" / "model.safetensors"), "outputs": outputs, "run": run}


def reference(tiny: dict) -> dict:
    # the tiny base is built once, before the runs, so that no timed or killed run spends its steps building it
    subprocess.run([sys.executable, "-c", "from brainvlm.models import resolve_base; resolve_base('tiny-llava')"], check=True, env=tiny["env"])
    r = run_until(["train", str(tiny["config"]), "run_name=reference", *TRAIN_OVERRIDES], tiny["env"], tiny["runs"].parent / "marks-ref")
    assert r["returncode"] == 0, r["output"][-5000:]
    run = tiny["runs"] / "reference"
    return {"losses": losses(run), "sha": sha256(run / "final" / "model.safetensors")}


def check_same_curve(ref: dict, got: dict):
    assert sorted(got["losses"]) == list(range(1, 25)), sorted(got["losses"])
    diff = max(abs(got["losses"][s] - ref["losses"][s]) for s in ref["losses"])
    assert diff == 0.0, f"losses differ after kill and resume by up to {diff}"
    assert got["sha"] == ref["sha"], "final weights differ after kill and resume"
    for ck in got["run"].glob("checkpoint-*"):           # every checkpoint left behind is complete
        assert (ck / "trainer_state.json").exists() and (ck / "model.safetensors").exists(), sorted(p.name for p in ck.iterdir())


def test_kill_during_training_and_checkpoint_save_then_resume(tiny_training):
    rng = random.Random(int(os.environ.get("BRAINVLM_KILL_SEED", "0")))
    ref = reference(tiny_training)
    # one kill at a random step between checkpoints, one in the middle of a checkpoint save
    got = kill_and_resume(tiny_training, "killed", [("step", rng.randint(5, 11)), ("save", rng.randint(13, 19))])
    check_same_curve(ref, got)
    assert any("checkpoint" in o and "resum" in o.lower() for o in got["outputs"][1:]), "a resumed run does not say where it resumed"


def test_kill_during_cache_then_rerun(tiny_training, tmp_path):
    env, cohort = tiny_training["env"], tiny_training["cohort"]
    cache, marks, stats = tmp_path / "cache", tmp_path / "marks-cache", tmp_path / "stats.json"
    subprocess.run(["brainvlm", "stats", str(cohort / "manifest_train.json"), "--cohorts", str(cohort / "cohort.yaml"), "--out", str(stats)],
                   env=env, check=True, capture_output=True)
    args = ["cache", *[str(cohort / f"manifest_{s}.json") for s in ("train", "val", "test")], "--cohorts", str(cohort / "cohort.yaml"),
            "--cache", str(cache), "--stats", str(stats)]
    saves = {"n": 0}
    def third_save(m):                      # kill while the third entry is being written
        if (m / "saving").exists():
            t = _read(m / "saving")
            if t != saves.get("last"): saves["last"] = t; saves["n"] += 1
        return saves["n"] >= 3
    r = run_until(args, env, marks, third_save)
    assert r["killed"], r["output"][-3000:]
    first = subprocess.run(["brainvlm", *args], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-3000:]
    total = 16                                            # 8 subjects × (T1, rsfMRI)
    line = [l for l in first.stdout.splitlines() if "cached" in l]
    cached = sum(int(l.split("cached ")[1].split(",")[0]) for l in line)
    reused = sum(int(l.split("reused ")[1].split(",")[0]) for l in line)
    assert cached + reused == total and reused >= 2, first.stdout
    assert not list(cache.rglob("*.partial")), sorted(cache.rglob("*.partial"))
    again = subprocess.run(["brainvlm", *args], env=env, capture_output=True, text=True)
    assert again.returncode == 0 and sum(int(l.split("reused ")[1].split(",")[0]) for l in again.stdout.splitlines() if "reused" in l) == total, again.stdout
