"""Bad inputs of the manifest contract, BIDS ingestion, cohort presets, intensity statistics, caching a manifest, split
leakage and the data commands of the command line (`02_cohorts`, `08_launch`): each ends as one line naming the file
and the record or key, or as a counted skip where the user chose skip (see `fuzz.py`)."""
from __future__ import annotations
import contextlib, errno, io, json, re, shutil
from pathlib import Path
from unittest import mock

import numpy as np

from fuzz import Case, Skipped, cli, cohort

SMALL = ["--n", "4", "--grid", "16", "--fmri-grid", "16", "--frames", "8", "--dwi-directions", "6", "--workers", "1"]
STATS = {"SYNTH": {"T1": {"mean": 100.0, "std": 30.0, "min": 0.0, "max": 400.0},
                   "rsfMRI": {"mean": 100.0, "std": 30.0, "min": 0.0, "max": 400.0}}}


# ---------------------------------------------------------------- helpers
def _records(c: Path, split: str = "train") -> list[dict]: return json.loads((c / f"manifest_{split}.json").read_text())

def _bad_manifest(folder: Path, change, name: str = "bad.json") -> Path:
    "The synthetic cohort's training manifest with `change(records)` applied, written as `cohort/NAME` (cohort copied if not yet)."
    c = folder / "cohort"
    if not c.exists(): cohort(folder)
    recs = _records(c)
    change(recs)
    (c / name).write_text(json.dumps(recs))
    return c / name

def _load_bad(change, **kw):
    "A case that loads a manifest whose first record was changed by `change(record)`."
    def run(folder):
        from brainvlm.cohorts import load_manifest
        return load_manifest(_bad_manifest(folder, lambda recs: change(recs[0])), **kw)
    return run

def _first_id(folder: Path) -> str: return _records(folder / "cohort")[0]["subject_id"]

def _set(key, value):
    def change(rec): rec[key] = value
    return change

def _paths(value: dict):
    def change(rec): rec["modality_paths"] = value
    return change

def _stats_file(folder: Path, obj, name: str = "stats.json") -> Path:
    p = folder / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return p

def _stdout(*argv) -> str:
    "Run `brainvlm ARGV` in-process; its standard output (an error still raises as in `fuzz.cli`)."
    out = io.StringIO()
    with contextlib.redirect_stdout(out): cli(*argv)
    return out.getvalue()

def _skipped_in(text: str) -> Skipped:
    "The skips a command printed (`skipped N` lines of its summaries), as `Skipped`."
    return Skipped(sum(int(n) for n in re.findall(r"skipped (\d+):", text)), text)

def _truncate_t1(c: Path, split: str = "train") -> tuple[str, Path]:
    rec = _records(c, split)[0]
    t1 = c / rec["modality_paths"]["T1"]; t1.write_bytes(t1.read_bytes()[:200])
    return rec["subject_id"], t1


# ---------------------------------------------------------------- the manifest file and its records
def manifest_missing(folder):
    from brainvlm.cohorts import load_manifest
    return load_manifest(folder / "manifest_train.json")

def manifest_text(text: bytes | str):
    def run(folder):
        from brainvlm.cohorts import load_manifest
        c = cohort(folder)
        (c / "bad.json").write_bytes(text if isinstance(text, bytes) else text.encode())
        return load_manifest(c / "bad.json")
    return run

def manifest_is_directory(folder):
    from brainvlm.cohorts import load_manifest
    c = cohort(folder); (c / "dir.json").mkdir()
    return load_manifest(c / "dir.json")

def cli_manifest_is_directory(folder):
    c = cohort(folder); (c / "dir.json").mkdir()
    return cli("cache", str(c / "dir.json"), "--cache", str(folder / "cache"))

def manifest_duplicate(folder):
    from brainvlm.cohorts import load_manifest
    return load_manifest(_bad_manifest(folder, lambda recs: recs.append(dict(recs[0]))))

def manifest_skip_counts(folder):
    from brainvlm.cohorts import load_manifest
    def change(recs):
        recs[0]["modality_paths"] = {"PET": "x.nii.gz"}; recs[1]["split"] = "holdout"
    m = load_manifest(_bad_manifest(folder, change), on_error="skip")
    assert len(m) == len(_records(folder / "cohort")) - 2
    return Skipped(len(m.skipped), m.skipped.summary())

def write_refuses_bad_record(folder):
    from brainvlm.cohorts import write_manifest
    c = cohort(folder); rec = {**_records(c)[0], "modality_paths": {"T1": "../../outside.nii.gz"}}
    return write_manifest([rec], c / "written.json")

