"""The bad-input harness: each `Case` builds one kind of bad input (a manifest, a file, a config, a kill) in a fresh
folder and runs brainvlm on it, in-process, as a user would; `outcome` sorts what happened into

- `error`:     a `BrainVLMError` (or the command line's one-line `brainvlm CMD: error: ...` and exit 2),
- `skip`:      the call finished and reports the bad input skipped and counted (it returns `Skipped`),
- `ok`:        the call finished and nothing was wrong with the input (a case that checks correct handling),
- `traceback`: any other exception (what a user would see as a raw traceback).

A case expecting `error` or `skip` that ends `ok` is *silent*. `tests/test_bad_input.py` asserts each case's expected
outcome and the strings its message must name (file, key, record); `bench/bench_bad_input.py` tallies them.
The cases live in `tests/cases_*.py`, one module per area, each with a `CASES` list."""
from __future__ import annotations
import contextlib, importlib, io, sys, traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).parent


@dataclass
class Skipped:
    "What a call that skipped bad input returns: how many it skipped and the text it showed the user."
    count: int
    text: str


@dataclass
class Case:
    name: str                                  # short id, e.g. "manifest-subject-id-escapes"
    run: Callable[[Path], Any]                 # build the bad input under the folder and run brainvlm on it
    expect: str = "error"                      # "error" | "skip" | "ok"
    contains: tuple[str, ...] = ()             # what the error or skip text must name (file, key, record)
    check: Callable[[Path, Any], None] | None = None   # further assertions after the call (e.g. nothing written outside)
    area: str = ""                             # filled from the module name


@dataclass
class Outcome:
    kind: str                                  # "error" | "skip" | "ok" | "traceback"
    text: str = ""
    result: Any = None


def cli(*argv: str) -> Any:
    "Run `brainvlm ARGV` in-process: a `BrainVLMError` surfaces as the one-line message the console would print."
    from brainvlm.__main__ import main
    from brainvlm.core import BrainVLMError
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err): main(list(argv))
    except SystemExit as e:
        if e.code not in (0, None):
            msg = err.getvalue().strip().splitlines()
            raise BrainVLMError(msg[-1] if msg else f"exit {e.code}") from None
    return err.getvalue()


def outcome(case: Case, folder: Path) -> Outcome:
    "Run one case in `folder` and sort what happened."
    from brainvlm.core import BrainVLMError
    try: res = case.run(folder)
    except BrainVLMError as e: return Outcome("error", str(e))
    except Exception: return Outcome("traceback", traceback.format_exc())
    if isinstance(res, Skipped): return Outcome("skip" if res.count > 0 else "ok", res.text, res)
    return Outcome("ok", "" if res is None else str(res)[:2000], res)


def all_cases() -> list[Case]:
    "Every case of every `tests/cases_*.py`, with its area set to the module's suffix."
    if str(HERE) not in sys.path: sys.path.insert(0, str(HERE))
    out = []
    for f in sorted(HERE.glob("cases_*.py")):
        mod = importlib.import_module(f.stem)
        for c in mod.CASES: c.area = c.area or f.stem.removeprefix("cases_"); out.append(c)
    names = [c.name for c in out]
    dup = {n for n in names if names.count(n) > 1}
    if dup: raise ValueError(f"duplicate case names: {sorted(dup)}")
    return out


_COHORT: Path | None = None

def cohort(folder: Path, modalities: str = "T1,dMRI,rsfMRI") -> Path:
    """A valid 6-subject synthetic cohort (16³, 8 fMRI frames) copied to `folder/cohort` for a case to break; built once
    per process. Its presets are registered; manifests are `manifest_{train,val,test}.json` with `cohort: SYNTH`."""
    import shutil, tempfile
    from brainvlm.cohorts import register_cohorts
    from brainvlm.synth import SynthConfig, make_cohort
    global _COHORT
    if _COHORT is None or not _COHORT.exists():
        _COHORT = Path(tempfile.mkdtemp(prefix="brainvlm-fuzz-")) / "cohort"
        with contextlib.redirect_stderr(io.StringIO()):
            make_cohort(SynthConfig(n=6, grid=16, fmri_grid=16, frames=8, dwi_directions=6), _COHORT, workers=1)
    dst = Path(folder) / "cohort"
    shutil.copytree(_COHORT, dst)
    register_cohorts(dst / "cohort.yaml")
    return dst
