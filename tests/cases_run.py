"""Bad inputs of a run (`07_trainer`, `07a_run`, `09_evaluate`, `10_tasks`, the task notebooks): its config and
overrides, its selection and splits, its run folder (a second run at the same time, a stale lock, incomplete
checkpoints, a full disk), skip mode through training, and the folders `evaluate` and `ask` are given. Each ends as
one line naming the key, file or record, or as a counted skip where the user chose skip (see `fuzz.py`).

Most cases stop before a model is built (`resolve_config`, `check_config`, `evaluate_run`'s checks); the few that
train use the tiny-llava base, built once per process in a shared folder."""
from __future__ import annotations
import contextlib, errno, io, json, os, shutil, subprocess, sys, tempfile
from pathlib import Path
from unittest import mock

import yaml

from fuzz import Case, Skipped, cli, cohort


# ---------------------------------------------------------------- helpers
def config(folder: Path, **over) -> dict:
    "A T1 run config over the synthetic cohort in `folder/cohort` (copied if not yet), tiny-llava at 16³, 2 steps."
    c = folder / "cohort"
    if not c.exists(): cohort(folder)
    cfg = {"run_name": "run", "output_root": str(folder / "runs"), "cohorts": [str(c / "cohort.yaml")], "max_seq_length": 320,
           "dataset": {"T1": {"manifest": [str(c / "manifest_{split}.json")], "img_size": [16, 16, 16]}},
           "model": {"hf_name": "tiny-llava", "T1": {"patch_size": [8, 8, 8]}, "train": ["patch_embed", "projector"]},
           "trainer": {"max_steps": 2, "learning_rate": 1.0e-3, "per_device_train_batch_size": 1, "logging_steps": 1, "save_steps": 1,
                       "report_to": [], "disable_tqdm": True, "answer_samples_every": 0}}
    cfg.update(over)
    return cfg

def config_file(folder: Path, cfg: dict | str | None = None, name: str = "run.yaml") -> Path:
    "`cfg` (default: `config(folder)`) written as YAML to `folder/NAME`."
    p = folder / name
    p.write_text(cfg if isinstance(cfg, str) else yaml.safe_dump(cfg if cfg is not None else config(folder)))
    return p

def resolve(*overrides, **over):
    "A case that resolves the config (with `over` set at the top level) and these dotlist overrides."
    def run(folder):
        from brainvlm.run import resolve_config
        return resolve_config(config(folder, **over), list(overrides))
    return run

def resolve_file(*overrides):
    "A case that resolves the config from its YAML file, as `brainvlm train` reads it."
    def run(folder):
        from brainvlm.run import resolve_config
        return resolve_config(config_file(folder), list(overrides))
    return run

def resolve_with(build, overrides=()):
    "A case that resolves the config `build(folder)` gives (a dict, or a file as `brainvlm train` reads it) with `overrides`."
    def run(folder):
        from brainvlm.run import resolve_config
        return resolve_config(build(folder), overrides)
    return run

def holds(test):
    "A check that `test(result)` is true."
    def check(folder, got): assert test(got), got
    return check

def train_cli(*overrides):
    "A case that runs `brainvlm train run.yaml OVERRIDES` in-process."
    def run(folder): return cli("train", str(config_file(folder)), *overrides)
    return run

def records(c: Path, split: str) -> list[dict]: return json.loads((c / f"manifest_{split}.json").read_text())

_BASE: Path | None = None

@contextlib.contextmanager
def tiny_base():
    "BRAINVLM_BASE_DIR pointing at one folder per process (the tiny base is built once), restored afterwards."
    global _BASE
    if _BASE is None: _BASE = Path(tempfile.mkdtemp(prefix="brainvlm-fuzz-base-"))
    old = os.environ.get("BRAINVLM_BASE_DIR"); os.environ["BRAINVLM_BASE_DIR"] = str(_BASE)
    from transformers.utils import logging as hf_logging
    level = hf_logging.get_verbosity(); hf_logging.set_verbosity_error()          # no load reports of the tiny base
    try:
        with contextlib.redirect_stderr(io.StringIO()): yield _BASE
    finally:
        hf_logging.set_verbosity(level)
        if old is None: os.environ.pop("BRAINVLM_BASE_DIR", None)
        else: os.environ["BRAINVLM_BASE_DIR"] = old

