"""The BLIP family's losses, trained for real: ITM and LM each fall by at least half while a tiny BLIP over-fits 64
(image, report) pairs in at most 200 steps, and ITC gathered across two DDP processes (gloo, torchrun) equals the
single-process loss on the same global batch, with the same gradients (they flow back through the gather). The launch lets
torchrun pick a free port (`--standalone`), so that two test runs on one machine do not collide."""
import itertools, textwrap

import numpy as np
import pytest
import torch

from conftest import run_two_ranks


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from brainvlm.data import cohort_texts, train_tokenizer
    return train_tokenizer(cohort_texts(), tmp_path_factory.mktemp("tok"))


def templated_pairs(tokenizer, n: int = 64):
    """`n` 16×16 images with findings reports of 12 distinct templates (sex × age 30/60 × lesion none/left/right), each image the
    sum of fixed patterns for its attributes plus noise: what a caption says is in its image."""
    from brainvlm.cohorts import findings_report
    kinds = [{"sex": s, "age": float(a), "lesion": d is not None, "lesion_side": d} for a, s, d in itertools.product((30, 60), "FM", (None, "left", "right"))]
    metas = [kinds[i % len(kinds)] for i in range(n)]
    g = torch.Generator().manual_seed(1)
    patterns = torch.randn(4, 1, 16, 16, generator=g)
    code = torch.tensor([[1.0 if m["sex"] == "M" else -1.0, (m["age"] - 45) / 15, float(m["lesion_side"] == "left"),
                          float(m["lesion_side"] == "right")] for m in metas])
    x = torch.einsum("nk,kchw->nchw", code, patterns) + 0.3 * torch.randn(n, 1, 16, 16, generator=g)
    caps = [findings_report(m) for m in metas]
    enc = tokenizer([tokenizer.bos_token + c + tokenizer.eos_token for c in caps], padding=True, return_tensors="pt", add_special_tokens=False)
    text_ids = torch.tensor([sorted(set(caps)).index(c) for c in caps])
    return x, enc.input_ids, enc.attention_mask, text_ids


def test_itm_and_lm_fall_by_half_when_overfitting_64_pairs(tokenizer):
    from brainvlm.blip import VolumeBlipForPretraining, tiny_blip_config
    torch.manual_seed(0)
    model = VolumeBlipForPretraining(tiny_blip_config(tokenizer, {"image2d": {"img_size": [16, 16], "patch_size": [8, 8]}})).train()
    x, ids, mask, text_ids = templated_pairs(tokenizer)
    labels = ids.masked_fill(mask == 0, -100)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    history = []
    for step in range(200):
        out = model(pixel_values=x, input_ids=ids, attention_mask=mask, labels=labels, modality="image2d",
                    image_ids=torch.arange(len(x)), text_ids=text_ids)
        opt.zero_grad(); out.loss.backward(); opt.step()
        history.append([out.loss_itm.item(), out.loss_lm.item()])
        h = np.array(history)
        if len(h) >= 15 and (h[-10:].mean(0) <= 0.5 * h[:5].mean(0)).all(): break     # both have fallen by half: stop early
    first, last = h[:5].mean(0), h[-10:].mean(0)
    print(f"after {len(h)} steps: ITM {first[0]:.3f} -> {last[0]:.3f}, LM {first[1]:.3f} -> {last[1]:.3f}")
    assert last[0] <= 0.5 * first[0], f"ITM fell from {first[0]:.3f} to {last[0]:.3f} in {len(h)} steps"
    assert last[1] <= 0.5 * first[1], f"LM fell from {first[1]:.3f} to {last[1]:.3f} in {len(h)} steps"


DDP_SCRIPT = textwrap.dedent('''
    import json, sys, torch, torch.distributed as dist, torch.nn.functional as F
    from torch.nn.parallel import DistributedDataParallel as DDP
    from brainvlm.blip import itc_loss
    torch.manual_seed(0)
    X, Y = torch.randn(8, 5), torch.randn(8, 5)                   # the global batch: image and text inputs
    image_ids, text_ids = torch.arange(8), torch.tensor([0, 1, 2, 3, 3, 5, 6, 0])   # identical captions, also across ranks
    temp = torch.tensor(0.1)
    class Encoders(torch.nn.Module):                                            # an image and a text encoder: their ITC features
        def __init__(self): super().__init__(); self.image, self.text = torch.nn.Linear(5, 4), torch.nn.Linear(5, 4)
        def forward(self, x, y): return F.normalize(self.image(x), dim=-1), F.normalize(self.text(y), dim=-1)
    enc = Encoders()
    feats = lambda m, x, y: m(x, y)
    ref = itc_loss(*feats(enc, X, Y), temp, image_ids, text_ids)[0]            # one process (no group yet), the whole batch
    ref.backward()
    ref_grads = [p.grad.clone() for p in enc.parameters()]; enc.zero_grad()
    dist.init_process_group("gloo")                                             # from here on, itc_loss gathers across the ranks
    rank, world = dist.get_rank(), dist.get_world_size()
    model = DDP(enc)
    part = slice(4 * rank, 4 * rank + 4)                                        # each rank its half
    loss = itc_loss(*feats(model, X[part], Y[part]), temp, image_ids[part], text_ids[part])[0]
    loss.backward()                                                             # DDP averages the ranks' gradients
    losses = [torch.zeros(()) for _ in range(world)]; dist.all_gather(losses, loss.detach())
    grad_diff = max(float((p.grad - g).abs().max()) for p, g in zip(model.module.parameters(), ref_grads))
    uneven = slice(0, 5) if rank == 0 else slice(5, 8)                          # unequal batches: padded for the gather
    n = uneven.stop - uneven.start
    with torch.no_grad(): l2, start = itc_loss(*feats(enc, X[uneven], Y[uneven]), temp, image_ids[uneven], text_ids[uneven])[::4]
    sums = [torch.zeros(()) for _ in range(world)]; dist.all_gather(sums, l2 * n)
    starts = [torch.zeros((), dtype=torch.long) for _ in range(world)]; dist.all_gather(starts, torch.tensor(start))
    if rank == 0:
        json.dump({"ref": ref.item(), "mean_of_ranks": float(sum(losses) / world), "grad_diff": grad_diff,
                   "uneven": float(sum(sums) / 8), "starts": [int(s) for s in starts], "grad_norm": float(sum(g.norm() for g in ref_grads))}, open(sys.argv[1], "w"))
    dist.destroy_process_group()
''')


def test_gathered_itc_equals_single_process_under_two_process_ddp(tmp_path):
    got = run_two_ranks(DDP_SCRIPT, tmp_path)
    assert abs(got["mean_of_ranks"] - got["ref"]) < 1e-5, got                  # the same loss as one process on the global batch
    assert got["grad_norm"] > 1e-3 and got["grad_diff"] < 1e-5, got            # ... and the same gradients: they flow through the gather
    assert abs(got["uneven"] - got["ref"]) < 1e-5, got                         # ranks with 5 and 3 samples: the same loss, weighted by size
    assert got["starts"] == [0, 5], got                                        # ... and each rank's rows start where the other's end
