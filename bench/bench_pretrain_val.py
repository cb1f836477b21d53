"""Pre-training choices made on val: the pre-training quickstart trained once per value of one config key, scored on val.

What is measured
----------------
`configs/pretrain-quickstart.yaml` (tiny-blip on the T1 scans and reports of the 400-subject plumbing cohort) trained
with seed 0 once per value of one key (`--vary KEY=V1,V2,...`), nothing else changed. Each run's first and last logged
ITM loss (a head that ignores the pair sits at ln 3 − (2/3) ln 2 ≈ 0.637 with one positive and two negatives per image)
and its retrieval on the **val** split (`evaluate_retrieval`, pool 16: val holds 52 distinct captions, fewer than a pool
of 64) are printed and written to `<out>/pretrain_val_<KEY>.json`.

The rule, written with the table: the value with the highest image-to-text R@1 on val by `--rule` (`itc+itm`: after
ITM re-ranking; `itc`: by ITC alone) is the quickstart's; test is scored once, afterwards, by `nbs/pretrain.ipynb`.
Choices made with it, in this order:

* `--vary model.config.itm_hard_fraction=1.0,0.5,0.0 --rule itc+itm`: the share of ITM negatives drawn by ITC
  similarity (BLIP's hard negatives: 1.0) against the rest drawn uniformly among the non-matching captions; 0.5 chosen.
* `--vary trainer.max_steps=400,1200,2000 --rule itc` (with `itm_hard_fraction` 0.5): the length of training, after
  the test score at 400 steps left image-to-text R@1 in pools of 64 inside chance's reach; 400 kept (val R@1 by ITC
  0.296 at 400 steps, 0.148 at 1200, 0.204 at 2000: longer training over-fits the 240 training subjects).

Usage::

    .venv/bin/python bench/bench_pretrain_val.py --vary KEY=V1,V2,... [--rule itc+itm|itc] [--out outputs/bench]
"""
import argparse, json, time
from pathlib import Path

import yaml


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vary", required=True, help="KEY=V1,V2,...: a config key (dotted) and its values")
    ap.add_argument("--rule", choices=["itc+itm", "itc"], default="itc+itm", help="the method whose val image-to-text R@1 chooses")
    ap.add_argument("--out", default="outputs/bench")
    args = ap.parse_args()
    key, values = args.vary.split("=", 1)
    values = [yaml.safe_load(v) for v in values.split(",")]
    from brainvlm.pretrain import pretrain, evaluate_retrieval, prepare_pretrain_quickstart
    from brainvlm.cohorts import read_json
    config, _ = prepare_pretrain_quickstart()
    rows, stamp = [], time.strftime("%Y%m%d-%H%M%S")
    for v in values:
        t0 = time.perf_counter()
        extra = [f"trainer.save_steps={v}"] if key == "trainer.max_steps" else []        # the last step is saved
        run = pretrain(config, [f"run_name=val-{key.split('.')[-1]}-{stamp}-{v}", f"{key}={v}", *extra])
        itm = [h["loss/T1/itm"] for h in read_json(run / "log_history.json") if "loss/T1/itm" in h]
        train_s = round(time.perf_counter() - t0)
        t = evaluate_retrieval(run, split="val", pool_sizes=(16,))
        t = t[t.n > 0]
        rows.append({key: v, "itm_loss_first": itm[0], "itm_loss_last": itm[-1], "seconds": train_s,
                     "val": t[["direction", "method", "pool", "metric", "value", "ci_low", "ci_high", "chance", "n"]].to_dict("records")})
        print(f"{key} {v}: ITM loss {itm[0]:.3f} -> {itm[-1]:.3f}, {train_s} s of training")
        print(t[["direction", "method", "metric", "value", "ci_low", "ci_high", "chance"]].round(3).to_string(index=False), flush=True)
    r1 = {str(r[key]): next(x["value"] for x in r["val"] if x["direction"] == "image-to-text" and x["method"] == args.rule
                            and x["metric"] == "R@1") for r in rows}
    best = max(r1, key=r1.get)
    print(f"image-to-text R@1 by {args.rule} on val:", r1, "-> chosen:", best)
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    (out / f"pretrain_val_{key.split('.')[-1]}.json").write_text(json.dumps({"key": key, "rule": args.rule, "runs": rows, "val_r1": r1, "chosen": best}, indent=1))


if __name__ == "__main__":
    main()