def train(folder: Path, cfg: dict, *overrides) -> tuple[Path, str]:
    "Train `cfg` in-process; the run folder and what it printed."
    from brainvlm.run import train as train_run
    out = io.StringIO()
    with tiny_base(), contextlib.redirect_stdout(out): run = train_run(cfg, list(overrides))
    return run, out.getvalue()

def fake_run(folder: Path) -> Path:
    "A run folder as `train` writes it before training starts (config.yaml, statistics, presets): no checkpoint, no final/."
    from brainvlm.run import resolve_config, write_run_files
    cfg = resolve_config(config(folder))
    run = Path(cfg.output_root) / cfg.run_name
    write_run_files(cfg, run, {})
    return run

def dead_pid() -> int:
    "The pid of a process that has just ended."
    p = subprocess.Popen([sys.executable, "-c", "pass"]); p.wait()
    return p.pid


# ---------------------------------------------------------------- 1. the config: types, counts, typos, secrets, reserved keys
CONFIG = [
    Case("run-config-max-steps-not-int", train_cli("trainer.max_steps=ten"), contains=("trainer.max_steps", "ten")),
    Case("run-config-learning-rate-not-float", resolve_file("trainer.learning_rate=fast"), contains=("trainer.learning_rate", "fast")),
    Case("run-config-seed-not-int", resolve("seed=abc"), contains=("'seed'", "abc")),
    Case("run-config-resume-not-bool", resolve("resume=maybe"), contains=("'resume'", "maybe")),
    Case("run-config-bf16-not-bool", resolve("trainer.bf16=maybe"), contains=("trainer.bf16", "TrainingArguments")),
    Case("run-config-img-size-not-list", resolve("dataset.T1.img_size=64"), contains=("dataset.T1.img_size", "list[int]")),
    Case("run-config-dataset-not-mapping", resolve(dataset=["T1"]), contains=("'dataset'",)),
    Case("run-config-dataset-without-manifest", resolve_with(lambda f: config_file(f, config(f, dataset={"T1": {"img_size": [16, 16, 16]}}))),
         contains=("dataset.T1.manifest",)),
    Case("run-config-dataset-entry-empty", resolve(dataset={"T1": None}), contains=("dataset.T1.manifest",)),
    Case("run-config-yaml-syntax-error", resolve_with(lambda f: config_file(f, "run_name: x\ntrainer:\n  max_steps: 3\n   learning_rate: 1\n", "broken.yaml")),
         contains=("broken.yaml", "line 4")),
    Case("run-config-yaml-not-mapping", resolve_with(lambda f: config_file(f, "- a\n- b\n", "list.yaml")), contains=("list.yaml", "mapping")),
    Case("run-config-file-missing", lambda f: cli("train", str(f / "nope.yaml")), contains=("nope.yaml", "not found")),
    Case("run-config-cohort-yaml-missing", resolve_with(lambda f: config(f, cohorts=[str(f / "missing_cohorts.yaml")])),
         contains=("cohorts", "missing_cohorts.yaml", "not found")),
    Case("run-config-cohort-yaml-broken", resolve_with(lambda f: config(f, cohorts=[str(config_file(f, "cohorts: [a, b\n", "bad_cohorts.yaml"))])),
         contains=("bad_cohorts.yaml",)),
    # counts that must be at least 1 (or 0)
    Case("run-config-batch-size-zero", resolve("trainer.per_device_train_batch_size=0"), contains=("trainer.per_device_train_batch_size", ">= 1")),
    Case("run-config-grad-accumulation-zero", resolve("trainer.gradient_accumulation_steps=0"), contains=("trainer.gradient_accumulation_steps", ">= 1")),
    Case("run-config-max-steps-zero", resolve("trainer.max_steps=0"), contains=("trainer.max_steps",)),
    Case("run-config-logging-steps-zero", resolve("trainer.logging_steps=0"), contains=("trainer.logging_steps",)),
    Case("run-config-save-steps-negative", resolve("trainer.save_steps=-3"), contains=("trainer.save_steps",)),
    Case("run-config-workers-negative", resolve("trainer.dataloader_num_workers=-1"), contains=("trainer.dataloader_num_workers", ">= 0")),
    Case("run-config-answer-samples-negative", resolve("trainer.answer_samples_every=-5"), contains=("trainer.answer_samples_every", ">= 0")),
    Case("run-config-learning-rate-negative", resolve("trainer.learning_rate=-0.1"), contains=("trainer.learning_rate",)),
    Case("run-config-max-seq-length-zero", resolve("max_seq_length=0"), contains=("max_seq_length", ">= 1")),
    Case("run-config-img-size-zero", resolve("dataset.T1.img_size=[0,16,16]"), contains=("dataset.T1.img_size",)),
    Case("run-config-img-size-wrong-rank", resolve("dataset.T1.img_size=[16,16]"), contains=("dataset.T1.img_size", "3")),
    Case("run-config-patch-size-zero", resolve("model.T1.patch_size=[0,8,8]"), contains=("model.T1.patch_size",)),
    Case("run-config-sequence-length-zero", resolve_with(lambda f: config(f, dataset={**config(f)["dataset"],
        "rsfMRI": {"manifest": [str(f / "cohort" / "manifest_{split}.json")], "sequence_length": 0}})), contains=("dataset.rsfMRI.sequence_length",)),
    Case("run-config-lora-r-zero", resolve("lora.r=0"), contains=("lora.r", ">= 1")),
    Case("run-config-lora-dropout-one", resolve("lora.dropout=1.5"), contains=("lora.dropout",)),
    Case("run-config-bits-three", resolve("quantization.bits=3"), contains=("quantization.bits", "4", "8")),
    # words a key must be one of
    Case("run-config-patch-policy-unknown", resolve("model.patch_policy=shrink"), contains=("model.patch_policy", "shrink", "pad")),
    Case("run-config-patch-impl-unknown", resolve("model.patch_impl=fft"), contains=("model.patch_impl", "fft")),
    Case("run-config-train-part-unknown", resolve("model.train=[patch_embed,decoder]"), contains=("model.train", "decoder", "projector")),
    Case("run-config-on-error-unknown", resolve("on_error=ignore"), contains=("on_error", "ignore", "skip")),
    Case("run-config-save-strategy-unknown", train_cli("trainer.save_strategy=sometimes"), contains=("trainer", "save_strategy")),
    # typos and unknown keys, with the names meant
    Case("run-config-typo-trainer-key", resolve("trainer.max_stpes=2"), contains=("trainer.max_stpes", "did you mean 'max_steps'")),
    Case("run-config-typo-section", resolve_file("trainr.max_steps=2"), contains=("trainr", "did you mean 'trainer'")),
    Case("run-config-typo-top-level", resolve("run_nmae=x"), contains=("run_nmae", "did you mean 'run_name'")),
    Case("run-config-typo-dataset-key", resolve("dataset.T1.img_szie=[16,16,16]"), contains=("dataset.T1.img_szie", "img_size")),
    Case("run-config-typo-patch-key", resolve("model.T1.patch_szie=[8,8,8]"), contains=("model.T1.patch_szie", "patch_size")),
    Case("run-config-misplaced-bits", resolve("model.bits=4"), contains=("model.bits",)),
    Case("run-config-typo-lora-key", resolve("lora.rank=8"), contains=("lora.rank", "r")),
    Case("run-config-design-batch-size-name", resolve("trainer.per_device_batch_size=2"), contains=("trainer.per_device_batch_size", "per_device_train_batch_size")),
    Case("run-config-unknown-modality", resolve(dataset={"T2": {"manifest": ["m.json"]}}), contains=("dataset.T2", "unknown modality 'T2'")),
    Case("run-config-patch-without-dataset", resolve("model.dMRI.patch_size=[8,8,8]"), contains=("model.dMRI", "'dataset' has no dMRI")),
    # secrets and the keys the run sets itself
    Case("run-config-secret-in-yaml", resolve_with(lambda f: config_file(f, config(f, trainer={"hub_token": "hf_abc"}))),
         contains=("trainer.hub_token", "secret")),
    Case("run-config-secret-in-dict", resolve(trainer={"hub_token": "hf_abc"}), contains=("trainer.hub_token", "secret")),
    Case("run-config-secret-override", resolve_file("trainer.hub_token=hf_abc"), contains=("trainer.hub_token", "secret")),
    Case("run-config-reserved-output-dir", resolve("trainer.output_dir=/tmp/x"), contains=("trainer.output_dir", "set by brainvlm")),
    Case("run-config-reserved-seed", resolve("trainer.seed=3"), contains=("trainer.seed", "top-level seed")),
    Case("run-config-reserved-use-cpu", resolve("trainer.use_cpu=true"), contains=("trainer.use_cpu",)),
    # a config without a model: or trainer: section takes the defaults (it was a raw OmegaConf traceback)
    Case("run-config-sections-default", resolve_with(lambda f: {k: v for k, v in config(f).items() if k not in ("model", "trainer")}),
         expect="ok", check=holds(lambda cfg: cfg.model.T1.patch_size == [16, 16, 16] and cfg.trainer.max_steps == 100)),
]


