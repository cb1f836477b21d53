"""The 2D VQA ingest (`brainvlm.vqa2d`, chapter 03a) feeds the 2D image dataset of `04_data`: its records read back as
`(1, H, W)` images, palette PNGs through their palette and YBR DICOM frames as the same picture as their RGB twin."""
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from brainvlm.data import ConversationTokenizer, dataset_for, read_image_2d, train_tokenizer
from brainvlm.vqa2d import ingest_vqa, make_vqa_cohort, question_set, vqa_conversation


def test_synthetic_cohort_reads_as_image2d(tmp_path):
    make_vqa_cohort(tmp_path / "us", categories=("femur", "abdomen"), images_per_category=6, size=64)
    man = ingest_vqa(tmp_path / "us")
    qs = question_set("fetal_ultrasound")
    texts = [q.text for q in qs.questions] + [a for r in man for a in r["metadata"]["answers"].values()]
    tok = train_tokenizer(texts, tmp_path / "tok", vocab_size=400)
    ds = dataset_for(man, "image2d", ConversationTokenizer(tok, {"image2d": 16}), grid=(64, 64), split_turns=True)
    assert len(ds) == 8 * len(man)                                    # one sample per question of every image
    s = ds[0]
    assert s["pixel_values"]["image2d"].shape == (1, 64, 64)
    assert s["task_id"] == qs.questions[0].name
    png = np.asarray(Image.open(man.path_of(man[0], "image2d")), np.float32)
    assert np.array_equal(read_image_2d(man.path_of(man[0], "image2d")), png)


def _sheet(folder, names):
    answers = {f"Q{i}": "x" for i in range(1, 9)}
    pd.DataFrame([{"Image Name": n, **answers} for n in names]).to_csv(folder / "sheet.csv", index=False)


def test_palette_png_reads_through_its_palette(tmp_path):
    folder = tmp_path / "pal"; folder.mkdir()
    idx = np.arange(64, dtype=np.uint8).reshape(8, 8)
    im = Image.fromarray(idx, mode="P"); im.putpalette([v for i in range(256) for v in (255 - i,) * 3]); im.save(folder / "p.png")
    _sheet(folder, ["p.png"])
    man = ingest_vqa(tmp_path)
    assert man[0]["metadata"]["colour"] == "P"
    assert np.array_equal(read_image_2d(man.path_of(man[0], "image2d")), (255 - idx).astype(np.float32))


def test_ybr_ultrasound_frame_reads_as_its_rgb_twin(tmp_path):
    from pydicom.data import get_testdata_file
    files = {n: get_testdata_file(n) for n in ("US1_UNCR.dcm", "US1_J2KR.dcm")}
    if None in files.values(): pytest.skip(f"pydicom's test data lacks {[n for n, p in files.items() if p is None]}")
    folder = tmp_path / "us"; folder.mkdir()
    for n, p in files.items(): shutil.copy(p, folder / n)
    _sheet(folder, list(files))
    man = ingest_vqa(tmp_path)
    by_name = {r["metadata"]["image_name"]: r for r in man}
    assert by_name["US1_J2KR.dcm"]["metadata"]["colour"] == "YBR_RCT"
    rgb, ybr = (read_image_2d(man.path_of(by_name[n], "image2d")) for n in files)
    assert rgb.shape == (480, 640) and np.array_equal(rgb, ybr)


def test_conversation_keeps_question_names():
    qs = question_set("fetal_ultrasound")
    conv = vqa_conversation(qs, {q.name: f"answer {q.column}" for q in qs.questions})
    assert [t["kind"] for t in conv[::2]] == [q.name for q in qs.questions]
    assert [t["value"] for t in conv[1::2]] == [f"answer Q{i}" for i in range(1, 9)]
