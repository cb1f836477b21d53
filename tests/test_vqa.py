"""`papermill nbs/vqa.ipynb out.ipynb -p num_images 3` trains a BLIP-2 OPT + LoRA run on 3 images of one category (the
parameter reaches the run: its `training_summary.json` counts them), and the run's adapters load back with
`PeftModel.from_pretrained` on the base."""
import ast, json, os, subprocess, sys
from pathlib import Path

import papermill
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_parameters_cell_is_tagged_and_parsed():
    "papermill finds the tagged cell and reads every parameter the notebook defines there."
    nb = json.loads((ROOT / "nbs" / "vqa.ipynb").read_text())
    cells = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert len(cells) == 1
    assigned = [t.id for node in ast.parse("".join(cells[0]["source"])).body for t in node.targets]
    assert {"category", "num_images", "num_epochs", "batch_size", "learning_rate", "config"} <= set(assigned)
    assert list(papermill.inspect_notebook(str(ROOT / "nbs" / "vqa.ipynb"))) == assigned


def test_num_images_reaches_the_run_and_adapters_round_trip(tmp_path):
    from brainvlm.vqa2d import ingest_vqa, make_vqa_cohort, write_vqa_manifests
    data = tmp_path / "us"
    make_vqa_cohort(data, categories=("femur", "abdomen"), images_per_category=12, size=64)
    write_vqa_manifests(ingest_vqa(data))
    n_train = sum(r["cohort"] == "femur" for r in json.loads((data / "manifest_train.json").read_text()))
    assert n_train > 3                                        # without the parameter, the run would train on more
    quick = yaml.safe_load((ROOT / "configs" / "vqa-quickstart.yaml").read_text())
    quick.update(run_name="femur-3", output_root=str(tmp_path / "runs"), cohorts=[str(data / "cohort.yaml")])
    quick["dataset"]["image2d"]["manifest"] = [str(data / "manifest_{split}.json")]
    quick["trainer"].update(save_steps=2, logging_steps=1)
    (tmp_path / "vqa.yaml").write_text(yaml.safe_dump(quick))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "BRAINVLM_BASE_DIR": str(tmp_path / "base"), "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    out = tmp_path / "executed.ipynb"
    r = subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "nbs" / "vqa.ipynb"), str(out), "-p", "config", str(tmp_path / "vqa.yaml"),
                        "-p", "category", "femur", "-p", "num_images", "3", "-p", "num_epochs", "1", "--cwd", str(tmp_path)],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-4000:]
    run = tmp_path / "runs" / "femur-3"
    summary = json.loads((run / "training_summary.json").read_text())
    assert summary["category"] == "femur" and summary["images"]["train"] == 3
    assert summary["epochs"] == 1 and summary["steps"] == 3    # 3 images × 8 questions in batches of 8
    from safetensors.torch import load_file
    stored = sum(t.numel() for f in ("adapter_model.safetensors", "brainvlm_trainable.safetensors") for t in load_file(str(run / "final" / f)).values())
    assert summary["parameters"]["trainable"] == stored < summary["parameters"]["total"] and summary["wall_time_s"] > 0
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-3"]
    assert "only_cohort: femur" in (run / "config.yaml").read_text()

    from peft import PeftModel
    from brainvlm.models import load_base, peft_quietly
    base, _ = load_base(tmp_path / "base" / "tiny-blip2-opt", modalities={"image2d": {"img_size": [64, 64], "patch_size": [16, 16]}})
    with peft_quietly(): model = PeftModel.from_pretrained(base, str(run / "final"))
    saved = load_file(str(run / "final" / "adapter_model.safetensors"))
    loaded = {n.replace(".default", ""): p for n, p in model.named_parameters() if "lora_" in n}
    assert saved.keys() == loaded.keys() and all(torch.equal(loaded[k], v) for k, v in saved.items())
    assert any(v.abs().sum() > 0 for k, v in saved.items() if "lora_B" in k)   # trained: lora_B starts at zero