def symlink_loop(folder):
    from brainvlm.cohorts import load_manifest
    c = cohort(folder)
    (c / "loop-a.nii.gz").symlink_to(c / "loop-b.nii.gz"); (c / "loop-b.nii.gz").symlink_to(c / "loop-a.nii.gz")
    return load_manifest(_bad_manifest(folder, lambda recs: recs[0].update(modality_paths={"T1": "loop-a.nii.gz"})))


# ---------------------------------------------------------------- subject ids and cohort names are safe names
def cache_escaping_id(sid):
    "`brainvlm cache` on a record whose subject id (`sid(folder)`) would leave the cache folder; nothing may be written outside it."
    def run(folder):
        sid_ = sid(folder)
        def change(recs):
            recs[:] = [{**recs[0], "subject_id": sid_, "modality_paths": {"dMRI": recs[0]["modality_paths"]["dMRI"]}}]
        m = _bad_manifest(folder, change)
        return cli("cache", str(m), "--cache", str(folder / "cache"))
    return run

def nothing_outside_cache(folder, res):
    written = [p for p in folder.rglob("*.npy") if not p.is_relative_to(folder / "cache")]
    assert not written, f"written outside the cache: {written}"

def ingest_unsafe_folder(folder):
    "A BIDS subject folder copied by a file manager (`sub-0001 copy`): its id is not a safe name; skipped and counted."
    from brainvlm.cohorts import ingest_bids
    c = cohort(folder)
    shutil.copytree(c / "sub-0001", c / "sub-0001 copy")
    tsv = c / "participants.tsv"; rows = tsv.read_text().splitlines()
    tsv.write_text("\n".join(rows + ["sub-0001 copy" + rows[1][len("sub-0001"):]]) + "\n")
    res = ingest_bids(c, "HCP", out_dir=folder / "m", on_error="skip")
    return Skipped(len(res["skipped"]), res["skipped"].summary())

def register_unsafe_cohort(folder):
    from brainvlm.cohorts import register_cohorts
    return register_cohorts("cohorts:\n  '../x': {T1: {grid: [16, 16, 16]}}")


# ---------------------------------------------------------------- repetition times: sidecars, records, presets
def _sidecar(c: Path) -> Path: return c / "sub-0001" / "func" / "sub-0001_task-rest_bold.json"

def sidecar(text: str, on_error: str = "raise"):
    def run(folder):
        from brainvlm.cohorts import ingest_bids
        c = cohort(folder); _sidecar(c).write_text(text)
        res = ingest_bids(c, "HCP", out_dir=folder / "m", on_error=on_error)
        return Skipped(len(res["skipped"]), res["skipped"].summary())
    return run

def _meta_tr(value):
    def change(rec): rec["metadata"]["tr"] = value
    return change

def preset(text: str):
    def run(folder):
        from brainvlm.cohorts import register_cohorts
        (folder / "presets.yaml").write_text(text)
        return register_cohorts(folder / "presets.yaml")
    return run


# ---------------------------------------------------------------- intensity statistics
def stats_file(obj):
    def run(folder):
        from brainvlm.cohorts import load_stats
        return load_stats(_stats_file(folder, obj))
    return run

def stats_missing(folder):
    from brainvlm.cohorts import load_stats
    return load_stats(folder / "nope.json")

def stats_bytes(folder):
    from brainvlm.cohorts import load_stats
    (folder / "stats.json").write_bytes(b"\xff\xfe{\x00")
    return load_stats(folder / "stats.json")

def stats_is_directory(folder):
    from brainvlm.cohorts import load_stats
    (folder / "stats.json").mkdir()
    return load_stats(folder / "stats.json")

def cli_cache_bad_stats(folder):
    c = cohort(folder)
    p = _stats_file(folder, {"SYNTH": {**STATS["SYNTH"], "T1": {**STATS["SYNTH"]["T1"], "mean": float("nan")}}})
    return cli("cache", str(c / "manifest_train.json"), "--cache", str(folder / "cache"), "--stats", str(p))

def stats_bad_image(on_error: str):
    def run(folder):
        c = cohort(folder); _truncate_t1(c)
        return _skipped_in(_stdout("stats", str(c / "manifest_train.json"), "--out", str(folder / "s.json"), "--on-error", on_error))
    return run