# ---------------------------------------------------------------- 2. overrides from papermill and the command line
def overrides(value):
    def run(folder):
        from brainvlm.run import dotlist_overrides
        return dotlist_overrides(value, "overrides")
    return run

def _is(expected): return holds(lambda got: got == expected)

OVERRIDES = [
    Case("run-overrides-one-string", overrides("output_root=elsewhere"), expect="ok", check=_is(["output_root=elsewhere"])),
    Case("run-overrides-string-several", overrides("output_root=X  trainer.max_steps=2"), expect="ok",
         check=_is(["output_root=X", "trainer.max_steps=2"])),
    Case("run-overrides-yaml-list-string", overrides('["output_root=X", "seed=1"]'), expect="ok", check=_is(["output_root=X", "seed=1"])),
    Case("run-overrides-quoted-value", overrides("run_name='a b'"), expect="ok", check=_is(["run_name=a b"])),
    Case("run-overrides-no-equals", overrides("output_root"), contains=("overrides", "'output_root'", "KEY=VALUE")),
    Case("run-overrides-not-a-string", overrides(["seed=1", 7]), contains=("overrides", "7")),
    Case("run-overrides-not-a-list", overrides({"seed": 1}), contains=("overrides",)),
    Case("run-overrides-empty-key", overrides("=3"), contains=("overrides", "'=3'")),
    Case("run-overrides-cli-no-equals", train_cli("trainer.max_steps"), contains=("trainer.max_steps", "KEY=VALUE")),
    Case("run-overrides-string-reaches-the-run", resolve_with(lambda f: config(f), "output_root=elsewhere seed=3"), expect="ok",
         check=holds(lambda cfg: (cfg.output_root, cfg.seed) == ("elsewhere", 3))),
    Case("run-papermill-config-missing", resolve_with(lambda f: "outputs/demo/run-1.yaml"),
         contains=("outputs/demo/run-1.yaml", "not found")),
]


