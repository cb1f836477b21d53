"""Bad-input cases of the data area: reading sources (`brainvlm.io`), the grid, intensity scaling, the cache, the
synthetic cohort writer (`brainvlm.synth`), the datasets (`brainvlm.data`) and the small things in `brainvlm.core`
(atomic writes, errors). Each case builds its bad input under the test's folder and calls brainvlm's API in-process;
see `tests/fuzz.py`."""
from __future__ import annotations
import gzip, json, os, pickle, shutil, stat, subprocess, sys, warnings
from pathlib import Path

import numpy as np
from fuzz import Case, Skipped, cohort

REC = "sub-0042"      # the record id the direct API cases pass, named in their errors


# ---------------------------------------------------------------- small builders
def _nii(path: Path, data, affine=None, dtype=None) -> Path:
    import nibabel as nib
    data = np.asarray(data if dtype is None else np.asarray(data).astype(dtype))
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, np.eye(4) if affine is None else affine), path)
    return path

def _blob(n: int = 8, value: float = 100.0, radius: float | None = None) -> np.ndarray:
    "An n³ volume with a ball of `value` in the middle (background 0)."
    x = np.indices((n, n, n)) - (n - 1) / 2
    return np.where((x ** 2).sum(0) <= (radius or n / 3) ** 2, value, 0.0).astype(np.float32)

def _prep(grid=(8, 8, 8), **kw):
    from brainvlm.io import Preprocessing
    return Preprocessing(grid, **kw)

def _preprocess(path, modality="T1", prep=None):
    from brainvlm.io import preprocess
    return preprocess(path, modality, prep or _prep(), REC)

def _cache(folder: Path):
    from brainvlm.io import VolumeCache
    return VolumeCache(folder / "cache")

def _text(conv, modality, record):
    "A stand-in for `ConversationTokenizer`: the datasets only need token tensors."
    import torch
    return {"input_ids": torch.tensor([1, 2]), "attention_mask": torch.ones(2, dtype=torch.long), "labels": torch.tensor([-100, 2])}

def _train(folder: Path):
    from brainvlm.cohorts import load_manifest
    c = cohort(folder)
    return c, load_manifest(c / "manifest_train.json")

def _path(manifest, i: int, modality: str) -> Path: return manifest.path_of(manifest[i], modality)

