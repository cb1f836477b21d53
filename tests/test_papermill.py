"""`papermill nbs/train.ipynb out.ipynb -p modality rsfMRI` trains on rsfMRI only, through the same code path as
`brainvlm train`, and the executed notebook and the loss plot land in the run's outputs."""
import json, os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_train_notebook_with_papermill(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "BRAINVLM_BASE_DIR": str(tmp_path / "base"), "MPLBACKEND": "Agg"}
    cohort = tmp_path / "cohort"
    subprocess.run(["brainvlm", "synth", "--n", "6", "--grid", "16", "--fmri-grid", "16", "--frames", "8", "--dwi-directions", "6",
                    "--modalities", "T1,rsfMRI", "--workers", "1", "--out", str(cohort)], check=True, env=env, capture_output=True)
    cfg = tmp_path / "train.yaml"
    cfg.write_text(f"""
run_name: pm
output_root: {tmp_path / 'runs'}
cohorts: [{cohort / 'cohort.yaml'}]
max_seq_length: 320
dataset:
  T1:     {{manifest: ['{cohort}/manifest_{{split}}.json'], img_size: [16, 16, 16]}}
  rsfMRI: {{manifest: ['{cohort}/manifest_{{split}}.json'], img_size: [16, 16, 16], sequence_length: 4}}
model: {{hf_name: tiny-llava, T1: {{patch_size: [8, 8, 8]}}, rsfMRI: {{patch_size: [8, 8, 8, 2]}}, train: [patch_embed, projector]}}
trainer: {{max_steps: 4, learning_rate: 1.0e-3, logging_steps: 2, save_steps: 4, report_to: [], disable_tqdm: true}}
""")
    out = tmp_path / "executed_train.ipynb"
    r = subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "nbs" / "train.ipynb"), str(out), "-p", "config", str(cfg),
                        "-p", "modality", "rsfMRI", "-p", "max_steps", "2", "--cwd", str(tmp_path)], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-4000:]
    run = tmp_path / "runs" / "pm"
    resolved = (run / "config.yaml").read_text()
    assert "only_modality: rsfMRI" in resolved and "max_steps: 2" in resolved
    history = json.loads((run / "log_history.json").read_text())
    seen = {k for h in history for k in h if k.startswith("loss/")}
    assert seen == {"loss/rsfMRI"}, seen                      # trained on rsfMRI only
    assert (run / "loss.png").exists() and out.exists()
