"""The region family's per-region ITC under two-process DDP (gloo, torchrun): every rank gathers the region features, identifiers,
normal flags and validity of the global batch and computes the same per-region losses, which equal the single-process losses on
that batch, with the same gradients after DDP's mean (they flow back through the gather), also when the ranks hold different
numbers of samples and a region is valid on one rank only."""
import textwrap

from conftest import run_two_ranks

DDP_SCRIPT = textwrap.dedent('''
    import json, sys, torch, torch.distributed as dist, torch.nn.functional as F
    from torch.nn.parallel import DistributedDataParallel as DDP
    from brainvlm.regionclip import region_itc_losses
    torch.manual_seed(0)
    X, Y = torch.randn(8, 3, 5), torch.randn(8, 3, 5)                 # the global batch: 8 samples, 3 regions, image and text inputs
    valid = torch.ones(8, 3, dtype=torch.bool); valid[:, 2] = False; valid[[1, 6], 2] = True    # region 2: one sample on each rank
    valid[3, 0] = False
    ids = torch.tensor([[0, 1, 0], [0, 2, 0], [0, 3, 0], [1, 1, 0], [0, 4, 0], [2, 5, 0], [0, 1, 0], [0, 6, 0]])
    normal = ids == 0                                                   # id 0: the normal finding, also across ranks
    class Encoders(torch.nn.Module):
        def __init__(self): super().__init__(); self.image, self.text = torch.nn.Linear(5, 4), torch.nn.Linear(5, 4)
        def forward(self, x, y): return F.normalize(self.image(x), dim=-1), F.normalize(self.text(y), dim=-1)
    enc = Encoders()
    def losses(m, part, weighting):
        return region_itc_losses(*m(X[part], Y[part]), valid[part], ids[part], normal[part], 0.1, weighting=weighting, region_names=["a", "b", "c"])
    out = {}
    for weighting in ("uniform", "frequency"):
        ref, per = losses(enc, slice(0, 8), weighting)                  # one process (no group yet), the whole batch
        ref.backward(); out[weighting] = {"ref": ref.item(), "per": {k: v.item() for k, v in per.items()},
                                          "grads": [p.grad.clone() for p in enc.parameters()]}
        enc.zero_grad()
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    model = DDP(enc)
    part = slice(0, 5) if rank == 0 else slice(5, 8)                   # unequal batches: padded for the gather
    for weighting in ("uniform", "frequency"):
        loss, per = losses(model, part, weighting)
        loss.backward()                                                 # DDP averages the ranks' gradients
        r = out[weighting]
        r.update(loss=loss.item(), per_ddp={k: v.item() for k, v in per.items()}, grad_norm=float(sum(g.norm() for g in r["grads"])),
                 grad_diff=max(float((p.grad - g).abs().max()) for p, g in zip(model.module.parameters(), r.pop("grads"))))
        model.zero_grad()
    outs = [None, None]; dist.all_gather_object(outs, out)
    if rank == 0: json.dump(outs, open(sys.argv[1], "w"))
    dist.destroy_process_group()
''')


def test_region_itc_under_two_process_ddp_equals_single_process(tmp_path):
    for rank, got in enumerate(run_two_ranks(DDP_SCRIPT, tmp_path)):
        for weighting, g in got.items():
            assert sorted(g["per"]) == ["a", "b", "c"] and sorted(g["per_ddp"]) == ["a", "b", "c"], (rank, weighting, g)  # c: 1 + 1 samples
            assert all(abs(g["per_ddp"][k] - g["per"][k]) < 1e-5 for k in g["per"]), (rank, weighting, g)
            assert abs(g["loss"] - g["ref"]) < 1e-5, (rank, weighting, g)          # every rank: the single-process loss
            assert g["grad_norm"] > 1e-3 and g["grad_diff"] < 1e-5, (rank, weighting, g)   # DDP's mean gradient: the single-process one
