"""A real 2-process DDP run on CPU (torchrun, gloo): `brainvlm train` on a tiny cohort with T1 and rsfMRI in
modality-homogeneous batches, so that in most steps the two ranks train different modalities. The run must
finish (no rank waits forever on a gradient the other never produces) and the ranks' parameters must be
identical afterwards (`train` compares checksums across ranks and writes ddp_check.json)."""
import json, os, subprocess, sys
from pathlib import Path


def run(*args, env=None, timeout=600):
    r = subprocess.run([*map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    return r


def test_two_process_ddp_keeps_replicas_identical(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "BRAINVLM_BASE_DIR": str(tmp_path / "base"), "OMP_NUM_THREADS": "1"}
    cohort = tmp_path / "cohort"
    run("brainvlm", "synth", "--n", "8", "--grid", "16", "--fmri-grid", "16", "--frames", "8", "--dwi-directions", "6",
        "--modalities", "T1,rsfMRI", "--workers", "1", "--out", cohort, env=env)
    run(sys.executable, "-c", "from brainvlm.models import resolve_base; resolve_base('tiny-llava')", env=env)  # built once, before the ranks start
    cfg = tmp_path / "ddp.yaml"
    cfg.write_text(f"""
run_name: ddp
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
trainer: {{max_steps: 6, learning_rate: 1.0e-3, per_device_batch_size: 1, logging_steps: 2, save_steps: 6, report_to: []}}
""")
    r = run(sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
            "-m", "brainvlm", "train", cfg, env=env)
    check = json.loads((tmp_path / "runs" / "ddp" / "ddp_check.json").read_text())
    assert check == {"world_size": 2, "max_abs_checksum_difference": 0.0, "identical": True}, check
    history = json.loads((tmp_path / "runs" / "ddp" / "log_history.json").read_text())
    assert any(k.startswith("loss/") for h in history for k in h), history
    assert (tmp_path / "runs" / "ddp" / "final" / "model.safetensors").exists()
