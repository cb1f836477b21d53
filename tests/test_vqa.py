"""`papermill nbs/vqa.ipynb out.ipynb -p num_images 3` trains a LoRA run of the quickstart's model on 3 images of one category (the
parameter reaches the run: its `training_summary.json` counts them), and the run's adapters load back with
`PeftModel.from_pretrained` on the base. `brainvlm vqa-all` runs every category, passes a failed one, reports it, exits
with status 1, and skips a finished category when called again."""
import ast, json, subprocess, sys
from pathlib import Path

import papermill
import torch
import yaml
from conftest import offline_env

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
    env = offline_env(tmp_path)
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
    stored = {k: t for f in ("adapter_model.safetensors", "brainvlm_trainable.safetensors") for k, t in load_file(str(run / "final" / f)).items()}
    buffers = {k for k in stored if k.rsplit(".", 1)[-1] in ("running_mean", "running_var", "num_batches_tracked")}   # the view's statistics
    assert summary["parameters"]["trainable"] == sum(t.numel() for k, t in stored.items() if k not in buffers) and summary["wall_time_s"] > 0
    assert len(buffers) == 3 * bool(quick["model"]["image2d"].get("global_view_standardize"))   # what the run trained is what final/ stores
    assert summary["parameters_by_part"]["lm_lora"]["trainable"] > 0            # (the random tiny base trains every part besides)
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-3"]
    scores = summary["test_scores"]["femur"]                  # every question scored on the test images, beside the majority answer
    questions = {k[:-len("_exact_match")] for k in scores if k.endswith("_exact_match")}
    assert len(questions) == 8 and all(scores[f"{q}_n"] == summary["images"]["test"] > 0 for q in questions)
    assert all(f"{q}_token_f1_ci" in scores["baselines"]["majority"] for q in questions)
    assert (run / "test_answers.csv").exists() and (run / "answers.png").exists()
    assert "only_cohort: femur" in (run / "config.yaml").read_text()
    warm = json.loads((run / "vision_warmup.json").read_text())            # the quickstart's warm-up: nothing to learn from 3 images,
    assert warm["steps"] == 0 and "vision warm-up skipped: no question" in out.read_text()   # so skipped, and the notebook says so

    from peft import PeftModel
    from brainvlm.models import load_base, peft_quietly
    base, _ = load_base(tmp_path / "base" / quick["model"]["hf_name"], modalities={"image2d": {"img_size": [64, 64], **quick["model"]["image2d"]}})
    with peft_quietly(): model = PeftModel.from_pretrained(base, str(run / "final"))
    saved = load_file(str(run / "final" / "adapter_model.safetensors"))
    loaded = {n.replace(".default", ""): p for n, p in model.named_parameters() if "lora_" in n}
    assert saved.keys() == loaded.keys() and all(torch.equal(loaded[k], v) for k, v in saved.items())
    assert any(v.abs().sum() > 0 for k, v in saved.items() if "lora_B" in k)   # trained: lora_B starts at zero


def _two_categories_one_broken(tmp_path):
    "femur (10 images) ingested; abdomen (6 images) whose sheet lost its Q5 column, so the ingest left it out of the manifests."
    import pandas as pd
    from brainvlm.vqa2d import ingest_vqa, make_vqa_cohort, read_question_sheet, write_vqa_manifests
    root = tmp_path / "us"
    make_vqa_cohort(root, categories=("femur",), images_per_category=10, size=64)
    make_vqa_cohort(root, categories=("abdomen",), images_per_category=6, size=64, overwrite=True)
    sheet = root / "abdomen" / "abdomen.xlsx"
    read_question_sheet(sheet).drop(columns="Q5").to_excel(sheet, index=False)
    write_vqa_manifests(ingest_vqa(root, categories=["femur"]))
    quick = yaml.safe_load((ROOT / "configs" / "vqa-quickstart.yaml").read_text())
    quick.update(output_root=str(tmp_path / "runs"), cohorts=[str(root / "cohort.yaml")])
    quick["dataset"]["image2d"]["manifest"] = [str(root / "manifest_{split}.json")]
    (tmp_path / "vqa.yaml").write_text(yaml.safe_dump(quick))
    return tmp_path / "vqa.yaml"


def test_vqa_all_passes_a_failed_category_reports_it_and_resumes(tmp_path, monkeypatch, capsys):
    import argparse
    import pandas as pd
    from brainvlm.vqa_eval import add_vqa_command
    config = _two_categories_one_broken(tmp_path)
    for k, v in {"HF_HUB_OFFLINE": "1", "BRAINVLM_BASE_DIR": str(tmp_path / "base"), "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(tmp_path)
    parser = argparse.ArgumentParser(); add_vqa_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["vqa-all", str(config), "--sort-by-size", "--num-images", "3", "--num-epochs", "1"])

    def vqa_all_exit_code():
        try: args.func(args)
        except SystemExit as e: return e.code
        return 0

    assert vqa_all_exit_code() == 1                           # a category failed (known before its run: no kernel started for it)
    out = tmp_path / "runs"
    table = pd.read_csv(out / "vqa_all.csv").fillna({"reason": ""})
    assert table.category.tolist() == ["abdomen", "femur"]     # smallest sheet first
    assert table.status.tolist() == ["failed", "trained"]      # the loop went on past the failure
    assert "the config's manifests hold no training record of 'abdomen'" in table.reason[0] and "\n" not in table.reason[0]
    assert "failed: abdomen: " in capsys.readouterr().err
    femur = out / "femur"
    summary = json.loads((femur / "training_summary.json").read_text())
    assert summary["images"]["train"] == 3 and (femur / "vqa.ipynb").exists() and (femur / "final" / "adapter_model.safetensors").exists()
    assert table.questions[1] == 8 and 0 <= table.majority_exact_match[1] <= 1
    scores = pd.read_csv(out / "vqa_scores.csv")
    assert len(scores) == 16 and set(scores.category) == {"femur"}    # 8 questions x (exact match, token F1)
    finished = (femur / "training_summary.json").stat().st_mtime_ns

    assert vqa_all_exit_code() == 1                           # again: femur is skipped, abdomen fails again
    table = pd.read_csv(out / "vqa_all.csv")
    assert table.status.tolist() == ["failed", "finished before"]
    assert (femur / "training_summary.json").stat().st_mtime_ns == finished
    assert json.loads((out / "vqa_all.json").read_text())["parameters"]["num_images"] == 3
