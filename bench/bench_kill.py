"""Kill-and-resume at many random points: for each seed, train the tiny T1 + rsfMRI run of `tests/test_kill.py`,
`kill -9` it three times (two random steps, one in the middle of a checkpoint save), resume after each, and compare
the loss curve and final weights with an uninterrupted run. Prints a table and writes `outputs/bench/kill.json`.

    python bench/bench_kill.py --seeds 5"""
import argparse, json, random, subprocess, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import conftest, test_kill  # noqa: E402

def main():
    ap = argparse.ArgumentParser(); ap.add_argument("--seeds", type=int, default=5); ap.add_argument("--out", default="outputs/bench/kill.json")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tiny = conftest.make_tiny_training(Path(d))
        ref = test_kill.reference(tiny)
        for seed in range(a.seeds):
            rng = random.Random(seed)
            kills = sorted([("step", rng.randint(2, 22)), ("step", rng.randint(2, 22))], key=lambda k: k[1])
            kills.insert(rng.randint(0, 2), ("save", rng.randint(1, 19)))
            kills = sorted(kills, key=lambda k: k[1])
            t0 = time.perf_counter()
            row = {"seed": seed, "kills": kills}
            try:
                got = test_kill.kill_and_resume(tiny, f"seed{seed}", kills)
                row.update(max_abs_loss_diff=max(abs(got["losses"][s] - ref["losses"][s]) for s in ref["losses"]),
                           steps=len(got["losses"]), same_final_sha=got["sha"] == ref["sha"])
            except AssertionError as e:
                row["failed"] = str(e)[:500]
            row["seconds"] = round(time.perf_counter() - t0, 1)
            rows.append(row); print(row, flush=True)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(rows, indent=1))
    print(f"\n{'seed':>4} {'kills':40s} {'steps':>5} {'max|Δloss|':>10} {'same sha':>8}")
    for r in rows:
        print(f"{r['seed']:4d} {str(r['kills']):40s} {r.get('steps', '-'):>5} {r.get('max_abs_loss_diff', '-')!s:>10} {r.get('same_final_sha', r.get('failed', '')[:30])!s:>8}")
    print("written:", a.out)

if __name__ == "__main__": main()
