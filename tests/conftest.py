"""Shared setup for the tests that train: a tiny synthetic cohort (T1 and rsfMRI at 16³) and a `brainvlm train`
config over it, with the offline environment the subprocesses run in; and two-rank runs of a test's own script."""
import json, os, subprocess, sys
from pathlib import Path

import pytest

# `bash run.sh test` runs the files on two pytest-xdist workers, a file to a worker (`--dist loadfile`), handed out in
# collection order: the slowest files go first, so that no long file is left to run alone at the end.
SLOWEST_FIRST = ("test_tasks.py", "test_docs.py", "test_deepspeed.py", "test_papermill.py", "test_package.py", "test_kill.py")


def pytest_collection_modifyitems(items):
    rank = lambda item: SLOWEST_FIRST.index(item.path.name) if item.path.name in SLOWEST_FIRST else len(SLOWEST_FIRST)
    items.sort(key=rank)                                                            # stable: the order within a file is kept


@pytest.fixture
def tiny_training(tmp_path) -> dict:
    "{env, cohort, config, runs}: a 16³ T1 + rsfMRI cohort of 8 subjects and a tiny-llava config named `run`."
    return make_tiny_training(tmp_path)


def offline_env(tmp_path: Path) -> dict:
    "The environment training subprocesses run in: no hub, tiny bases built under `tmp_path/base`, one thread, no display."
    return {**os.environ, "HF_HUB_OFFLINE": "1", "BRAINVLM_BASE_DIR": str(tmp_path / "base"), "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def synth_cohort(tmp_path: Path, env: dict, *options: str) -> Path:
    "`brainvlm synth` with `options` (e.g. `--n 8 --grid 16`) into `tmp_path/cohort`, one worker; the cohort's folder."
    cohort = tmp_path / "cohort"
    subprocess.run(["brainvlm", "synth", *options, "--workers", "1", "--out", str(cohort)], check=True, env=env, capture_output=True)
    return cohort


def make_tiny_training(tmp_path: Path) -> dict:
    "The `tiny_training` fixture's folder, built under `tmp_path` (also used by `bench/`)."
    env = offline_env(tmp_path)
    cohort = synth_cohort(tmp_path, env, "--n", "8", "--grid", "16", "--fmri-grid", "16", "--frames", "8", "--dwi-directions", "6",
                          "--modalities", "T1,rsfMRI")
    config = tmp_path / "train.yaml"
    config.write_text(f"""
run_name: run
output_root: {tmp_path / 'runs'}
cohorts: [{cohort / 'cohort.yaml'}]
max_seq_length: 320
dataset:
  T1:     {{manifest: ['{cohort}/manifest_{{split}}.json'], img_size: [16, 16, 16]}}
  rsfMRI: {{manifest: ['{cohort}/manifest_{{split}}.json'], img_size: [16, 16, 16], sequence_length: 4}}
model:
  hf_name: tiny-llava
  T1: {{patch_size: [8, 8, 8]}}
  rsfMRI: {{patch_size: [8, 8, 8, 2]}}
  train: [patch_embed, projector]
trainer: {{max_steps: 6, learning_rate: 1.0e-3, per_device_train_batch_size: 1, logging_steps: 2, save_steps: 6, report_to: [], disable_tqdm: true}}
""")
    return {"env": env, "cohort": cohort, "config": config, "runs": tmp_path / "runs"}


def run_two_ranks(script: str, tmp_path: Path):
    "Run Python source `script` as two gloo ranks under torchrun (a free port: `--standalone`); the JSON its rank 0 writes to `sys.argv[1]`."
    path, result = tmp_path / "ranks.py", tmp_path / "ranks.json"
    path.write_text(script)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(path), str(result)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    return json.loads(result.read_text())