# ---------------------------------------------------------------- 3. the selection: every trained modality and manifest has records
def _add_t1_free_manifest(folder: Path) -> dict:
    "The config with a second T1 manifest (per split) whose records have no T1."
    cfg = config(folder); c = folder / "cohort"
    for s in ("train", "val", "test"):
        recs = records(c, s)
        for r in recs: r["modality_paths"].pop("T1"); r["subject_id"] = "x" + r["subject_id"]
        (c / f"no_t1_{s}.json").write_text(json.dumps(recs))
    cfg["dataset"]["T1"]["manifest"].append(str(c / "no_t1_{split}.json"))
    return cfg

SELECTION = [
    Case("run-selection-cohort-absent", resolve("only_cohort=ABCD"), contains=("only_cohort='ABCD'", "SYNTH")),
    Case("run-selection-modality-absent", resolve("only_modality=dMRI"), contains=("only_modality='dMRI'",)),
    Case("run-selection-modality-without-records", resolve_with(lambda f: config(f, dataset={
        "T1": config(f)["dataset"]["T1"], "CT": {"manifest": [str(f / "cohort" / "manifest_{split}.json")]}})),
         contains=("dataset.CT", "manifest_{split}.json")),
    Case("run-selection-manifest-without-modality", resolve_with(_add_t1_free_manifest),
         contains=("dataset.T1", "no_t1_train.json", "no T1")),
    Case("run-selection-manifest-missing", resolve(dataset={"T1": {"manifest": ["nowhere_{split}.json"]}}), contains=("nowhere_train.json", "not found")),
    Case("run-selection-empty-dataset", resolve(dataset={}, model={"hf_name": "tiny-llava"}), contains=("'dataset' names no modality",)),
]


