"""`papermill nbs/train.ipynb out.ipynb -p modality rsfMRI` trains on rsfMRI only, through the same code path as
`brainvlm train`, and the executed notebook and the loss plot land in the run's outputs."""
import json, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_train_notebook_with_papermill(tiny_training, tmp_path):
    out = tmp_path / "executed_train.ipynb"
    r = subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "nbs" / "train.ipynb"), str(out), "-p", "config", str(tiny_training["config"]),
                        "-p", "modality", "rsfMRI", "-p", "max_steps", "2", "--cwd", str(tmp_path)],
                       env=tiny_training["env"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-4000:]
    run = tiny_training["runs"] / "run"
    resolved = (run / "config.yaml").read_text()
    assert "only_modality: rsfMRI" in resolved and "max_steps: 2" in resolved
    seen = {k for h in json.loads((run / "log_history.json").read_text()) for k in h if k.startswith("loss/")}
    assert seen == {"loss/rsfMRI"}, seen                      # trained on rsfMRI only
    assert (run / "loss.png").exists() and out.exists()