def stats_api_skip(folder):
    from brainvlm.cohorts import load_manifest, compute_cohort_stats
    from brainvlm.core import SkipLog
    c = cohort(folder); _truncate_t1(c)
    log = SkipLog("skip")
    stats = compute_cohort_stats(load_manifest(c / "manifest_train.json"), progress=False, skipped=log)
    assert stats["SYNTH"]["T1"]["n_volumes"] == len(_records(c)) - 1, stats
    return Skipped(len(log), log.summary())

def stats_unknown_cohort(folder):
    from brainvlm.cohorts import load_manifest, compute_cohort_stats
    m = load_manifest(_bad_manifest(folder, lambda recs: recs[0].update(cohort="NOPE")))
    return compute_cohort_stats(m, progress=False)


# ---------------------------------------------------------------- caching a manifest
def cache_args(c: Path, folder: Path, *extra) -> list[str]:
    return [str(c / "manifest_train.json"), "--cache", str(folder / "cache"), "--stats", str(_stats_file(folder, STATS)), *extra]

def cache_no_stats(folder):
    c = cohort(folder)
    return cli("cache", str(c / "manifest_train.json"), "--cache", str(folder / "cache"))

def cache_bad_image(on_error: str):
    def run(folder):
        c = cohort(folder); _truncate_t1(c)
        return _skipped_in(_stdout("cache", *cache_args(c, folder, "--on-error", on_error)))
    return run

def cache_dir_named_nifti(folder):
    c = cohort(folder); (c / "x.nii.gz").mkdir()
    m = _bad_manifest(folder, lambda recs: recs[0]["modality_paths"].update(T1="x.nii.gz"))
    return cli("cache", str(m), "--cache", str(folder / "cache"), "--stats", str(_stats_file(folder, STATS)))

def disk_full(on_error: str):
    "The disk fills up while `cache` writes its third entry: stop cleanly (even under skip), naming the record."
    def run(folder):
        c = cohort(folder); real, calls = np.save, []
        def save(*a, **kw):
            calls.append(1)
            if len(calls) >= 3: raise OSError(errno.ENOSPC, "No space left on device")
            return real(*a, **kw)
        with mock.patch("numpy.save", save): return _stdout("cache", *cache_args(c, folder, "--on-error", on_error))
    return run

def two_entries_cached(folder, res):
    left = [p.name for p in (folder / "cache").rglob("*") if p.is_file() and p.suffix not in (".npy", ".json")]
    assert not left, f"partial files left: {left}"
    test_n = len(list((folder / "cache").rglob("*.npy")))
    assert test_n == 2, f"{test_n} entries in the cache, expected the 2 written before the disk filled"

def cache_corrupt_entry(folder):
    "A bit flipped in a cached entry (same size): `cache` verifies checksums, rewrites it and says so."
    from brainvlm.cohorts import load_manifest, cache_manifest
    c = cohort(folder); m = load_manifest(c / "manifest_train.json")
    first = cache_manifest(m, folder / "cache", STATS, progress=False)
    npy = sorted((folder / "cache").rglob("*.npy"))[0]
    b = bytearray(npy.read_bytes()); b[-3] ^= 0x40; npy.write_bytes(bytes(b))
    return {"first": first, "again": cache_manifest(m, folder / "cache", STATS, progress=False)}

def one_repaired(folder, res):
    again = res["again"]
    assert again.get("repaired") == 1 and again["reused"] == res["first"]["cached"] - 1, again

def killed_writer(path: Path):
    "A process that dies (SIGKILL) while `atomic_write` writes `path`: it leaves its partial file behind."
    import subprocess, sys
    subprocess.run([sys.executable, "-c", "import os; from brainvlm.core import atomic_write; "
                    f"w = atomic_write({str(path)!r}); w.__enter__().write(b'half'); os.kill(os.getpid(), 9)"], check=False)

def cache_orphan_partial(folder):
    "`cache` after a killed `cache`: the orphan partial file is removed and reported; nothing else changes."
    c = cohort(folder); args = cache_args(c, folder)
    _stdout("cache", *args)
    npy = sorted((folder / "cache").rglob("*.npy"))[0]
    killed_writer(npy)
    assert len(list((folder / "cache").rglob("*.partial"))) == 1
    return _stdout("cache", *args)

def partial_removed(folder, out):
    assert "removed 1 partial files" in out and "cached 0, reused 12" in out, out
    assert not list((folder / "cache").rglob("*.partial"))

def cli_cache_reports_repaired(folder):
    c = cohort(folder); args = cache_args(c, folder)
    _stdout("cache", *args)
    npy = sorted((folder / "cache").rglob("*.npy"))[0]
    b = bytearray(npy.read_bytes()); b[-3] ^= 0x40; npy.write_bytes(bytes(b))
    return _stdout("cache", *args)

