"""Every `tiny-*` preset, drawn at random, can learn: no weight matrix starts at (almost) zero.

A check across the model families of 06–06d, which no single chapter can import all of. transformers' BLIP and BLIP-2
vision configs default to a std of 1e-10 and BLIP-2 zeroes its query tokens (both meant to be overwritten by loaded
weights); a tiny tower drawn that way has dead attention and MLP layers, whose gradients are zero too."""
import torch

from brainvlm.data import cohort_texts, train_tokenizer
from brainvlm.models import FAMILIES, TINY_PRESETS, family_of, load_families, tiny_config


def test_every_tiny_preset_is_drawn_alive(tmp_path):
    load_families()
    tok = train_tokenizer(cohort_texts(), tmp_path)
    assert {"tiny-llava", "tiny-blip", "tiny-blip2-opt", "tiny-blip2-t5", "tiny-region-blip"} <= set(TINY_PRESETS)
    for preset in TINY_PRESETS:
        torch.manual_seed(0)
        cfg = tiny_config(preset, tok)
        model = family_of(cfg).model_class(cfg)
        flat = {n: float(w.std()) for n, w in model.named_parameters() if w.ndim >= 2 and w.numel() > 1}
        assert len(flat) > 10, preset
        dead = {n: s for n, s in flat.items() if s < 1e-3}
        assert not dead, f"{preset}: weights drawn (almost) at zero: {dead}"
    assert len(FAMILIES) >= 4
