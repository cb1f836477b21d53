"""Region geometry against the model side: `patch_overlap` orders patches as `brainvlm.embed.patchify` flattens them (the
region chapter may not import the embedding chapter, so the check lives here), and the regional cohort is the same
written by two worker processes as by one."""
import json

import numpy as np
import torch

from brainvlm.embed import patchify
from brainvlm.regions import make_regional_cohort, patch_overlap


def test_patch_overlap_matches_patchify():
    rng = np.random.default_rng(0)
    for shape, patch in (((8, 12, 4), (4, 3, 2)), ((6, 10), (3, 5))):
        labels = rng.integers(0, 4, shape)
        onehot = torch.from_numpy(np.stack([labels == r for r in range(1, 4)]).astype(np.float32))   # (R, *shape)
        expected = patchify(onehot[:, None], patch).mean(-1).numpy()       # (R, 1, *shape) -> (R, P, prod(patch)) -> (R, P)
        np.testing.assert_allclose(patch_overlap(labels, 3, patch), expected, rtol=0, atol=1e-6)


def test_regional_cohort_same_with_workers(tmp_path):
    kw = dict(split_sizes=(2, 1, 1), grid=16, progress=False, finding_rate=0.5)
    one, two = make_regional_cohort(tmp_path / "one", workers=1, **kw), make_regional_cohort(tmp_path / "two", workers=2, **kw)
    assert one["records"] == two["records"]
    for rec in one["records"]:
        for rel in (rec["modality_paths"]["T1"], rec["metadata"]["region_labels"]):
            assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes(), rel
    desc = json.loads((tmp_path / "two" / "dataset_description.json").read_text())
    assert desc["GeneratedBy"][0]["Config"]["preset"] == "brain-lobes"