def says_repaired(folder, out):
    assert "repaired 1" in out, out


# ---------------------------------------------------------------- the default T1 grid keeps the brain
def t1_preset_keeps_brain(folder):
    "MNI152 at 1 mm through the T1 preset: the brain's volume (mm³ of foreground) is kept, not cropped."
    from brainvlm.cohorts import preprocessing_for
    from brainvlm.io import preprocess, load_nifti, package_data, MNI152_T1
    src = package_data(*MNI152_T1)
    prep = preprocessing_for("ABCD", "T1", stats={"mean": 0.0, "std": 1.0, "min": 0.0, "max": 1.0})
    raw = load_nifti(src)
    out = preprocess(src, "T1", prep)
    mm3 = lambda data, affine: float((np.asarray(data) > 0).sum() * abs(np.linalg.det(np.asarray(affine)[:3, :3])))
    return {"grid_policy": prep.grid_policy, "kept": mm3(out.data, out.affine) / mm3(raw.data, raw.affine)}

def brain_kept(folder, res):
    assert res["grid_policy"] == "brain" and res["kept"] > 0.97, res


# ---------------------------------------------------------------- train/val/test leakage
def splits(kind: str):
    def run(folder):
        from brainvlm.cohorts import load_manifest, check_disjoint_splits
        c = cohort(folder)
        m = {s: load_manifest(c / f"manifest_{s}.json") for s in ("train", "val", "test")}
        if kind == "same-file": return check_disjoint_splits({"train": [m["train"]], "val": [m["train"]]})
        if kind == "overlap":
            leaked = [{**_records(c)[0], "split": "val"}] + _records(c, "val")
            (c / "manifest_val2.json").write_text(json.dumps(leaked))
            return check_disjoint_splits({"train": [m["train"]], "val": [m["val"], load_manifest(c / "manifest_val2.json")]})
        return check_disjoint_splits({s: [v] for s, v in m.items()})
    return run

def split_mismatch(folder):
    from brainvlm.cohorts import load_manifest
    c = cohort(folder)
    return load_manifest(c / "manifest_train.json", split="val")


# ---------------------------------------------------------------- the command line
def cli_stats_cohorts(text: str | bytes | None, name: str = "presets.yaml"):
    def run(folder):
        c = cohort(folder)
        if text is not None: (folder / name).write_bytes(text if isinstance(text, bytes) else text.encode())
        return cli("stats", str(c / "manifest_train.json"), "--cohorts", str(folder / name), "--out", str(folder / "s.json"))
    return run

def cli_stats_out_is_dir(folder):
    c = cohort(folder); (folder / "out.json").mkdir()
    return cli("stats", str(c / "manifest_train.json"), "--out", str(folder / "out.json"))

def cli_ingest(*extra, root: str | None = None):
    def run(folder):
        c = cohort(folder)
        return cli("ingest", root or str(c), *extra)
    return run

def ingest_broken_dwi_skip(folder):
    from brainvlm.cohorts import ingest_bids
    c = cohort(folder); (c / "sub-0002" / "dwi" / "sub-0002_dwi.bvec").unlink()
    res = ingest_bids(c, "HCP", out_dir=folder / "m", on_error="skip")
    return Skipped(len(res["skipped"]), res["skipped"].summary())

def ingest_participants_not_utf8(folder):
    from brainvlm.cohorts import ingest_bids
    c = cohort(folder); tsv = c / "participants.tsv"
    tsv.write_bytes(tsv.read_bytes().replace(b"participant_id", "participant_id\tsite".encode(), 1) + "sub-0099\tZ\xfcrich\n".encode("latin-1"))
    return ingest_bids(c, "HCP", out_dir=folder / "m")

def ingest_bval_not_utf8_skip(folder):
    from brainvlm.cohorts import ingest_bids
    c = cohort(folder); (c / "sub-0002" / "dwi" / "sub-0002_dwi.bval").write_bytes(b"0 1000\xff")
    res = ingest_bids(c, "HCP", out_dir=folder / "m", on_error="skip")
    return Skipped(len(res["skipped"]), res["skipped"].summary())

def cache_root_is_a_file(folder):
    c = cohort(folder); (folder / "cache").write_text("not a folder")
    return cli("cache", *cache_args(c, folder, "--on-error", "skip"))

def prepare_out_is_a_file(folder):
    (folder / "demo").write_text("not a folder")
    return cli("prepare", *FUZZ_OPTIONS, "--out", str(folder / "demo"))

