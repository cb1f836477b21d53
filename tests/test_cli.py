"""The `brainvlm` command line end to end, in subprocesses as a user runs it: a quick, quiet start (no torch imported
for the parser, `--version`, defaults in the help), synth → ingest → stats → cache on a tiny cohort, bad input (an
error naming the file and record, or skip-and-count), and the demo's data preparation (`brainvlm prepare`) scaled
down, ending with the training command for the config it wrote; `tests/test_tasks.py` runs the whole demo.
`bench/bench_cli.py` times the help of every command."""
import configparser, json, shlex, shutil, subprocess, sys
from pathlib import Path

import pytest
import yaml

TINY = ["--n", "8", "--grid", "24", "--fmri-grid", "16", "--frames", "12", "--dwi-directions", "6", "--workers", "2"]


def brainvlm(*args, ok=True):
    r = subprocess.run(["brainvlm", *map(str, args)], capture_output=True, text=True)
    if ok: assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def test_entry_point_is_light():
    # every command pays for importing the entry point: it must not load torch and the model libraries (seconds)
    code = "import sys, brainvlm.__main__; print(sorted({'torch', 'transformers', 'peft', 'bitsandbytes'} & set(sys.modules)))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (r.returncode, r.stdout.strip(), r.stderr) == (0, "[]", ""), r


def test_version_and_help():
    ini = configparser.ConfigParser(); ini.read(Path(__file__).parents[1] / "settings.ini")
    assert brainvlm("--version").stdout.strip() == f"brainvlm {ini['DEFAULT']['version']}"
    r = brainvlm("prepare", "--help")
    assert "(default: outputs/demo)" in r.stdout and "processes writing subjects (default: 2)" in r.stdout, r.stdout
    assert r.stderr == ""                                  # nothing from the libraries


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "cohort"
    brainvlm("synth", *TINY, "--out", out)
    return out


def test_synth_writes_bids_and_manifests(cohort):
    assert (cohort / "participants.tsv").exists() and (cohort / "cohort.yaml").exists()
    recs = [r for s in ("train", "val", "test") for r in json.loads((cohort / f"manifest_{s}.json").read_text())]
    assert len(recs) == 8 and len({r["subject_id"] for r in recs}) == 8
    assert all(set(r["modality_paths"]) == {"T1", "dMRI", "rsfMRI"} for r in recs)


def test_ingest_stats_cache(cohort, tmp_path):
    # the synthetic cohort is a BIDS dataset: ingest it as a user's cohort would be, manifests elsewhere
    r = brainvlm("ingest", cohort, "--cohort", "SYNTH_AS_HCP", "--out", tmp_path / "m", ok=False)
    assert r.returncode == 2 and "unknown cohort 'SYNTH_AS_HCP'" in r.stderr
    brainvlm("ingest", cohort, "--cohort", "HCP", "--out", tmp_path / "m")
    train = tmp_path / "m" / "manifest_train.json"
    recs = json.loads(train.read_text())
    assert recs and all(r["metadata"]["tr"] == 0.8 for r in recs)
    # statistics on the synthetic cohort's own preset (its grids), then the cache; a second run reuses it
    brainvlm("stats", cohort / "manifest_train.json", "--cohorts", cohort / "cohort.yaml", "--out", tmp_path / "stats.json")
    stats = json.loads((tmp_path / "stats.json").read_text())["SYNTH"]
    assert set(stats) == {"T1", "rsfMRI"} and stats["T1"]["std"] > 0      # FA maps are not rescaled
    args = [cohort / "manifest_train.json", "--cohorts", cohort / "cohort.yaml", "--cache", tmp_path / "cache", "--stats", tmp_path / "stats.json"]
    first = brainvlm("cache", *args).stdout
    assert f"cached {3 * len(json.loads((cohort / 'manifest_train.json').read_text()))}," in first
    assert "cached 0, reused" in brainvlm("cache", *args).stdout


def test_bad_input_names_file_and_record(cohort, tmp_path):
    bad = tmp_path / "bad"; shutil.copytree(cohort, bad)
    base = ["--cohorts", bad / "cohort.yaml", "--cache", tmp_path / "cache"]
    # scaling needs statistics: without them, one clear line says how to get them
    r = brainvlm("cache", bad / "manifest_train.json", *base, ok=False)
    assert r.returncode == 2 and "brainvlm stats" in r.stderr and "Traceback" not in r.stderr, r.stderr
    brainvlm("stats", bad / "manifest_val.json", "--cohorts", bad / "cohort.yaml", "--out", tmp_path / "s.json")
    rec = json.loads((bad / "manifest_train.json").read_text())[0]
    t1 = bad / rec["modality_paths"]["T1"]
    t1.write_bytes(t1.read_bytes()[:200])                    # a truncated .nii.gz
    r = brainvlm("cache", bad / "manifest_train.json", *base, "--stats", tmp_path / "s.json", ok=False)
    assert r.returncode == 2 and rec["subject_id"] in r.stderr and t1.name in r.stderr and "Traceback" not in r.stderr, r.stderr
    out = brainvlm("cache", bad / "manifest_train.json", *base, "--stats", tmp_path / "s.json", "--on-error", "skip").stdout
    assert "skipped 1 " in out and rec["subject_id"] in out and t1.name in out, out
    assert t1.read_bytes() and len(t1.read_bytes()) == 200    # the input is never modified


def test_prepare_scaled_down(tmp_path):
    r = brainvlm("prepare", *TINY, "--n", "10", "--out", tmp_path / "demo")
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert sum(summary["subjects"].values()) == 10
    assert sum(c["cached"] for c in summary["cache"].values()) == 30
    assert all(Path(p).stat().st_size > 10_000 for p in summary["pictures"])
    assert "ground truth per split and sex" in r.stdout
    # it ends with what it wrote and the next command: training from the config it wrote for this cohort
    config = tmp_path / "demo" / "train.yaml"
    nxt = r.stdout.rstrip().split("\nnext:\n")[1].splitlines()
    assert len(nxt) == 1 and shlex.split(nxt[0].split("  #")[0]) == ["brainvlm", "train", str(config)], r.stdout[-2000:]
    assert f"  {config}  " in r.stdout.split("\nwrote:\n")[1]
    cfg = yaml.safe_load(config.read_text())
    assert Path(cfg["cohorts"][0]) == (tmp_path / "demo" / "cohort" / "cohort.yaml").resolve() and set(cfg["dataset"]) == {"T1", "dMRI", "rsfMRI"}
    config.write_text(config.read_text() + "# mine\n")    # a config already there is the user's: a second prepare keeps it
    # a second run reuses the cohort and the cache; other options are refused, nothing overwritten
    again = json.loads((brainvlm("prepare", *TINY, "--n", "10", "--out", tmp_path / "demo"), tmp_path / "demo" / "summary.json")[1].read_text())
    assert sum(c["reused"] for c in again["cache"].values()) == 30 and config.read_text().endswith("# mine\n")
    r = brainvlm("prepare", *TINY, "--n", "11", "--out", tmp_path / "demo", ok=False)
    assert r.returncode == 2 and "other options" in r.stderr