# ---------------------------------------------------------------- 4. subjects shared between the splits of a run
def _leak(split: str, copy_train: bool = False):
    "The cohort with the first training subject also in `split` (or `split`'s manifest a copy of train's)."
    def build(folder: Path):
        c = folder / "cohort"
        if not c.exists(): cohort(folder)
        if copy_train: shutil.copy(c / "manifest_train.json", c / f"manifest_{split}.json")
        else:
            recs = records(c, split); extra = dict(records(c, "train")[0], split=split)
            (c / f"manifest_{split}.json").write_text(json.dumps(recs + [extra]))
        return records(c, "train")[0]["subject_id"]
    return build

def leak_in_train(split, copy_train=False):
    def run(folder):
        _leak(split, copy_train)(folder)
        return train(folder, config(folder))
    return run

def leak_in_evaluate(folder):
    run = fake_run(folder)
    _leak("test")(folder)
    from brainvlm.evaluate import evaluate_run
    return evaluate_run(run, "test", progress=False)

def single_manifest_respects_splits(folder):
    "One manifest file (no `{split}`) holding every split: a split's datasets take only its records."
    c = cohort(folder)
    (c / "all.json").write_text(json.dumps([r for s in ("train", "val", "test") for r in records(c, s)]))
    from brainvlm.run import resolve_config, manifests
    cfg = resolve_config(config(folder, dataset={"T1": {"manifest": [str(c / "all.json")], "img_size": [16, 16, 16]}}))
    return {s: sorted(r["subject_id"] for m in manifests(cfg, "T1", s) for r in m) for s in ("train", "val", "test")}

SPLITS = [
    Case("run-split-val-identical-to-train", leak_in_train("val", copy_train=True), contains=("manifest_train.json", "manifest_val.json", "sub-0003")),
    Case("run-split-subject-in-train-and-test", leak_in_train("test"), contains=("manifest_train.json", "manifest_test.json", "sub-0003")),
    Case("run-split-leak-in-evaluate", leak_in_evaluate, contains=("manifest_train.json", "manifest_test.json", "sub-0003")),
    Case("run-split-single-manifest", single_manifest_respects_splits, expect="ok",
         check=_is({"train": ["sub-0003", "sub-0004", "sub-0005", "sub-0006"], "val": ["sub-0001"], "test": ["sub-0002"]})),
]


# ---------------------------------------------------------------- 5. the run folder: one run at a time, stale locks
def run_in_use(resume: bool):
    def run(folder):
        from brainvlm.run import claim_run
        with claim_run(folder / "runs" / "run", resume=False):            # another process holds the folder
            return train(folder, config(folder), *(["resume=true"] if resume else []))
    return run

def finished_run(folder):
    fake_run(folder)
    return train(folder, config(folder))

