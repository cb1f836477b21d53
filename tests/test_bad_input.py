"""Every bad-input case of `tests/cases_*.py` ends as it must: a clear error naming the file, key or record, or a
counted skip; never silently, never as a raw traceback (see `tests/fuzz.py`)."""
import pytest

from fuzz import all_cases, outcome

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    got = outcome(case, tmp_path)
    assert got.kind == case.expect, f"{case.name}: expected {case.expect}, got {got.kind}:\n{got.text}"
    for s in case.contains:
        assert s in got.text, f"{case.name}: {s!r} not named in: {got.text}"
    if got.kind == "error": assert "\n" not in got.text.strip(), f"{case.name}: the error is not one line: {got.text}"
    if case.check is not None: case.check(tmp_path, got.result)
