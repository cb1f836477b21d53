"""Tally the bad-input cases of `tests/cases_*.py` against the current code: per area, how many end in a clear error,
a counted skip, correct handling, vaguely (an error or skip that does not name the file, key or record it must, or
an error of several lines), silently (an error or skip was expected and the call just finished, or it finished
and its result fails the case's check: e.g. a file written outside the cache) or in a raw traceback. Prints the table and writes `outputs/bench/bad_input.json`.

    python bench/bench_bad_input.py [--only AREA]"""
import argparse, json, sys, tempfile, os
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fuzz import all_cases, outcome  # noqa: E402

def main():
    ap = argparse.ArgumentParser(); ap.add_argument("--only"); ap.add_argument("--out", default="outputs/bench/bad_input.json")
    a = ap.parse_args()
    rows, here = [], os.getcwd()
    for case in all_cases():
        if a.only and case.area != a.only: continue
        with tempfile.TemporaryDirectory() as d:
            os.chdir(d)
            try:
                got = outcome(case, Path(d)); kind = got.kind
                if kind == "ok" and case.expect != "ok": kind = "silent"
                if kind == "ok" and case.check is not None:       # finished: but did it do the right thing?
                    try: case.check(Path(d), got.result)
                    except Exception: kind = "silent"              # its check fails (or cannot even look)
            finally: os.chdir(here)
        named = all(s in got.text for s in case.contains)
        if kind in ("error", "skip") and not (named and (kind != "error" or "\n" not in got.text.strip())): kind = "vague"
        rows.append({"case": case.name, "area": case.area, "expect": case.expect, "got": kind, "names_what": named,
                     "text": got.text.strip().splitlines()[-1][:200] if got.text.strip() else ""})
        print(f"{case.area:10s} {case.name:45s} expect {case.expect:6s} got {kind:9s} {'' if named else '(does not name what it must)'}", flush=True)
    table = Counter((r["area"], r["got"]) for r in rows)
    areas = sorted({r["area"] for r in rows}); kinds = ["error", "skip", "ok", "vague", "silent", "traceback"]
    print("\n" + f"{'area':10s} {'kinds':>6s} " + " ".join(f"{k:>9s}" for k in kinds))
    for ar in areas + ["all"]:
        n = [sum(v for (a_, k), v in table.items() if k == kind and (ar == "all" or a_ == ar)) for kind in kinds]
        print(f"{ar:10s} {sum(n):6d} " + " ".join(f"{v:9d}" for v in n))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(rows, indent=1)); print("written:", a.out)

if __name__ == "__main__": main()
