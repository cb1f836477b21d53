"""A real 2-process DDP run on CPU (torchrun, gloo): `brainvlm train` on a tiny cohort with T1 and rsfMRI in
modality-homogeneous batches, so that in most steps the two ranks train different modalities. The run must
finish (no rank waits forever on a gradient the other never produces) and the ranks' parameters must be
identical afterwards (`train` compares checksums across ranks and writes ddp_check.json). The vision tower is
open too, as in the demo: LLaVA never uses its last layer (`vision_feature_layer=-2`), which must stay frozen."""
import json, subprocess, sys


def test_two_process_ddp_keeps_replicas_identical(tiny_training):
    env, run = tiny_training["env"], tiny_training["runs"] / "run"
    # the tiny base is built once, before the ranks start (they would race to build it)
    subprocess.run([sys.executable, "-c", "from brainvlm.models import resolve_base; resolve_base('tiny-llava')"], check=True, env=env)
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
                        "-m", "brainvlm", "train", str(tiny_training["config"]), "model.train=[patch_embed,vision,projector]"], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    check = json.loads((run / "ddp_check.json").read_text())
    assert check == {"world_size": 2, "max_abs_checksum_difference": 0.0, "identical": True}, check
    history = json.loads((run / "log_history.json").read_text())
    assert any(k.startswith("loss/") for h in history for k in h), history
    assert (run / "final" / "model.safetensors").exists()