def cli_missing_stats(folder):
    c = cohort(folder)
    return cli("cache", str(c / "manifest_train.json"), "--cache", str(folder / "cache"), "--stats", str(folder / "nope.json"))

def cli_synth_bad_radius(folder):
    return cli("synth", *SMALL, "--out", str(folder / "s"), "--lesion-radius", "big")

def prepare_other_options(folder):
    cohort(folder)                       # a cohort made with other options than prepare's defaults
    return cli("prepare", "--out", str(folder))

FUZZ_OPTIONS = ["--n", "6", "--grid", "16", "--fmri-grid", "16", "--frames", "8", "--dwi-directions", "6", "--workers", "1"]

def prepare_incomplete_cohort(folder):
    "A cohort a killed `synth` left (its marker there, its writer gone, a manifest missing): `prepare` writes it again, not reuse it."
    import socket, subprocess, sys
    from brainvlm.core import write_json
    from brainvlm.synth import INCOMPLETE_MARKER
    c = cohort(folder)                                 # made with FUZZ_OPTIONS
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    write_json({"pid": int(gone), "host": socket.gethostname()}, c / INCOMPLETE_MARKER)
    (c / "manifest_val.json").unlink()
    _stdout("prepare", *FUZZ_OPTIONS, "--out", str(folder))
    return json.loads((folder / "summary.json").read_text())

def prepared_again(folder, summary):
    from brainvlm.synth import INCOMPLETE_MARKER
    c = folder / "cohort"
    assert sum(summary["subjects"].values()) == 6 and (c / "manifest_val.json").exists() and not (c / INCOMPLETE_MARKER).exists(), summary
    assert sum(v["cached"] for v in summary["cache"].values()) == 18, summary

def prepare_broken_description(folder):
    c = cohort(folder); (c / "dataset_description.json").write_text("{")
    return cli("prepare", "--out", str(folder))