def stale_lock(resume: bool):
    "A run folder whose lock names a process that died (kill -9); the next run takes the folder over and says so."
    def run(folder):
        from brainvlm.run import claim_run, LOCK_NAME
        run_dir = folder / "runs" / "run"; run_dir.mkdir(parents=True)
        pid = dead_pid()
        (run_dir / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": os.uname().nodename}))
        out = io.StringIO()
        with contextlib.redirect_stdout(out), claim_run(run_dir, resume=resume) as claim:
            holder = json.loads((run_dir / LOCK_NAME).read_text())["pid"]
        return {"pid": pid, "took_over": claim.took_over, "holder": holder, "printed": out.getvalue()}
    return run

def _took_over(folder, got):
    assert got["took_over"] == got["pid"] and got["holder"] == os.getpid(), got
    assert str(got["pid"]) in got["printed"] and "stale" in got["printed"], got["printed"]

def lock_released_after_error(folder):
    "A run that fails after claiming its folder releases it: the next claim succeeds."
    from brainvlm.run import claim_run
    with contextlib.suppress(Exception):
        with claim_run(folder / "runs" / "run", resume=False): raise RuntimeError("boom")
    with claim_run(folder / "runs" / "run", resume=False) as claim: return claim.took_over

FOLDER = [
    Case("run-folder-in-use", run_in_use(False), contains=("runs/run", "in use", str(os.getpid()))),
    Case("run-folder-in-use-resume", run_in_use(True), contains=("runs/run", "in use")),
    Case("run-folder-holds-a-run", finished_run, contains=("runs/run", "already holds a run", "resume=true")),
    Case("run-folder-stale-lock-resume", stale_lock(True), expect="ok", check=_took_over),
    Case("run-folder-stale-lock-new-run", stale_lock(False), expect="ok", check=_took_over),
    Case("run-folder-lock-released-on-error", lock_released_after_error, expect="ok", check=_is(None)),
]


# ---------------------------------------------------------------- 6. checkpoints: incomplete ones, a full disk
def _checkpoint(run: Path, step: int, complete: bool = True, under: str = ""):
    ck = run / under / f"checkpoint-{step}"; ck.mkdir(parents=True)
    (ck / "config.json").write_text("{}")
    if complete: (ck / "model.safetensors").write_bytes(b"x"); (ck / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return ck

def resume_point_skips_incomplete(folder):
    from brainvlm.trainer import resume_point, STAGING
    run = folder / "run"
    _checkpoint(run, 4); _checkpoint(run, 8); _checkpoint(run, 23, complete=False); _checkpoint(run, 12, complete=False, under=STAGING)
    out = io.StringIO()
    with contextlib.redirect_stdout(out): point = resume_point(run)
    return {"point": point, "printed": out.getvalue(), "left": sorted(p.name for p in run.iterdir())}

def _resumed_from_8(folder, got):
    assert got["point"].checkpoint.name == "checkpoint-8", got
    assert [Path(p).name for p in got["point"].skipped] == ["checkpoint-23"], got
    assert "checkpoint-8" in got["printed"] and "checkpoint-23" in got["printed"], got["printed"]
    assert got["left"] == ["checkpoint-23", "checkpoint-4", "checkpoint-8"], got["left"]    # only our own interrupted save is removed

def resume_after_incomplete_checkpoint(folder):
    "Train 2 steps, leave a half-written checkpoint-9 and an interrupted save of ours, resume to step 3."
    cfg = config(folder)
    run, _ = train(folder, cfg)
    from brainvlm.trainer import STAGING
    _checkpoint(run, 9, complete=False); _checkpoint(run, 3, complete=False, under=STAGING)
    run, printed = train(folder, cfg, "resume=true", "trainer.max_steps=3")
    return {"run": run, "printed": printed}

def _resumed_from_2(folder, got):
    run, printed = got["run"], got["printed"]
    assert "resuming from checkpoint-2" in printed and "checkpoint-9" in printed, printed
    log = [json.loads(l) for l in (run / "resumes.jsonl").read_text().splitlines()]
    assert log[-1]["checkpoint"].endswith("checkpoint-2") and log[-1]["skipped"][0].endswith("checkpoint-9"), log
    assert (run / "checkpoint-3" / "trainer_state.json").exists() and (run / "final" / "model.safetensors").exists()
    from brainvlm.trainer import STAGING
    assert not (run / STAGING).exists()

def disk_full(where: str):
    "torch.save fails with ENOSPC while writing into `where` (the checkpoint of step 2, or the final model)."
    def run(folder):
        import torch
        real = torch.save
        def save(obj, f, *a, **k):
            if where in str(f): raise OSError(errno.ENOSPC, "No space left on device", str(f))
            return real(obj, f, *a, **k)
        with mock.patch("torch.save", save): return train(folder, config(folder))
    return run

def _previous_checkpoint_intact(folder, got):
    run = folder / "runs" / "run"
    assert (run / "checkpoint-1" / "trainer_state.json").exists() and not (run / "checkpoint-2").exists(), sorted(p.name for p in run.iterdir())
    from brainvlm.trainer import STAGING
    assert not (run / STAGING).exists()

def rotation(folder):
    "save_total_limit=1: the older checkpoint goes only once the newer one is complete."
    run, _ = train(folder, config(folder), "trainer.save_total_limit=1", "trainer.max_steps=3")
    return sorted(p.name for p in run.iterdir() if p.name.startswith(("checkpoint-", ".")))

CHECKPOINTS = [
    Case("run-checkpoint-rotation", rotation, expect="ok", check=_is(["checkpoint-3"])),
    Case("run-resume-point-skips-incomplete", resume_point_skips_incomplete, expect="ok", check=_resumed_from_8),
    Case("run-resume-after-incomplete-checkpoint", resume_after_incomplete_checkpoint, expect="ok", check=_resumed_from_2),
    Case("run-checkpoint-disk-full", disk_full("/checkpoint-2/"), contains=("checkpoint-2", "No space left on device"), check=_previous_checkpoint_intact),
    Case("run-final-disk-full", disk_full("/final/"), contains=("runs/run/final", "No space left on device")),
]


# ---------------------------------------------------------------- 7. evaluate and ask on a folder that is not a finished run
def evaluate(path_of):
    def run(folder):
        from brainvlm.evaluate import evaluate_run
        return evaluate_run(path_of(folder), progress=False)
    return run

def ask_(path_of):
    def run(folder):
        from brainvlm.evaluate import ask
        return ask(path_of(folder), folder / "scan.nii.gz", "Sex?")
    return run

def _empty(folder): (folder / "empty").mkdir(); return folder / "empty"
def _file(folder): (folder / "a_file").write_text("x"); return folder / "a_file"
def _half_final(folder):
    run = fake_run(folder); (run / "final").mkdir(); (run / "final" / "config.json").write_text("{}"); return run

EVALUATE = [
    Case("run-evaluate-missing-folder", evaluate(lambda f: f / "nowhere"), contains=("nowhere", "does not exist")),
    Case("run-evaluate-not-a-run", evaluate(_empty), contains=("empty", "not a run folder", "config.yaml")),
    Case("run-evaluate-a-file", evaluate(_file), contains=("a_file", "not a folder")),
    Case("run-evaluate-no-final", evaluate(fake_run), contains=("runs/run", "final")),
    Case("run-evaluate-incomplete-final", evaluate(_half_final), contains=("runs/run/final",)),
    Case("run-ask-missing-folder", ask_(lambda f: f / "nowhere"), contains=("nowhere", "does not exist")),
    Case("run-ask-no-final", ask_(fake_run), contains=("runs/run", "final")),
    Case("run-cli-evaluate-not-a-run", lambda f: cli("evaluate", str(_empty(f))), contains=("empty", "not a run folder")),
    Case("run-cli-ask-no-final", lambda f: cli("ask", str(fake_run(f)), "--scan", str(f / "scan.nii.gz"), "Sex?"), contains=("runs/run", "final")),
]


# ---------------------------------------------------------------- 8. skip mode through training
def _truncate_train_t1(folder: Path) -> str:
    c = folder / "cohort"
    if not c.exists(): cohort(folder)
    rec = records(c, "train")[0]
    t1 = c / rec["modality_paths"]["T1"]; t1.write_bytes(t1.read_bytes()[:200])
    return rec["subject_id"]

def skip_trains(folder):
    "One truncated training image under on_error=skip: the run trains on the others and writes what it skipped."
    _truncate_train_t1(folder)
    run, printed = train(folder, config(folder, on_error="skip"))
    saved = json.loads((run / "skipped.json").read_text())
    return Skipped(saved["count"], printed + json.dumps(saved))

def skip_stats(folder):
    "The statistics of a run under on_error=skip leave the bad record out and count it."
    _truncate_train_t1(folder)
    from brainvlm.core import SkipLog
    from brainvlm.run import resolve_config, config_stats
    cfg = resolve_config(config(folder, on_error="skip"))
    log = SkipLog("skip")
    config_stats(cfg, skipped=log)
    return Skipped(len(log), log.summary())

def skip_everything(folder):
    "Every training image of T1 unreadable under on_error=skip: an error naming the modality and manifest, not an empty run."
    c = cohort(folder)
    for r in records(c, "train"): (c / r["modality_paths"]["T1"]).write_bytes(b"not a nifti")
    return train(folder, config(folder, on_error="skip", stats=None))

def raise_mode_names_record(folder):
    "The same truncated image under on_error=raise: one line naming the record and the file."
    _truncate_train_t1(folder)
    return train(folder, config(folder))

SKIP = [
    Case("run-skip-bad-image-trains", skip_trains, expect="skip", contains=("sub-0003", "T1w.nii.gz")),
    Case("run-skip-bad-image-stats", skip_stats, expect="skip", contains=("sub-0003",)),
    Case("run-skip-every-record", skip_everything, contains=("dataset.T1", "manifest_train.json", "skipped")),
    Case("run-raise-bad-image", raise_mode_names_record, contains=("sub-0003", "T1w.nii.gz")),
]


CASES = CONFIG + OVERRIDES + SELECTION + SPLITS + FOLDER + CHECKPOINTS + EVALUATE + SKIP
