"""The pre-training task notebook end to end on CPU: `papermill nbs/pretrain.ipynb` with a config over a tiny synthetic
cohort (T1 at 16³) pre-trains tiny-blip for a few steps (ITC, ITM and LM logged one by one) and scores retrieval on `val`."""
import json, subprocess, sys
from pathlib import Path

import pandas as pd
from conftest import offline_env, synth_cohort

ROOT = Path(__file__).resolve().parents[1]


def _tiny_pretraining(tmp_path: Path) -> tuple[dict, Path]:
    "The environment and a pre-training config over a 16-subject synthetic cohort (T1 at 16³), tiny-blip, 100 steps."
    env = offline_env(tmp_path)
    cohort = synth_cohort(tmp_path, env, "--n", "16", "--grid", "16", "--modalities", "T1")
    config = tmp_path / "pretrain.yaml"
    config.write_text(f"""
run_name: run
output_root: {tmp_path / 'runs'}
cohorts: [{cohort / 'cohort.yaml'}]
max_seq_length: 48
dataset:
  T1: {{manifest: ['{cohort}/manifest_{{split}}.json'], img_size: [16, 16, 16]}}
model: {{hf_name: tiny-blip, train: [patch_embed, vision, projector, lm], T1: {{patch_size: [8, 8, 8]}}}}
trainer: {{max_steps: 100, learning_rate: 1.0e-3, per_device_train_batch_size: 4, logging_steps: 1, save_steps: 100,
           answer_samples_every: 0, report_to: [], disable_tqdm: true}}
""")
    return env, config


def test_pretrain_notebook_trains_and_scores_retrieval(tmp_path):
    env, config = _tiny_pretraining(tmp_path)
    r = subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "nbs" / "pretrain.ipynb"), str(tmp_path / "out.ipynb"), "--cwd", str(ROOT),
                        "-p", "config", str(config), "-p", "max_steps", "3", "-p", "split", "val", "-y", "pool_sizes: [2, 64]"],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    run = tmp_path / "runs" / "run"
    history = json.loads((run / "log_history.json").read_text())
    assert history[-1]["step"] == 3
    logged = {k for h in history for k in h}
    assert {"loss/T1/itc", "loss/T1/itm", "loss/T1/lm"} <= logged, logged     # each loss on its own
    table = pd.read_csv(run / "eval-val" / "retrieval.csv")
    scored, skipped = table[table.pool == 2], table[table.pool == 64]
    assert (scored.n > 0).all() and set(scored.method) == {"itc", "itc+itm"} and set(scored.direction) == {"image-to-text", "text-to-image"}
    assert (skipped.n == 0).all() and skipped.note.str.startswith("skipped").all()   # a pool larger than the split's captions is not computed
    assert (run / "final" / "model.safetensors").exists()


def test_pretrain_command_under_torchrun(tmp_path):
    "`torchrun -m brainvlm pretrain` on two CPU processes (gloo): the ranks end with identical weights, rank 0 scores retrieval on val."
    env, config = _tiny_pretraining(tmp_path)
    # the tiny base is built once, before the ranks start (they would race to build it)
    subprocess.run([sys.executable, "-c", "from brainvlm.models import resolve_base; resolve_base('tiny-blip')"], check=True, env=env)
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "brainvlm", "pretrain",
                        str(config), "trainer.max_steps=4", "trainer.save_steps=4", "--evaluate", "val", "--pools", "2"],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    run = tmp_path / "runs" / "run"
    check = json.loads((run / "ddp_check.json").read_text())
    assert check == {"world_size": 2, "max_abs_checksum_difference": 0.0, "identical": True}, check
    history = json.loads((run / "log_history.json").read_text())
    assert history[-1]["step"] == 4 and {"loss/T1/itc", "loss/T1/itm", "loss/T1/lm"} <= {k for h in history for k in h}
    table = pd.read_csv(run / "eval-val" / "retrieval.csv")
    assert (table.n > 0).all() and set(table.pool) == {2}
    assert r.stdout.count("retrieval on val, 95% intervals") == 1   # scored once, by the first rank



def test_deterministic_pretraining_repeats_bit_for_bit(tmp_path):
    """`deterministic=true`, started at torch's own thread count: the same seed pre-trains to the same losses and weights
    (its ITM negatives are drawn at random), on one thread with torch's deterministic algorithms (reproducibility.json)."""
    from test_determinism import losses, sha256
    env, config = _tiny_pretraining(tmp_path)
    env = {k: v for k, v in env.items() if k != "OMP_NUM_THREADS"}        # as a user starts it
    runs = []
    for name in ("first", "second"):
        r = subprocess.run([sys.executable, "-m", "brainvlm", "pretrain", str(config), f"run_name={name}", "trainer.max_steps=12",
                            "trainer.save_steps=12", "deterministic=true"], capture_output=True, text=True, env=env, timeout=600)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
        runs.append(tmp_path / "runs" / name)
    assert sorted(losses(runs[0])) == list(range(1, 13)) and losses(runs[0]) == losses(runs[1])
    assert sha256(runs[0] / "final" / "model.safetensors") == sha256(runs[1] / "final" / "model.safetensors")
    rec = json.loads((runs[0] / "reproducibility.json").read_text())
    assert (rec["deterministic"], rec["threads"]) == (True, 1), rec