CASES = [
    # the manifest file
    Case("manifest-missing", manifest_missing, contains=("manifest_train.json", "not found")),
    Case("manifest-not-json", manifest_text("[{"), contains=("bad.json", "not valid JSON")),
    Case("manifest-not-a-list", manifest_text('{"records": []}'), contains=("bad.json", "JSON list")),
    Case("manifest-not-utf8", manifest_text(b'[{"subject_id": "\xff\xfe"}]'), contains=("bad.json", "UTF-8")),
    Case("manifest-is-directory", manifest_is_directory, contains=("dir.json", "directory")),
    Case("manifest-cli-cache-manifest-is-directory", cli_manifest_is_directory, contains=("brainvlm cache", "dir.json", "directory")),
    Case("manifest-record-not-object", manifest_text("[1]"), contains=("bad.json", "#0", "must be an object")),
    # its records
    Case("manifest-missing-field", _load_bad(lambda r: r.pop("conversations")), contains=("bad.json", "#0", "'conversations' is missing")),
    Case("manifest-subject-id-not-string", _load_bad(_set("subject_id", 12)), contains=("bad.json", "#0", "subject_id")),
    Case("manifest-cohort-empty", _load_bad(_set("cohort", "")), contains=("bad.json", "#0", "'cohort'")),
    Case("manifest-unknown-modality", _load_bad(_paths({"PET": "x.nii.gz"})), contains=("bad.json", "#0", "unknown modality 'PET'")),
    Case("manifest-modality-paths-empty", _load_bad(_paths({})), contains=("bad.json", "#0", "modality_paths")),
    Case("manifest-modality-path-not-string", _load_bad(_paths({"T1": 3})), contains=("bad.json", "#0", "modality_paths.T1")),
    Case("manifest-path-escapes", _load_bad(_paths({"T1": "../../etc/passwd"})), contains=("bad.json", "#0", "escapes data_root")),
    Case("manifest-absolute-path-outside", _load_bad(_paths({"T1": "/etc/passwd"})), contains=("bad.json", "#0", "escapes data_root")),
    Case("manifest-file-not-found", _load_bad(_paths({"T1": "sub-0001/anat/missing.nii.gz"})), contains=("bad.json", "#0", "missing.nii.gz")),
    Case("manifest-symlink-loop", symlink_loop, contains=("bad.json", "#0", "modality_paths.T1", "symlink")),
    Case("manifest-empty-conversations", _load_bad(_set("conversations", [])), contains=("bad.json", "#0", "'conversations' is empty")),
    Case("manifest-conversation-bad-turn", _load_bad(_set("conversations", [{"from": "doctor", "value": "x"}])),
         contains=("bad.json", "#0", "conversations[0]")),
    Case("manifest-no-answer", _load_bad(_set("conversations", [{"from": "human", "value": "<image>\nHi?"}])),
         contains=("bad.json", "#0", "no answer")),
    Case("manifest-bad-split", _load_bad(_set("split", "holdout")), contains=("bad.json", "#0", "'holdout'")),
    Case("manifest-metadata-not-object", _load_bad(_set("metadata", [1])), contains=("bad.json", "#0", "'metadata'")),
    Case("manifest-duplicate-subject", manifest_duplicate, contains=("bad.json", "duplicate subject_id")),
    Case("manifest-skip-counts", manifest_skip_counts, expect="skip", contains=("bad.json", "unknown modality 'PET'", "'holdout'")),
    Case("manifest-write-refuses-bad-record", write_refuses_bad_record, contains=("written.json", "#0", "escapes data_root")),
    # subject ids and cohort names are safe names
    Case("manifest-subject-id-escapes", _load_bad(_set("subject_id", "../../escaped")), contains=("bad.json", "#0", "subject_id", "safe name")),
    Case("manifest-subject-id-absolute", _load_bad(_set("subject_id", "/tmp/escaped")), contains=("bad.json", "#0", "safe name")),
    Case("manifest-subject-id-slash", _load_bad(_set("subject_id", "sub-01/ses-1")), contains=("bad.json", "#0", "safe name")),
    Case("manifest-subject-id-backslash", _load_bad(_set("subject_id", "sub-01\\ses-1")), contains=("bad.json", "#0", "safe name")),
    Case("manifest-subject-id-nul", _load_bad(_set("subject_id", "sub-01\x00")), contains=("bad.json", "#0", "safe name")),
    Case("manifest-subject-id-newline", _load_bad(_set("subject_id", "sub-01\nrecord 7: all good")), contains=("bad.json", "#0", "safe name")),
    Case("manifest-subject-id-dot", _load_bad(_set("subject_id", ".")), contains=("bad.json", "#0", "safe name")),
    Case("manifest-subject-id-dotdot", _load_bad(_set("subject_id", "..")), contains=("bad.json", "#0", "safe name")),
    Case("manifest-subject-id-hidden", _load_bad(_set("subject_id", ".sub-01")), contains=("bad.json", "#0", "safe name")),
    Case("manifest-subject-id-300-chars", _load_bad(_set("subject_id", "s" * 300)), contains=("bad.json", "#0", "128")),
    Case("manifest-cohort-name-escapes", _load_bad(_set("cohort", "../SYNTH")), contains=("bad.json", "#0", "cohort", "safe name")),
    Case("manifest-cli-cache-id-escapes", cache_escaping_id(lambda folder: "../../escaped"), contains=("brainvlm cache", "bad.json", "safe name"),
         check=nothing_outside_cache),
    Case("manifest-cli-cache-id-absolute", cache_escaping_id(lambda folder: str(folder / "escaped")), contains=("brainvlm cache", "safe name"),
         check=nothing_outside_cache),
    Case("manifest-ingest-unsafe-folder-skip", ingest_unsafe_folder, expect="skip", contains=("sub-0001 copy", "safe name")),
    Case("manifest-register-unsafe-cohort", register_unsafe_cohort, contains=("'../x'", "safe name")),
    # repetition times
    Case("manifest-sidecar-tr-negative", sidecar('{"RepetitionTime": -0.8}'),
         contains=("sub-0001_task-rest_bold.json", "sub-0001", "RepetitionTime")),
    Case("manifest-sidecar-tr-zero", sidecar('{"RepetitionTime": 0}'), contains=("sub-0001_task-rest_bold.json", "RepetitionTime")),
    Case("manifest-sidecar-tr-string", sidecar('{"RepetitionTime": "0.8s"}'), contains=("sub-0001_task-rest_bold.json", "RepetitionTime")),
    Case("manifest-sidecar-tr-nan", sidecar('{"RepetitionTime": NaN}'), contains=("sub-0001_task-rest_bold.json", "RepetitionTime")),
    Case("manifest-sidecar-not-json", sidecar('{"RepetitionTime": 0.8'), contains=("sub-0001_task-rest_bold.json", "sub-0001", "not valid JSON")),
    Case("manifest-sidecar-not-object", sidecar('[0.8]'), contains=("sub-0001_task-rest_bold.json", "sub-0001")),
    Case("manifest-sidecar-not-json-skip", sidecar('{"RepetitionTime": ', on_error="skip"), expect="skip",
         contains=("sub-0001_task-rest_bold.json", "sub-0001")),
    Case("manifest-sidecar-tr-negative-skip", sidecar('{"RepetitionTime": -2}', on_error="skip"), expect="skip",
         contains=("sub-0001_task-rest_bold.json", "RepetitionTime")),
    Case("manifest-record-tr-negative", _load_bad(_meta_tr(-0.8)), contains=("bad.json", "#0", "metadata.tr")),
    Case("manifest-record-tr-string", _load_bad(_meta_tr("0.8")), contains=("bad.json", "#0", "metadata.tr")),
    Case("manifest-record-tr-infinite", _load_bad(_meta_tr(float("inf"))), contains=("bad.json", "#0", "metadata.tr")),
    Case("manifest-preset-tr-negative", preset("cohorts:\n  X: {rsfMRI: {tr: -2.0}}\n"), contains=("presets.yaml", "cohorts.X.rsfMRI.tr")),
    Case("manifest-preset-tr-zero", preset("cohorts:\n  X: {rsfMRI: {tr: 0}}\n"), contains=("presets.yaml", "cohorts.X.rsfMRI.tr")),
    Case("manifest-preset-target-tr-string", preset("cohorts:\n  X: {rsfMRI: {tr: 0.8, target_tr: fast}}\n"),
         contains=("presets.yaml", "cohorts.X.rsfMRI.target_tr")),
    Case("manifest-preset-default-tr-nan", preset("defaults:\n  rsfMRI: {tr: .nan}\ncohorts:\n  X: {}\n"),
         contains=("presets.yaml", "defaults.rsfMRI.tr")),
    # intensity statistics
    Case("manifest-stats-missing", stats_missing, contains=("nope.json", "not found")),
    Case("manifest-stats-not-json", stats_file('{"SYNTH": '), contains=("stats.json", "not valid JSON")),
    Case("manifest-stats-not-utf8", stats_bytes, contains=("stats.json", "UTF-8")),
    Case("manifest-stats-is-directory", stats_is_directory, contains=("stats.json", "directory")),
    Case("manifest-stats-not-mapping", stats_file([1, 2]), contains=("stats.json", "cohort")),
    Case("manifest-stats-cohort-not-mapping", stats_file({"SYNTH": 3}), contains=("stats.json", "SYNTH")),
    Case("manifest-stats-nan-mean", stats_file({"SYNTH": {"T1": {"mean": float("nan"), "std": 1.0, "min": 0, "max": 1}}}),
         contains=("stats.json", "SYNTH.T1.mean")),
    Case("manifest-stats-tiny-std", stats_file({"SYNTH": {"T1": {"mean": 1.0, "std": 1e-9, "min": 0, "max": 1}}}),
         contains=("stats.json", "SYNTH.T1.std")),
    Case("manifest-stats-missing-std", stats_file({"SYNTH": {"T1": {"mean": 1.0, "min": 0, "max": 1}}}),
         contains=("stats.json", "SYNTH.T1.std")),
    Case("manifest-stats-string-mean", stats_file({"SYNTH": {"T1": {"mean": "high", "std": 1.0, "min": 0, "max": 1}}}),
         contains=("stats.json", "SYNTH.T1.mean")),
    Case("manifest-cli-cache-nan-stats", cli_cache_bad_stats, contains=("brainvlm cache", "stats.json", "SYNTH.T1.mean")),
    Case("manifest-stats-bad-image", stats_bad_image("raise"), contains=("brainvlm stats", "sub-", "_T1w.nii.gz")),
    Case("manifest-stats-bad-image-skip", stats_bad_image("skip"), expect="skip", contains=("_T1w.nii.gz",)),
    Case("manifest-stats-api-skip", stats_api_skip, expect="skip", contains=("_T1w.nii.gz",)),
    Case("manifest-stats-unknown-cohort", stats_unknown_cohort, contains=("unknown cohort 'NOPE'", "bad.json", "record sub-")),
    # caching a manifest
    Case("manifest-cache-no-stats", cache_no_stats, contains=("brainvlm cache", "brainvlm stats")),
    Case("manifest-cache-bad-image", cache_bad_image("raise"), contains=("brainvlm cache", "sub-", "_T1w.nii.gz")),
    Case("manifest-cache-bad-image-skip", cache_bad_image("skip"), expect="skip", contains=("_T1w.nii.gz",)),
    Case("manifest-cache-dir-named-nifti", cache_dir_named_nifti, contains=("brainvlm cache", "x.nii.gz")),
    Case("manifest-cache-disk-full", disk_full("raise"), contains=("brainvlm cache", "No space left", "stopped after caching 2"),
         check=two_entries_cached),
    Case("manifest-cache-disk-full-skip", disk_full("skip"), contains=("brainvlm cache", "No space left", "stopped after caching 2"),
         check=two_entries_cached),
    Case("manifest-cache-corrupt-entry-repaired", cache_corrupt_entry, expect="ok", check=one_repaired),
    Case("manifest-cli-cache-says-repaired", cli_cache_reports_repaired, expect="ok", check=says_repaired),
    Case("manifest-cache-orphan-partial", cache_orphan_partial, expect="ok", check=partial_removed),
    Case("manifest-cache-root-is-a-file", cache_root_is_a_file, contains=("brainvlm cache", "record sub-", "cache", "stopped after caching 0")),
    Case("manifest-missing-stats-file", cli_missing_stats, contains=("brainvlm cache", "nope.json", "not found")),
    # the default T1 grid
    Case("manifest-t1-preset-keeps-brain", t1_preset_keeps_brain, expect="ok", check=brain_kept),
    # train/val/test leakage
    Case("manifest-splits-same-file", splits("same-file"), contains=("manifest_train.json", "train", "val")),
    Case("manifest-splits-subject-overlap", splits("overlap"), contains=("manifest_train.json", "manifest_val2.json", "SYNTH")),
    Case("manifest-splits-disjoint", splits("disjoint"), expect="ok"),
    Case("manifest-split-field-mismatch", split_mismatch, contains=("manifest_train.json", "#0", "'split'", "val")),
    # the command line
    Case("manifest-cli-cohorts-missing", cli_stats_cohorts(None), contains=("brainvlm stats", "presets.yaml")),
    Case("manifest-cli-cohorts-yaml-syntax", cli_stats_cohorts("cohorts: {X: [\n"), contains=("brainvlm stats", "presets.yaml")),
    Case("manifest-cli-cohorts-not-utf8", cli_stats_cohorts(b"cohorts:\n  X\xff: {}\n"), contains=("brainvlm stats", "presets.yaml")),
    Case("manifest-cli-cohorts-no-mapping", cli_stats_cohorts("just: 1\n"), contains=("brainvlm stats", "presets.yaml", "cohorts")),
    Case("manifest-cli-cohorts-entry-not-mapping", cli_stats_cohorts("cohorts:\n  X: 3\n"), contains=("brainvlm stats", "presets.yaml", "cohorts.X")),
    Case("manifest-cli-cohorts-unknown-modality", cli_stats_cohorts("cohorts:\n  X: {PET: {tr: 1}}\n"),
         contains=("brainvlm stats", "presets.yaml", "unknown modality 'PET'")),
    Case("manifest-cli-stats-out-is-directory", cli_stats_out_is_dir, contains=("brainvlm stats", "out.json")),
    Case("manifest-cli-ingest-unknown-cohort", cli_ingest("--cohort", "NOPE", "--out", "m"), contains=("brainvlm ingest", "unknown cohort 'NOPE'")),
    Case("manifest-cli-ingest-missing-root", cli_ingest("--cohort", "HCP", root="no-such-bids"), contains=("brainvlm ingest", "no-such-bids")),
    Case("manifest-cli-ingest-manifests-exist", cli_ingest("--cohort", "HCP"), contains=("brainvlm ingest", "manifest_train.json", "exists")),
    Case("manifest-ingest-participants-not-utf8", ingest_participants_not_utf8, contains=("participants.tsv", "UTF-8")),
    Case("manifest-ingest-bval-not-utf8-skip", ingest_bval_not_utf8_skip, expect="skip", contains=("sub-0002", "sub-0002_dwi.bval", "UTF-8")),
    Case("manifest-ingest-broken-dwi-skip", ingest_broken_dwi_skip, expect="skip", contains=("sub-0002", ".bvec")),
    Case("manifest-cli-synth-bad-lesion-radius", cli_synth_bad_radius, contains=("brainvlm synth", "lesion-radius", "big")),
    Case("manifest-cli-prepare-other-options", prepare_other_options, contains=("brainvlm prepare", "other options")),
    Case("manifest-cli-prepare-broken-description", prepare_broken_description, contains=("brainvlm prepare", "/cohort")),
    Case("manifest-cli-prepare-out-is-a-file", prepare_out_is_a_file, contains=("brainvlm prepare", "demo", "not a folder")),
    Case("manifest-cli-prepare-incomplete-cohort", prepare_incomplete_cohort, expect="ok", check=prepared_again),
]