def _truncate(path: Path):
    b = path.read_bytes(); path.write_bytes(b[: len(b) // 2])

def _write_dicom_series(folder: Path, n: int = 4) -> Path:
    from brainvlm.io import write_ct_series
    return write_ct_series(np.zeros((n, 8, 8), np.int16) + 40, (1.0, 1.0, 2.0), folder)

def _dataset(cls_name: str, manifest, modality: str, **kw):
    import brainvlm.data as D
    return getattr(D, cls_name)(manifest, modality, _text, scaling="none", **kw)

def _skipped(ds) -> Skipped: return Skipped(len(ds.skipped), ds.skipped.summary())

def _dead_pid() -> int:
    "The pid of a process that has exited (and been reaped)."
    p = subprocess.Popen([sys.executable, "-c", "pass"]); p.wait()
    return p.pid


# ---------------------------------------------------------------- reading sources (already handled before #13)
def nifti_missing(folder):
    from brainvlm.io import load_volume
    return load_volume(folder / "missing.nii.gz", "T1", _prep(), record=REC)

def nifti_truncated(folder):
    p = _nii(folder / "t1.nii.gz", np.random.default_rng(0).normal(100, 10, (32, 32, 32)).astype(np.float32))
    _truncate(p)
    return _preprocess(p)

def nifti_garbage_gz(folder):
    p = folder / "t1.nii.gz"; p.write_bytes(b"this is not a nifti file at all" * 20)
    return _preprocess(p)

def nifti_garbage_nii(folder):
    p = folder / "t1.nii"; p.write_text("subject,age\nsub-1,42\n" * 30)
    return _preprocess(p)

def nifti_wrong_rank(folder):
    return _preprocess(_nii(folder / "run.nii.gz", np.ones((8, 8, 8, 3), np.float32)), "T1")

def nifti_wrong_rank_2d(folder):
    return _preprocess(_nii(folder / "slice.nii.gz", np.ones((8, 8), np.float32)), "rsfMRI")

def nifti_nan(folder):
    d = _blob(); d[2, 3, 4] = np.nan
    return _preprocess(_nii(folder / "t1.nii.gz", d))

def nifti_all_zero(folder):
    return _preprocess(_nii(folder / "t1.nii.gz", np.zeros((8, 8, 8), np.float32)))

def frames_gap(folder):
    import torch
    from brainvlm.io import read_source
    ff = folder / "frames"; ff.mkdir()
    for i in (0, 1, 3): torch.save(torch.ones(4, 4, 4), ff / f"frame_{i}.pt")
    return read_source(ff, "rsfMRI", REC)

def frames_bad_name(folder):
    import torch
    from brainvlm.io import read_source
    ff = folder / "frames"; ff.mkdir()
    torch.save(torch.ones(4, 4, 4), ff / "frame_0.pt"); torch.save(torch.ones(4, 4, 4), ff / "frame_one.pt")
    return read_source(ff, "rsfMRI", REC)

class _Evil:
    def __reduce__(self): return (print, ("this code ran while loading",))

def frames_unsafe_pickle(folder):
    import torch
    from brainvlm.io import read_source
    ff = folder / "frames"; ff.mkdir()
    torch.save(torch.ones(4, 4, 4), ff / "frame_0.pt")
    with open(ff / "frame_1.pt", "wb") as f: pickle.dump(_Evil(), f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_source(ff, "rsfMRI", REC)

def frames_not_3d(folder):
    import torch
    from brainvlm.io import read_source
    ff = folder / "frames"; ff.mkdir()
    torch.save(torch.ones(4, 4), ff / "frame_0.pt")
    return read_source(ff, "rsfMRI", REC)

def folder_unknown(folder):
    from brainvlm.io import read_source
    d = folder / "sub-5"; d.mkdir(); (d / "README.txt").write_text("scans to follow")
    return read_source(d, "CT", REC)

def dicom_two_series(folder):
    from brainvlm.io import read_dicom_series, write_ct_series
    d = _write_dicom_series(folder / "ct")
    other = write_ct_series(np.zeros((1, 8, 8), np.int16), (1, 1, 2), folder / "other")
    shutil.move(other / "IM0001.dcm", d / "IM0099.dcm")
    return read_dicom_series(d, REC)

def dicom_missing_slice(folder):
    from brainvlm.io import read_dicom_series
    d = _write_dicom_series(folder / "ct", 5); (d / "IM0003.dcm").unlink()
    return read_dicom_series(d, REC)

def dicom_mixed_shapes(folder):
    from brainvlm.io import read_dicom_series, write_ct_series
    d = write_ct_series(np.zeros((2, 8, 8), np.int16) + 40, (1, 1, 2), folder / "ct", series_uid="1.2.3")
    write_ct_series(np.zeros((1, 8, 6), np.int16) + 40, (1, 1, 2), folder / "other", series_uid="1.2.3")
    shutil.move(folder / "other" / "IM0001.dcm", d / "IM0009.dcm")
    return read_dicom_series(d, REC)

def dicom_corrupt_file(folder):
    from brainvlm.io import read_dicom_series
    d = _write_dicom_series(folder / "ct")
    f = d / "IM0002.dcm"; f.write_bytes(f.read_bytes()[:200])
    return read_dicom_series(d, REC)

def unknown_modality(folder):
    return _preprocess(_nii(folder / "t1.nii.gz", _blob()), "PET")


# ---------------------------------------------------------------- reading sources (#13 item 6)
def header_huge_gz(folder):
    "A .nii.gz whose header claims 2000³ int16 voxels (16 GB) over a few bytes of data."
    import nibabel as nib
    hdr = nib.Nifti1Header(); hdr.set_data_shape((2000, 2000, 2000)); hdr.set_data_dtype(np.int16); hdr.set_qform(np.eye(4), 1)
    p = folder / "huge.nii.gz"
    with gzip.open(p, "wb") as f:
        f.write(hdr.binaryblock); f.write(b"\0" * 4); f.write(np.ones(1000, np.int16).tobytes())
    return _preprocess(p)

def header_huge_nii(folder):
    "An uncompressed .nii whose header claims more voxel bytes than the file holds."
    import nibabel as nib
    hdr = nib.Nifti1Header(); hdr.set_data_shape((64, 64, 64)); hdr.set_data_dtype(np.float32); hdr.set_qform(np.eye(4), 1)
    p = folder / "short.nii"
    p.write_bytes(hdr.binaryblock + b"\0" * 4 + np.ones(1000, np.float32).tobytes())
    return _preprocess(p)

def header_huge_shape_only(folder):
    "`nifti_shape` (the header read every check uses) refuses the 2000³ header too."
    from brainvlm.io import nifti_shape
    import nibabel as nib
    hdr = nib.Nifti1Header(); hdr.set_data_shape((2000, 2000, 2000, 2)); hdr.set_data_dtype(np.int16)
    p = folder / "huge_run.nii.gz"
    with gzip.open(p, "wb") as f: f.write(hdr.binaryblock + b"\0" * 4)
    return nifti_shape(p, REC)

def voxel_cap_env(folder):
    "The voxel cap is BRAINVLM_MAX_VOXELS: a 16³ volume over a cap of 1000 voxels is refused, naming the variable."
    p = _nii(folder / "t1.nii.gz", _blob(16))
    old = os.environ.get("BRAINVLM_MAX_VOXELS"); os.environ["BRAINVLM_MAX_VOXELS"] = "1000"
    try: return _preprocess(p, prep=_prep((16, 16, 16)))
    finally:
        if old is None: del os.environ["BRAINVLM_MAX_VOXELS"]
        else: os.environ["BRAINVLM_MAX_VOXELS"] = old

def complex_nifti(folder):
    d = _blob().astype(np.complex64) * (1 + 1j)
    return _preprocess(_nii(folder / "t1.nii.gz", d))

def symlink_loop(folder):
    p = folder / "t1.nii.gz"; p.symlink_to(p)
    return _preprocess(p)

def symlink_loop_shape(folder):
    from brainvlm.io import nifti_shape
    p = folder / "run.nii.gz"; p.symlink_to(p)
    return nifti_shape(p, REC)

def symlink_broken(folder):
    p = folder / "t1.nii.gz"; p.symlink_to(folder / "gone" / "t1.nii.gz")
    return _preprocess(p)

def dir_named_nii_gz(folder):
    p = folder / "x.nii.gz"; p.mkdir()
    return _preprocess(p)

def dir_named_nii_gz_shape(folder):
    from brainvlm.io import nifti_shape
    p = folder / "x.nii.gz"; p.mkdir()
    return nifti_shape(p, REC)

def rgb_nifti(folder):
    import nibabel as nib
    rgb = np.zeros((8, 8, 8), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    p = folder / "t1.nii.gz"; nib.save(nib.Nifti1Image(rgb, np.eye(4)), p)
    return _preprocess(p)

def dicom_series_colour(folder):
    from pydicom.data import get_testdata_file
    from brainvlm.io import read_dicom_series
    d = folder / "us"; d.mkdir(); shutil.copy(get_testdata_file("OBXXXX1A.dcm"), d / "IM0001.dcm")
    return read_dicom_series(d, REC)

def dicom_series_multiframe(folder):
    from pydicom.data import get_testdata_file
    from brainvlm.io import read_dicom_series
    d = folder / "clip"; d.mkdir(); shutil.copy(get_testdata_file("emri_small.dcm"), d / "IM0001.dcm")
    return read_dicom_series(d, REC)


# ---------------------------------------------------------------- grid (#13 item 9)
def _wide(folder):
    "A 12³ volume whose foreground fills all of it, to fit an 8³ grid."
    return _nii(folder / "t1.nii.gz", np.full((12, 12, 12), 50.0, np.float32))

def grid_pad_too_large(folder):
    return _preprocess(_wide(folder), prep=_prep(grid_policy="pad"))

def grid_crop_too_small(folder):
    return _preprocess(_nii(folder / "t1.nii.gz", _blob(6)), prep=_prep(grid_policy="crop"))

def grid_center_crops_brain(folder):
    return _preprocess(_wide(folder), prep=_prep(grid_policy="center"))

def grid_crop_warns(folder):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        _preprocess(_wide(folder), prep=_prep(grid_policy="crop"))
    return [str(x.message) for x in w]

def check_crop_warns(folder, res):
    assert any("t1.nii.gz" in m and REC in m and "brain" in m for m in res), res

def grid_center_background_crop_ok(folder):
    "Cropping only background (a small ball in a big field) is fine under `center`."
    return _preprocess(_nii(folder / "t1.nii.gz", _blob(12, radius=3)), prep=_prep(grid_policy="center"))

def check_center_kept(folder, res):
    assert (res.data != 0).sum() == (_blob(12, radius=3) != 0).sum()

def grid_brain_keeps_all(folder):
    return _preprocess(_nii(folder / "t1.nii.gz", _blob(24, radius=10)), prep=_prep(grid_policy="brain"))

def check_brain_keeps_all(folder, res):
    assert res.shape == (8, 8, 8)
    src = _blob(24, radius=10)
    # the ball (diameter 21 voxels) shrinks isotropically into the grid: its extent fills the grid on each axis
    nz = np.argwhere(res.data > 0); ext = nz.max(0) - nz.min(0) + 1
    assert (ext >= 7).all() and ext.max() - ext.min() <= 1, ext
    # the affine maps the ball's centre to the same place in the world
    c = res.affine @ np.r_[(nz.min(0) + nz.max(0)) / 2, 1]
    assert np.allclose(c[:3], (np.array(src.shape) - 1) / 2, atol=1.5), c

def grid_brain_fits_unchanged(folder):
    p = _nii(folder / "t1.nii.gz", _blob(8))
    return _preprocess(p, prep=_prep(grid_policy="brain")), _preprocess(p, prep=_prep((12, 12, 12), grid_policy="brain")), \
        _preprocess(p, prep=_prep((12, 12, 12), grid_policy="center"))

def check_brain_fits_unchanged(folder, res):
    same, padded, center = res
    assert np.array_equal(same.data, _blob(8)) and np.allclose(same.affine, np.eye(4))
    assert np.array_equal(padded.data, center.data) and np.allclose(padded.affine, center.affine)

def grid_unknown_policy(folder):
    return _prep(grid_policy="fit")


# ---------------------------------------------------------------- intensity scaling (#13 item 4)
def scaling_without_stats(folder):
    return _prep(scaling="znorm_zeroback")

def scaling_unknown(folder):
    return _prep(scaling="zscore")

def ct_window_zero_width(folder):
    return _preprocess(_nii(folder / "ct.nii.gz", _blob()), "CT", _prep(scaling="ct_window", window=(40, 0)))

def _stats(**kw):
    from brainvlm.io import IntensityStats
    return IntensityStats(**{"mean": 100.0, "std": 10.0, "min": 0.0, "max": 200.0, **kw})

def stats_nan_mean(folder):
    return _preprocess(_nii(folder / "t1.nii.gz", _blob()), prep=_prep(scaling="znorm_zeroback", stats=_stats(mean=float("nan"))))

def stats_tiny_std(folder):
    return _preprocess(_nii(folder / "t1.nii.gz", _blob()), prep=_prep(scaling="znorm_minback", stats=_stats(std=1e-9)))

def stats_minmax_flat(folder):
    return _preprocess(_nii(folder / "t1.nii.gz", _blob()), prep=_prep(scaling="minmax", stats=_stats(min=5.0, max=5.0)))

def stats_inf_max(folder):
    return _preprocess(_nii(folder / "t1.nii.gz", _blob()), prep=_prep(scaling="minmax", stats=_stats(max=float("inf"))))


# ---------------------------------------------------------------- the cache (#13 items 1-5)
def cache_subject_id_escapes(folder):
    cache = _cache(folder)
    src = _nii(folder / "src" / "t1.nii.gz", _blob())
    return cache.put("SYNTH", "../../escaped", "T1", _prep(), src, REC)

def _check_inside(folder, npy, sid):
    root = (folder / "cache").resolve()
    assert Path(npy).resolve().is_relative_to(root), npy
    outside = [p for p in folder.rglob("*.npy") if not p.resolve().is_relative_to(root)]
    assert not outside, outside
    from brainvlm.io import VolumeCache
    assert VolumeCache(folder / "cache").meta(Path(npy))["subject_id"] == sid

def check_escapes(folder, npy): _check_inside(folder, npy, "../../escaped")

def cache_subject_id_absolute(folder):
    return _cache(folder).put("SYNTH", str(folder / "abs" / "x"), "T1", _prep(), _nii(folder / "t1.nii.gz", _blob()), REC)

def check_absolute(folder, npy):
    _check_inside(folder, npy, str(folder / "abs" / "x")); assert not (folder / "abs").exists()

def cache_subject_id_long(folder):
    return _cache(folder).put("SYNTH", "s" * 300, "T1", _prep(), _nii(folder / "t1.nii.gz", _blob()), REC)

def check_long(folder, npy): _check_inside(folder, npy, "s" * 300)

def cache_cohort_escapes(folder):
    return _cache(folder).put("../..", "sub-1", "T1", _prep(), _nii(folder / "t1.nii.gz", _blob()), REC)

def check_cohort_escapes(folder, npy): _check_inside(folder, npy, "sub-1")

def cache_fp16_overflow(folder):
    cache = _cache(folder); src = _nii(folder / "t1.nii.gz", _blob(value=1e5))
    npy = cache.put("SYNTH", "sub-1", "T1", _prep(), src, REC)
    return cache, npy

def check_fp16_overflow(folder, res):
    cache, npy = res
    out = cache.read(npy)
    assert out.dtype == np.float32 and np.isfinite(out).all() and out.max() == 1e5, (out.dtype, out.max())
    assert np.load(npy).dtype == np.float32 and cache.meta(npy)["dtype"] == "float32"

def cache_fp16_underflow(folder):
    cache = _cache(folder); src = _nii(folder / "md.nii.gz", _blob(value=3e-6))
    return cache, cache.put("SYNTH", "sub-1", "T1", _prep(), src, REC)

def check_fp16_underflow(folder, res):
    cache, npy = res
    out = cache.read(npy); assert np.isclose(out.max(), 3e-6, rtol=1e-6), out.max()

def cache_fp16_in_range(folder):
    cache = _cache(folder); src = _nii(folder / "t1.nii.gz", _blob(value=1000.0))
    return cache, cache.put("SYNTH", "sub-1", "T1", _prep(), src, REC)

def check_fp16_in_range(folder, res):
    cache, npy = res
    assert np.load(npy).dtype == np.float16 and cache.meta(npy)["dtype"] == "float16"

def cache_nonfinite_after_scaling(folder):
    "A scaling that makes Inf from finite data: the entry is refused before it is written."
    from brainvlm.io import SCALINGS, register_scaling
    def reciprocal(data, **_):
        with np.errstate(divide="ignore"): return (1.0 / (data - 100.0)).astype(np.float32)
    register_scaling("fuzz_reciprocal")(reciprocal)
    try: return _cache(folder).put("SYNTH", "sub-1", "T1", _prep(scaling="fuzz_reciprocal"), _nii(folder / "t1.nii.gz", _blob()), REC)
    finally: SCALINGS.pop("fuzz_reciprocal", None)

def check_nothing_cached(folder, res):
    assert not list((folder / "cache").rglob("*.npy")) if (folder / "cache").exists() else True

def _put_one(folder):
    cache = _cache(folder); src = _nii(folder / "t1.nii.gz", _blob(value=1000.0))
    prep = _prep(); npy = cache.put("SYNTH", "sub-1", "T1", prep, src, REC)
    return cache, prep, src, npy

def cache_bitflip(folder):
    cache, prep, src, npy = _put_one(folder)
    b = bytearray(npy.read_bytes()); b[-10] ^= 0x40; npy.write_bytes(bytes(b))
    return cache, cache.lookup("SYNTH", "sub-1", "T1", prep, src), cache.lookup("SYNTH", "sub-1", "T1", prep, src, verify=True), npy

def check_bitflip(folder, res):
    cache, fast, verified, npy = res
    assert fast == npy, "the fast lookup (no verify) serves the entry"
    assert verified is None, "a verified lookup finds the damage"
    assert [str(p) for p in cache.repaired] == [str(npy)], cache.repaired

def cache_truncated_npy(folder):
    cache, prep, src, npy = _put_one(folder)
    _truncate(npy)
    return cache.lookup("SYNTH", "sub-1", "T1", prep, src)

def check_none(folder, res): assert res is None, res

def cache_sidecar_garbage(folder):
    cache, prep, src, npy = _put_one(folder)
    npy.with_suffix(".json").write_text("{not json")
    return cache.lookup("SYNTH", "sub-1", "T1", prep, src)

def cache_source_changed(folder):
    cache, prep, src, npy = _put_one(folder)
    _nii(src, _blob(value=900.0))
    os.utime(src, ns=(src.stat().st_atime_ns, src.stat().st_mtime_ns + 10 ** 9))
    return cache.lookup("SYNTH", "sub-1", "T1", prep, src)

def cache_verify_good(folder):
    cache, prep, src, npy = _put_one(folder)
    return cache, cache.lookup("SYNTH", "sub-1", "T1", prep, src, verify=True), npy

def check_verify_good(folder, res):
    cache, got, npy = res
    assert got == npy and not cache.repaired
    assert "sha256" in cache.meta(npy), cache.meta(npy)

def cache_orphan_partials(folder):
    cache, prep, src, npy = _put_one(folder)
    from brainvlm.core import partial_path
    partial_path(npy, _dead_pid()).write_bytes(b"half")
    partial_path(npy, os.getpid()).write_bytes(b"being written")
    (npy.parent / ".old-style.npy.xyz.partial").write_bytes(b"no pid")      # written before pids were in the name
    return cache.clean_partials(), npy.parent

def check_orphan_partials(folder, res):
    n, d = res
    left = sorted(p.name for p in d.glob("*.partial"))
    assert n == 1 and len(left) == 2 and all(str(os.getpid()) in p or "old-style" in p for p in left), (n, left)

def umask_respected(folder):
    from brainvlm.core import write_json
    old = os.umask(0o022)
    try:
        write_json({"a": 1}, folder / "x.json")
        cache, prep, src, npy = _put_one(folder)
    finally: os.umask(old)
    return [folder / "x.json", npy, npy.with_suffix(".json")]

def check_umask(folder, files):
    modes = {str(f): oct(stat.S_IMODE(f.stat().st_mode)) for f in files}
    assert set(modes.values()) == {"0o644"}, modes

def umask_group_write(folder):
    from brainvlm.core import write_json
    old = os.umask(0o002)
    try: write_json({"a": 1}, folder / "x.json")
    finally: os.umask(old)
    return folder / "x.json"

def check_umask_group(folder, f): assert stat.S_IMODE(f.stat().st_mode) == 0o664, oct(f.stat().st_mode)

def partial_name_has_pid(folder):
    from brainvlm.core import atomic_write
    with atomic_write(folder / "x.bin") as f:
        f.write(b"1"); names = [p.name for p in folder.glob("*.partial")]
    return names

def check_partial_pid(folder, names):
    assert len(names) == 1 and f".x.bin.{os.getpid()}." in names[0] and names[0].endswith(".partial"), names
    assert not list(folder.glob("*.partial"))

def atomic_write_failure_cleans(folder):
    from brainvlm.core import atomic_write
    try:
        with atomic_write(folder / "x.bin") as f: f.write(b"1"); raise KeyboardInterrupt
    except KeyboardInterrupt: pass
    return sorted(p.name for p in folder.iterdir())

def check_nothing_left(folder, names): assert names == [], names


# ---------------------------------------------------------------- TR (#13 item 7)
def _tr_dataset(folder, tr, target_tr=0.8, on_error="raise"):
    from brainvlm.cohorts import load_manifest, register_cohorts
    c = cohort(folder)
    register_cohorts(f"cohorts:\n  SYNTH: {{rsfMRI: {{target_tr: {target_tr}}}}}\n")
    m = load_manifest(c / "manifest_train.json")
    m.records[0]["metadata"]["tr"] = tr          # after the manifest's own checks: the dataset must refuse it too
    try:
        return _dataset("FMRIWindowDataset", m, "rsfMRI", sequence_length=4, on_error=on_error)
    finally: register_cohorts("cohorts:\n  SYNTH: {rsfMRI: {target_tr: null}}\n")

def tr_negative(folder): return _tr_dataset(folder, -0.8)
def tr_zero(folder): return _tr_dataset(folder, 0)
def tr_string(folder): return _tr_dataset(folder, "2s")
def tr_nan(folder): return _tr_dataset(folder, float("nan"))
def tr_skip(folder): return _skipped(_tr_dataset(folder, -0.8, on_error="skip"))

def target_tr_negative(folder):
    from brainvlm.io import temporal_downsample_factor
    return temporal_downsample_factor(0.8, -1.44, record=REC)

def target_tr_string(folder):
    from brainvlm.io import temporal_downsample_factor
    return temporal_downsample_factor(0.8, "fast", record=REC)

def tr_good(folder):
    from brainvlm.io import temporal_downsample_factor
    return [temporal_downsample_factor(0.72, 1.44, record=REC), temporal_downsample_factor(2.0, 0.8, record=REC),
            temporal_downsample_factor(0.8, None, record=REC), temporal_downsample_factor(None, 0.8, record=REC)]

def check_tr_good(folder, res): assert res == [2, 1, 1, 1], res

def fmri_too_short(folder):
    _, train = _train(folder)
    return _dataset("FMRIWindowDataset", train, "rsfMRI", sequence_length=50)


# ---------------------------------------------------------------- 2D images and DICOM colour (#13 item 8)
def image2d_missing(folder):
    from brainvlm.data import read_image_2d
    return read_image_2d(folder / "us.png", record=REC)

def image2d_garbage(folder):
    from brainvlm.data import read_image_2d
    p = folder / "us.png"; p.write_bytes(b"\x89PNG not really")
    return read_image_2d(p, record=REC)

def image2d_frame_out_of_range(folder):
    from pydicom.data import get_testdata_file
    from brainvlm.data import read_image_2d
    return read_image_2d(get_testdata_file("OBXXXX1A_2frame.dcm"), frame=5, record=REC)

def dicom_palette(folder):
    from pydicom.data import get_testdata_file
    from brainvlm.data import read_image_2d
    from brainvlm.io import dicom_image
    import pydicom
    f = get_testdata_file("OBXXXX1A.dcm")
    return pydicom.dcmread(f), dicom_image(pydicom.dcmread(f), REC), read_image_2d(f, record=REC)

def check_palette(folder, res):
    from pydicom.pixels import apply_color_lut
    ds, img, grey = res
    rgb = apply_color_lut(ds.pixel_array, ds)
    assert img.shape == (1, 600, 800, 3) and np.array_equal(img[0], rgb.astype(np.float32)), img.shape
    assert np.allclose(grey, rgb.astype(np.float32).mean(-1)), "the grey image is the mean of the displayed colours"

def dicom_palette_multiframe(folder):
    from pydicom.data import get_testdata_file
    from brainvlm.data import read_image_2d
    import pydicom
    f = get_testdata_file("OBXXXX1A_2frame.dcm")
    return pydicom.dcmread(f), read_image_2d(f, frame=1, record=REC)

def check_palette_multiframe(folder, res):
    from pydicom.pixels import apply_color_lut
    ds, grey = res
    assert np.allclose(grey, apply_color_lut(ds.pixel_array[1], ds).astype(np.float32).mean(-1))

def dicom_ybr_full(folder):
    from pydicom.data import get_testdata_file
    from brainvlm.io import dicom_image
    import pydicom
    return [(pydicom.dcmread(get_testdata_file(n)), dicom_image(pydicom.dcmread(get_testdata_file(n)), REC))
            for n in ("SC_ybr_full_uncompressed.dcm", "SC_ybr_full_422_uncompressed.dcm")]

def check_ybr(folder, res):
    from pydicom.pixels import convert_color_space, pixel_array
    for ds, img in res:
        rgb = convert_color_space(pixel_array(ds, as_rgb=False), ds.PhotometricInterpretation, "RGB")
        assert np.array_equal(img[0], rgb.astype(np.float32)), ds.PhotometricInterpretation


# ---------------------------------------------------------------- the synthetic cohort writer (#13 item 10)
def _tiny_cfg():
    from brainvlm.synth import SynthConfig
    return SynthConfig(n=3, grid=8, fmri_grid=8, frames=4, dwi_directions=6, modalities=("T1",), cohort="SYNTH_TINY")

def synth_complete_refused(folder):
    from brainvlm.synth import make_cohort
    c = cohort(folder)
    return make_cohort(_tiny_cfg(), c, progress=False)

def synth_incomplete_rewritten(folder):
    "A cohort folder a killed `make_cohort` left (its marker names a dead pid) is removed and written again."
    import io, contextlib
    from brainvlm.synth import make_cohort, INCOMPLETE_MARKER
    out = folder / "synth"; (out / "sub-0001" / "anat").mkdir(parents=True)
    (out / "sub-0001" / "anat" / "stale.nii.gz").write_bytes(b"half")
    (out / INCOMPLETE_MARKER).write_text(json.dumps({"pid": _dead_pid(), "host": os.uname().nodename}))
    err = io.StringIO()
    with contextlib.redirect_stderr(err): make_cohort(_tiny_cfg(), out, progress=False)
    return out, err.getvalue()

def check_incomplete_rewritten(folder, res):
    from brainvlm.synth import INCOMPLETE_MARKER
    out, said = res
    assert (out / "dataset_description.json").exists() and not (out / INCOMPLETE_MARKER).exists()
    assert not (out / "sub-0001" / "anat" / "stale.nii.gz").exists()
    assert "incomplete" in said and str(out) in said, said

def synth_live_writer_refused(folder):
    from brainvlm.synth import make_cohort, INCOMPLETE_MARKER
    out = folder / "synth"; out.mkdir()
    (out / INCOMPLETE_MARKER).write_text(json.dumps({"pid": os.getpid(), "host": os.uname().nodename}))
    return make_cohort(_tiny_cfg(), out, progress=False)

def synth_foreign_folder_refused(folder):
    from brainvlm.synth import make_cohort
    out = folder / "mydata"; out.mkdir(); (out / "notes.txt").write_text("my notes")
    return make_cohort(_tiny_cfg(), out, progress=False, overwrite=True)

def check_foreign_kept(folder, res): assert (folder / "mydata" / "notes.txt").read_text() == "my notes"

def synth_marks_incomplete(folder):
    "While subjects are written the folder carries the marker, and dataset_description.json does not exist yet."
    import brainvlm.synth as S
    seen, real = [], S.write_subject
    def spy(cfg, i, out):
        seen.append(((Path(out) / S.INCOMPLETE_MARKER).exists(), (Path(out) / "dataset_description.json").exists()))
        return real(cfg, i, out)
    S.write_subject = spy
    try: S.make_cohort(_tiny_cfg(), folder / "synth", progress=False)
    finally: S.write_subject = real
    return seen

def check_marks_incomplete(folder, seen):
    assert seen and all(s == (True, False) for s in seen), seen
    assert (folder / "synth" / "dataset_description.json").exists()


# ---------------------------------------------------------------- datasets: skip carries into training (#13 items 11, 12)
def skip_preflight_cache(folder):
    c, train = _train(folder)
    _truncate(_path(train, 0, "T1"))
    ds = _dataset("VolumeDataset", train, "T1", cache=folder / "cache", on_error="skip")
    assert len(ds) == len(train) - 1 and all(ds[i]["pixel_values"]["T1"].shape == (1, 16, 16, 16) for i in range(len(ds)))
    return _skipped(ds)

def skip_preflight_no_cache(folder):
    c, train = _train(folder)
    _path(train, 1, "T1").write_bytes(b"not a nifti")
    ds = _dataset("VolumeDataset", train, "T1", on_error="skip")
    assert len(ds) == len(train) - 1
    return _skipped(ds)

def skip_preflight_wrong_rank(folder):
    c, train = _train(folder)
    shutil.copy(_path(train, 0, "rsfMRI"), _path(train, 0, "T1"))       # a 4D run where the T1 should be
    ds = _dataset("VolumeDataset", train, "T1", on_error="skip")
    return _skipped(ds)

def skip_preflight_fmri(folder):
    c, train = _train(folder)
    _truncate(_path(train, 0, "rsfMRI"))
    ds = _dataset("FMRIWindowDataset", train, "rsfMRI", sequence_length=4, cache=folder / "cache", on_error="skip")
    return _skipped(ds)

def raise_mode_no_preflight(folder):
    "Under on_error='raise' the dataset is built without reading the images (the error comes when the item is loaded)."
    c, train = _train(folder)
    _truncate(_path(train, 0, "T1"))
    ds = _dataset("VolumeDataset", train, "T1")
    return ds[0]

def worker_error_one_line(folder):
    from torch.utils.data import DataLoader
    c, train = _train(folder)
    _truncate(_path(train, 0, "T1"))
    ds = _dataset("VolumeDataset", train, "T1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in DataLoader(ds, batch_size=1, num_workers=1, collate_fn=lambda b: b): pass

def dataerror_pickles(folder):
    from brainvlm.core import DataError, ManifestError
    return [pickle.loads(pickle.dumps(cls("bad header", "/x/t1.nii.gz", "sub-1"))) for cls in (DataError, ManifestError)]

def check_pickles(folder, res):
    from brainvlm.core import DataError, ManifestError
    for e, cls in zip(res, (DataError, ManifestError)):
        assert type(e) is cls and (e.reason, e.file, e.record) == ("bad header", "/x/t1.nii.gz", "sub-1"), vars(e)
        assert str(e) == "record sub-1: /x/t1.nii.gz: bad header"

def dataerror_multiline_reason(folder):
    from brainvlm.core import DataError
    raise DataError("cannot decode\n  File 'x.py', line 3\nValueError: bad", "/x/img.dcm", "sub-1")

def skiplog_bad_policy(folder):
    from brainvlm.core import SkipLog
    return SkipLog("ignore")


# ---------------------------------------------------------------- reductions
def dwi_missing_bval(folder):
    p = _nii(folder / "dwi.nii.gz", np.stack([_blob()] * 4, -1))
    return _preprocess(p, "dMRI")

def dwi_bval_count(folder):
    p = _nii(folder / "dwi.nii.gz", np.stack([_blob()] * 4, -1))
    (folder / "dwi.bval").write_text("0 1000 1000\n"); (folder / "dwi.bvec").write_text("0 1 0\n0 0 1\n0 0 0\n")
    return _preprocess(p, "dMRI")


# ---------------------------------------------------------------- configuration files (brainvlm.core.load_config)
def _load_config(path, overrides=()):
    from brainvlm.core import load_config
    return load_config(path, overrides)

def config_missing(folder): return _load_config(folder / "train.yaml")
def config_is_folder(folder): return _load_config(folder)

def config_yaml_syntax(folder):
    (folder / "train.yaml").write_text("trainer:\n  max_steps: 10\n   learning_rate: 1e-3\n")
    return _load_config(folder / "train.yaml")

def config_not_utf8(folder):
    (folder / "train.yaml").write_bytes("run_name: Müller\n".encode("latin-1"))
    return _load_config(folder / "train.yaml")

def config_a_list(folder):
    (folder / "train.yaml").write_text("- trainer\n- model\n")
    return _load_config(folder / "train.yaml")

def config_override_without_value(folder): return _load_config(None, ["trainer.max_steps"])
def config_override_bad_yaml(folder): return _load_config(None, ["lora.target_modules=[q_proj,"])


# ---------------------------------------------------------------- more reading and settings
def image2d_folder(folder):
    from brainvlm.data import read_image_2d
    d = folder / "us.png"; d.mkdir()
    return read_image_2d(d, record=REC)

def image2d_negative_frame(folder):
    from pydicom.data import get_testdata_file
    from brainvlm.data import read_image_2d
    return read_image_2d(get_testdata_file("OBXXXX1A_2frame.dcm"), frame=-1, record=REC)

def frames_symlink_loop(folder):
    from brainvlm.io import FrameFolder
    p = folder / "frames"; p.symlink_to(p)
    return FrameFolder(p, REC)

def dicom_series_missing(folder):
    from brainvlm.io import read_dicom_series
    return read_dicom_series(folder / "ct", REC)

def dicom_series_loop(folder):
    from brainvlm.io import read_dicom_series
    p = folder / "ct"; p.symlink_to(p)
    return read_dicom_series(p, REC)

def voxel_cap_not_a_number(folder):
    p = _nii(folder / "t1.nii.gz", _blob())
    old = os.environ.get("BRAINVLM_MAX_VOXELS"); os.environ["BRAINVLM_MAX_VOXELS"] = "lots"
    try: return _preprocess(p)
    finally:
        if old is None: del os.environ["BRAINVLM_MAX_VOXELS"]
        else: os.environ["BRAINVLM_MAX_VOXELS"] = old

def dwi_map_unknown(folder): return _prep(dwi_map="ad")

def fmri_window_zero_length(folder):
    from brainvlm.io import fmri_windows
    return fmri_windows(100, 0)

def synth_out_is_a_file(folder):
    from brainvlm.synth import make_cohort
    (folder / "cohort").write_text("not a folder")
    return make_cohort(_tiny_cfg(), folder / "cohort", progress=False)

def skip_preflight_huge_header(folder):
    "A header claiming 2000³ voxels is skipped under on_error='skip' without a cache, before anything is allocated."
    import nibabel as nib
    c, train = _train(folder)
    hdr = nib.Nifti1Header(); hdr.set_data_shape((2000, 2000, 2000)); hdr.set_data_dtype(np.int16)
    with gzip.open(_path(train, 0, "T1"), "wb") as f: f.write(hdr.binaryblock + b"\0" * 4)
    return _skipped(_dataset("VolumeDataset", train, "T1", on_error="skip"))

def image2d_skip_preflight(folder):
    "An unreadable 2D image is skipped when the dataset is built under on_error='skip'."
    import torch
    from brainvlm.cohorts import Manifest
    from brainvlm.data import Image2DDataset
    from PIL import Image
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(folder / "good.png")
    (folder / "bad.png").write_bytes(b"not a png")
    conv = [{"from": "human", "value": "<image>\nWhat is this?"}, {"from": "gpt", "value": "an image"}]
    recs = [{"subject_id": f"img-{k}", "cohort": "ABCD", "split": "train", "modality_paths": {"image2d": f"{k}.png"},
             "conversations": conv, "metadata": {}} for k in ("good", "bad")]
    ds = Image2DDataset(Manifest(recs, folder), "image2d", _text, grid=(16, 16), on_error="skip")
    assert len(ds) == 1 and ds[0]["pixel_values"]["image2d"].shape == (1, 16, 16)
    return _skipped(ds)


CASES = [
    # already handled before #13 (kept handled)
    Case("data-nifti-missing", nifti_missing, "error", ("file not found", "missing.nii.gz", REC)),
    Case("data-nifti-truncated", nifti_truncated, "error", ("truncated or corrupt", "t1.nii.gz", REC)),
    Case("data-nifti-garbage-gz", nifti_garbage_gz, "error", ("not a readable NIfTI", "t1.nii.gz", REC)),
    Case("data-nifti-garbage-nii", nifti_garbage_nii, "error", ("not a readable NIfTI", "t1.nii", REC)),
    Case("data-nifti-wrong-rank", nifti_wrong_rank, "error", ("T1 needs a 3D image", "run.nii.gz", REC)),
    Case("data-nifti-wrong-rank-2d", nifti_wrong_rank_2d, "error", ("rsfMRI needs a 4D image", "slice.nii.gz", REC)),
    Case("data-nifti-nan", nifti_nan, "error", ("NaN/Inf", "t1.nii.gz", REC)),
    Case("data-nifti-all-zero", nifti_all_zero, "error", ("all voxels are zero", "t1.nii.gz", REC)),
    Case("data-frames-gap", frames_gap, "error", ("without gaps", "frames", REC)),
    Case("data-frames-bad-name", frames_bad_name, "error", ("frame_one.pt", REC)),
    Case("data-frames-unsafe-pickle", frames_unsafe_pickle, "error", ("weights_only=True", "frame_1.pt", REC)),
    Case("data-frames-not-3d", frames_not_3d, "error", ("not a 3D tensor", "frame_0.pt", REC)),
    Case("data-folder-unknown", folder_unknown, "error", ("no reader knows this folder", "README.txt", REC)),
    Case("data-dicom-two-series", dicom_two_series, "error", ("2 DICOM series", "ct", REC)),
    Case("data-dicom-missing-slice", dicom_missing_slice, "error", ("uneven slice spacing", "ct", REC)),
    Case("data-dicom-mixed-shapes", dicom_mixed_shapes, "error", ("mixed shapes", "ct", REC)),
    Case("data-dicom-corrupt-file", dicom_corrupt_file, "error", ("IM0002.dcm", REC)),
    Case("data-unknown-modality", unknown_modality, "error", ("unknown modality 'PET'", REC)),
    Case("data-grid-pad-too-large", grid_pad_too_large, "error", ("larger than the grid", "t1.nii.gz", REC)),
    Case("data-grid-crop-too-small", grid_crop_too_small, "error", ("smaller than the grid", "t1.nii.gz", REC)),
    Case("data-scaling-without-stats", scaling_without_stats, "error", ("znorm_zeroback", "brainvlm stats")),
    Case("data-ct-window-zero-width", ct_window_zero_width, "error", ("window width must be positive",)),
    Case("data-dwi-missing-bval", dwi_missing_bval, "error", ("without its .bval file", "dwi.bval", REC)),
    Case("data-dwi-bval-count", dwi_bval_count, "error", ("3 b-values for 4 volumes", "dwi.bval", REC)),
    Case("data-cache-truncated-npy", cache_truncated_npy, "ok", check=check_none),
    Case("data-cache-sidecar-garbage", cache_sidecar_garbage, "ok", check=check_none),
    Case("data-cache-source-changed", cache_source_changed, "ok", check=check_none),
    Case("data-image2d-missing", image2d_missing, "error", ("file not found", "us.png", REC)),
    Case("data-image2d-garbage", image2d_garbage, "error", ("cannot read image", "us.png", REC)),
    Case("data-image2d-frame-out-of-range", image2d_frame_out_of_range, "error", ("frame 5", "OBXXXX1A_2frame.dcm", REC)),
    Case("data-fmri-too-short", fmri_too_short, "error", ("shorter than one window", "sub-")),
    Case("data-atomic-write-failure-cleans", atomic_write_failure_cleans, "ok", check=check_nothing_left),
    Case("data-skiplog-bad-policy", skiplog_bad_policy, "error", ("on_error", "'ignore'")),
    Case("data-grid-unknown-policy", grid_unknown_policy, "error", ("grid_policy", "'fit'", "brain")),
    Case("data-scaling-unknown", scaling_unknown, "error", ("scaling", "'zscore'")),
    # item 1: umask, partial names
    Case("data-umask-022", umask_respected, "ok", check=check_umask),
    Case("data-umask-002", umask_group_write, "ok", check=check_umask_group),
    Case("data-partial-name-has-pid", partial_name_has_pid, "ok", check=check_partial_pid),
    # item 2: orphan partials
    Case("data-cache-orphan-partials", cache_orphan_partials, "ok", check=check_orphan_partials),
    # item 3: cache paths from a hash
    Case("data-cache-subject-id-escapes", cache_subject_id_escapes, "ok", check=check_escapes),
    Case("data-cache-subject-id-absolute", cache_subject_id_absolute, "ok", check=check_absolute),
    Case("data-cache-subject-id-300-chars", cache_subject_id_long, "ok", check=check_long),
    Case("data-cache-cohort-escapes", cache_cohort_escapes, "ok", check=check_cohort_escapes),
    # item 4: non-finite values, fp16 range, statistics
    Case("data-cache-fp16-overflow", cache_fp16_overflow, "ok", check=check_fp16_overflow),
    Case("data-cache-fp16-underflow", cache_fp16_underflow, "ok", check=check_fp16_underflow),
    Case("data-cache-fp16-in-range", cache_fp16_in_range, "ok", check=check_fp16_in_range),
    Case("data-cache-nonfinite-after-scaling", cache_nonfinite_after_scaling, "error", ("NaN/Inf", "t1.nii.gz", REC),
         check=check_nothing_cached),
    Case("data-stats-nan-mean", stats_nan_mean, "error", ("statistics", "mean", "t1.nii.gz", REC)),
    Case("data-stats-tiny-std", stats_tiny_std, "error", ("statistics", "std", "t1.nii.gz", REC)),
    Case("data-stats-minmax-flat", stats_minmax_flat, "error", ("statistics", "max", "t1.nii.gz", REC)),
    Case("data-stats-inf-max", stats_inf_max, "error", ("statistics", "max", "t1.nii.gz", REC)),
    # item 5: corrupt entries
    Case("data-cache-bitflip", cache_bitflip, "ok", check=check_bitflip),
    Case("data-cache-verify-good", cache_verify_good, "ok", check=check_verify_good),
    # item 6: reading
    Case("data-header-huge-gz", header_huge_gz, "error", ("2000", "BRAINVLM_MAX_VOXELS", "huge.nii.gz", REC)),
    Case("data-header-huge-nii", header_huge_nii, "error", ("truncated", "short.nii", REC)),
    Case("data-header-huge-shape", header_huge_shape_only, "error", ("BRAINVLM_MAX_VOXELS", "huge_run.nii.gz", REC)),
    Case("data-voxel-cap-env", voxel_cap_env, "error", ("BRAINVLM_MAX_VOXELS", "t1.nii.gz", REC)),
    Case("data-complex-nifti", complex_nifti, "error", ("complex", "t1.nii.gz", REC)),
    Case("data-rgb-nifti", rgb_nifti, "error", ("t1.nii.gz", REC)),
    Case("data-symlink-loop", symlink_loop, "error", ("symbolic link loop", "t1.nii.gz", REC)),
    Case("data-symlink-loop-shape", symlink_loop_shape, "error", ("symbolic link loop", "run.nii.gz", REC)),
    Case("data-symlink-broken", symlink_broken, "error", ("broken symbolic link", "t1.nii.gz", REC)),
    Case("data-dir-named-nii-gz", dir_named_nii_gz, "error", ("x.nii.gz", REC)),
    Case("data-dir-named-nii-gz-shape", dir_named_nii_gz_shape, "error", ("folder", "x.nii.gz", REC)),
    Case("data-dicom-series-colour", dicom_series_colour, "error", ("PALETTE COLOR", "IM0001.dcm", REC)),
    Case("data-dicom-series-multiframe", dicom_series_multiframe, "error", ("multi-frame", "10 frames", "IM0001.dcm", REC)),
    # item 7: TR
    Case("data-tr-negative", tr_negative, "error", ("TR", "-0.8", "sub-")),
    Case("data-tr-zero", tr_zero, "error", ("TR", "sub-")),
    Case("data-tr-string", tr_string, "error", ("TR", "'2s'", "sub-")),
    Case("data-tr-nan", tr_nan, "error", ("TR", "nan", "sub-")),
    Case("data-tr-skip", tr_skip, "skip", ("TR", "-0.8")),
    Case("data-target-tr-negative", target_tr_negative, "error", ("target TR", "-1.44", REC)),
    Case("data-target-tr-string", target_tr_string, "error", ("target TR", "'fast'", REC)),
    Case("data-tr-good", tr_good, "ok", check=check_tr_good),
    # item 8: DICOM photometric interpretation
    Case("data-dicom-palette", dicom_palette, "ok", check=check_palette),
    Case("data-dicom-palette-multiframe", dicom_palette_multiframe, "ok", check=check_palette_multiframe),
    Case("data-dicom-ybr", dicom_ybr_full, "ok", check=check_ybr),
    # item 9: the grid keeps the brain
    Case("data-grid-center-crops-brain", grid_center_crops_brain, "error", ("t1.nii.gz", REC, "brain", "%")),
    Case("data-grid-crop-warns", grid_crop_warns, "ok", check=check_crop_warns),
    Case("data-grid-center-background-only", grid_center_background_crop_ok, "ok", check=check_center_kept),
    Case("data-grid-brain-keeps-all", grid_brain_keeps_all, "ok", check=check_brain_keeps_all),
    Case("data-grid-brain-fits-unchanged", grid_brain_fits_unchanged, "ok", check=check_brain_fits_unchanged),
    # item 10: the synthetic cohort writer
    Case("data-synth-complete-refused", synth_complete_refused, "error", ("already holds a cohort", "cohort")),
    Case("data-synth-incomplete-rewritten", synth_incomplete_rewritten, "ok", check=check_incomplete_rewritten),
    Case("data-synth-live-writer-refused", synth_live_writer_refused, "error", ("synth", str(os.getpid()))),
    Case("data-synth-foreign-folder-refused", synth_foreign_folder_refused, "error", ("mydata", "brainvlm did not write"),
         check=check_foreign_kept),
    Case("data-synth-marks-incomplete", synth_marks_incomplete, "ok", check=check_marks_incomplete),
    # item 11: skip carries into training
    Case("data-skip-preflight-cache", skip_preflight_cache, "skip", ("sub-", "truncated or corrupt")),
    Case("data-skip-preflight-no-cache", skip_preflight_no_cache, "skip", ("sub-", "not a readable NIfTI")),
    Case("data-skip-preflight-wrong-rank", skip_preflight_wrong_rank, "skip", ("sub-", "T1 needs a 3D image")),
    Case("data-skip-preflight-fmri", skip_preflight_fmri, "skip", ("sub-", "truncated or corrupt")),
    Case("data-raise-mode-no-preflight", raise_mode_no_preflight, "error", ("truncated or corrupt", "sub-")),
    # item 12: one line from a DataLoader worker
    Case("data-worker-error-one-line", worker_error_one_line, "error", ("truncated or corrupt", "sub-", "T1w.nii.gz", "worker")),
    Case("data-dataerror-pickles", dataerror_pickles, "ok", check=check_pickles),
    Case("data-dataerror-multiline-reason", dataerror_multiline_reason, "error", ("cannot decode", "img.dcm", "sub-1")),
    # configuration files (core)
    Case("data-config-missing", config_missing, "error", ("config file not found", "train.yaml")),
    Case("data-config-is-folder", config_is_folder, "error", ("a folder, not a YAML config",)),
    Case("data-config-yaml-syntax", config_yaml_syntax, "error", ("not valid YAML at line 3", "train.yaml")),
    Case("data-config-not-utf8", config_not_utf8, "error", ("not UTF-8", "train.yaml")),
    Case("data-config-a-list", config_a_list, "error", ("must be a mapping", "train.yaml")),
    Case("data-config-override-without-value", config_override_without_value, "error", ("'trainer.max_steps'", "key.path=value")),
    Case("data-config-override-bad-yaml", config_override_bad_yaml, "error", ("lora.target_modules", "not valid YAML")),
    # more reading and settings
    Case("data-image2d-folder", image2d_folder, "error", ("a folder, not an image file", "us.png", REC)),
    Case("data-image2d-negative-frame", image2d_negative_frame, "error", ("frame -1", "OBXXXX1A_2frame.dcm", REC)),
    Case("data-frames-symlink-loop", frames_symlink_loop, "error", ("symbolic link loop", "frames", REC)),
    Case("data-dicom-series-missing", dicom_series_missing, "error", ("file not found", "ct", REC)),
    Case("data-dicom-series-loop", dicom_series_loop, "error", ("symbolic link loop", "ct", REC)),
    Case("data-voxel-cap-not-a-number", voxel_cap_not_a_number, "error", ("BRAINVLM_MAX_VOXELS", "'lots'")),
    Case("data-dwi-map-unknown", dwi_map_unknown, "error", ("dwi_map", "'ad'")),
    Case("data-fmri-window-zero-length", fmri_window_zero_length, "error", ("sequence_length",)),
    Case("data-synth-out-is-a-file", synth_out_is_a_file, "error", ("cohort", "is a file, not a folder")),
    Case("data-skip-preflight-huge-header", skip_preflight_huge_header, "skip", ("sub-", "BRAINVLM_MAX_VOXELS")),
    Case("data-image2d-skip-preflight", image2d_skip_preflight, "skip", ("img-bad", "bad.png")),
]
