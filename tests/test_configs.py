"""The example configs in configs/ resolve as `brainvlm train` reads them, and the large ones build their model.

Each config is resolved with `brainvlm.run.resolve_config` from a folder that holds the manifests it names
(`data/UKB/manifest_{split}.json`, written by `ingest_bids` into a tiny BIDS dataset of real files), so its relative
paths are read as they would be from a checkout. The hub is offline here, so a large base is built on the meta device
(no memory, no weights) from its published architecture (`brainvlm.scale.PUBLISHED_BASES`), through the same conversion `load_base`
applies to the downloaded config (`volume_config`), with the freeze policy and the LoRA adapters the config asks for."""
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf
import torch

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


@pytest.fixture(scope="module")
def ukb(tmp_path_factory) -> Path:
    "A folder holding data/UKB: a 6-subject BIDS dataset (T1, fMRI, DWI) with the manifests `brainvlm ingest data/UKB --cohort UKB` writes."
    from brainvlm.cohorts import ingest_bids, write_example_bids
    folder = tmp_path_factory.mktemp("checkout")
    ingest_bids(write_example_bids(folder / "data" / "UKB", n_subjects=6), "UKB")
    return folder


def resolve(name: str, folder: Path, *overrides):
    "configs/NAME resolved from `folder` (its working directory), as `brainvlm train configs/NAME` would."
    from brainvlm.run import resolve_config
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        return resolve_config(CONFIGS / name, list(overrides))


def published(hf_name: str):
    "The architecture of a hub base as its config.json publishes it (the hub is offline here): `brainvlm.scale.PUBLISHED_BASES`."
    from brainvlm.scale import PUBLISHED_BASES
    return PUBLISHED_BASES[hf_name]()


def count(module) -> int: return sum(p.numel() for p in module.parameters())


def build_on_meta(cfg):
    "The run's model on the meta device as `brainvlm memory` builds it (`brainvlm.scale.meta_model`), and the vanilla model of its base."
    from brainvlm.scale import meta_model
    from transformers import AutoModelForImageTextToText
    with torch.device("meta"): vanilla = AutoModelForImageTextToText.from_config(published(cfg.model.hf_name))
    return meta_model(cfg), vanilla


def trainable_by_part(model) -> dict:
    from brainvlm.models import part_of
    out = {}
    for n, p in model.named_parameters():
        if p.requires_grad: out[part_of(model, n)] = out.get(part_of(model, n), 0) + p.numel()
    return out


TESTED = ["llava-1.5-7b-lora.yaml", "llava-1.5-7b-deepspeed.yaml", "blip2-flan-t5-xl-reports.yaml"]   # below; the quickstart: test_papermill.py


def test_every_config_is_checked():
    # quickstart.yaml: tests/test_papermill.py; vqa-quickstart.yaml: tests/test_vqa.py (trained through nbs/vqa.ipynb);
    # pretrain-quickstart.yaml: tests/test_pretrain.py (nbs/pretrain.ipynb on a tiny config); regions-quickstart.yaml: below
    assert sorted(p.name for p in CONFIGS.glob("*.yaml")) == sorted(["quickstart.yaml", "vqa-quickstart.yaml", "pretrain-quickstart.yaml",
                                                                    "regions-quickstart.yaml", *TESTED]), "a config without a test"


def test_regions_quickstart(tmp_path):
    "The regional quickstart resolves on a cohort written where it names one, and its model takes the preset's regions and the contrast."
    from brainvlm.regions import make_regional_cohort, region_preset
    from brainvlm.run import load_model
    make_regional_cohort(tmp_path / "outputs" / "regions-quickstart" / "cohort", n=6, grid=48, split_sizes=(2, 2, 2), workers=1, progress=False)
    cfg = resolve("regions-quickstart.yaml", tmp_path, "regions.contrast=region")
    assert list(cfg.dataset.T1.img_size) == [48, 48, 48] and cfg.regions.preset == "brain-lobes"
    model, proc = load_model(cfg)
    assert model.config.region_names == list(region_preset("brain-lobes").regions) and model.config.contrast == "region"
    assert model.region_pooler is not None and proc.num_visual_tokens == {"T1": 0}      # BLIP's text reads the scan by its features


def test_llava_lora(ukb):
    cfg = resolve("llava-1.5-7b-lora.yaml", ukb)
    assert list(cfg.dataset) == ["T1", "rsfMRI"] and cfg.model.hf_name == "llava-hf/llava-1.5-7b-hf" and cfg.lora.r == 16
    assert list(cfg.dataset.T1.img_size) == [128] * 3 and list(cfg.dataset.rsfMRI.img_size) == [96] * 3     # the UKB preset's grids
    model, vanilla = build_on_meta(cfg)
    assert count(vanilla) == 7_063_427_072                              # LLaVA-1.5-7B as published
    tower = model.base_model.model.model.vision_tower.embeddings       # our patch embeddings replace CLIP's 2D one
    assert count(model) - trainable_by_part(model)["lm_lora"] - count(vanilla) == count(tower) - count(vanilla.model.vision_tower.embeddings)
    visual = {m: model.config.visual_token_count(m) for m in cfg.dataset}
    assert visual == {"T1": 512, "rsfMRI": 1080} and max(visual.values()) < cfg.max_seq_length
    parts = trainable_by_part(model)
    assert set(parts) == {"patch_embed", "projector", "lm_lora"}        # the tower and the language model stay frozen
    assert parts["lm_lora"] == 32 * 2 * cfg.lora.r * (4096 + 4096)      # q_proj and v_proj of 32 layers, r × (in + out) each


def test_llava_deepspeed_zero2(ukb):
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "deepspeed", None)                      # resolving needs no DeepSpeed (an import would fail here); training does
        cfg = resolve("llava-1.5-7b-deepspeed.yaml", ukb)
    ds = OmegaConf.to_container(cfg.trainer.deepspeed)                 # the shipped `zero2`, resolved into the config
    assert ds["zero_optimization"]["stage"] == 2
    assert all(ds[k] == "auto" for k in ("train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "gradient_clipping"))
    model, vanilla = build_on_meta(cfg)
    parts = trainable_by_part(model)
    assert set(parts) == {"patch_embed", "projector", "lm"} and parts["lm"] > 6.5e9      # the whole language model trains


def test_blip2_t5_reports(ukb):
    cfg = resolve("blip2-flan-t5-xl-reports.yaml", ukb)
    assert list(cfg.dataset) == ["T1"] and cfg.split_turns
    model, vanilla = build_on_meta(cfg)
    assert 3.8e9 < count(vanilla) < 3.95e9                              # BLIP-2 Flan-T5-XL, about 3.9 B
    assert model.config.visual_token_count("T1") == 32                 # the Q-Former's queries, whatever the grid
    parts = trainable_by_part(model)
    assert set(parts) == {"patch_embed", "projector", "lm_lora"}
    # T5's q and v (32 heads × 64 = 2048 wide) in the self-attention of 24 encoder and 24 decoder blocks and the decoder's cross-attention
    assert parts["lm_lora"] == (24 + 24 + 24) * 2 * cfg.lora.r * (2048 + 2048)
    assert parts["projector"] == count(model.base_model.model.qformer) + count(model.base_model.model.language_projection) + 32 * 768
