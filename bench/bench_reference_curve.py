"""Does the supervised reference (`brainvlm.reference`) learn the benchmark cohort with more training subjects?
A validation-only learning curve: a benchmark-variant cohort with `--train` training and `--val` validation subjects
(the test split gets `--test` subjects that are never read), then for each modality and each training-set size in
`--sizes` the reference CNN trained for a fixed number of epochs, with every head's val loss and the val metrics
(sex AUC, age MAE, lesion AUC, side accuracy) after each epoch; beside it a check that needs no learning, whether a
lesion stands out of the anatomical variation between subjects at all (`visibility`, the detector of
`bench/bench_lesion_visibility.py`, which chooses the benchmark's lesions by it). Nothing here is scored on `test`:
it is the evidence for design choices (training-set size, training length), made on `val` only. Writes
`outputs/bench/reference_curve.json`.

    python bench/bench_reference_curve.py [--train 600 --val 100 --sizes 150,600 --epochs 12 --modalities T1,dMRI,rsfMRI]"""
import argparse, json, tempfile, time
from pathlib import Path


METRICS = ("sex_auc", "age_mae", "lesion_auc", "lesion_side_accuracy")


def curve(data: dict, n: int, epochs: int, seed: int = 0) -> list[dict]:
    "The reference CNN trained on the first `n` training subjects (all their windows) for `epochs` epochs: val losses and metrics per epoch."
    import torch
    from brainvlm.core import seed_everything
    from brainvlm.evaluate import metrics
    from brainvlm.reference import ReferenceFit, head_loss, head_targets, kind_heads, reference_net, reference_rows, _outputs
    train, val = data["train"], data["val"]
    chosen = set(list(dict.fromkeys(train.subject_ids))[:n])                     # the first n subjects, with all their windows
    keep = [i for i, s in enumerate(train.subject_ids) if s in chosen]
    x, meta = train.x[keep], [train.metadata[i] for i in keep]
    seed_everything(seed)
    heads = kind_heads(meta); losses = [l for h in heads for l in h.losses]
    y, y_val = head_targets(heads, meta), head_targets(heads, val.metadata)
    net = reference_net(x.shape[1], tuple(x.shape[2:]), len(losses))
    opt, order, log, t0 = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4), torch.Generator().manual_seed(seed), [], time.perf_counter()
    for epoch in range(1, epochs + 1):
        net.train(); total = 0.0
        for idx in torch.randperm(len(y), generator=order).split(8):
            loss = head_loss(net(x[idx]), y[idx], losses); opt.zero_grad(); loss.backward(); opt.step(); total += loss.item() * len(idx)
        out, col, per_head = _outputs(net, val.x), 0, {}
        for h in heads:
            k = len(h.losses); per_head[h.kind.name] = head_loss(out[:, col:col + k], y_val[:, col:col + k], h.losses).item(); col += k
        m = metrics(reference_rows(ReferenceFit(train.modality, net, heads, [], 0.0), val))[train.modality]
        log.append({"epoch": epoch, "train_loss": total / len(y), "val_loss": sum(per_head.values()), **{f"val_loss_{k}": v for k, v in per_head.items()},
                    **{k: m.get(k) for k in METRICS}, **{f"{k}_ci": m.get(f"{k}_ci") for k in METRICS}, "seconds": time.perf_counter() - t0})
        print(f"{train.modality} n={n} epoch {epoch:>2}: " + "  ".join(f"{k} {v:.3f}" for k, v in log[-1].items()
                                                                 if k != "epoch" and isinstance(v, float)), flush=True)
    return log


def visibility(data: dict) -> dict:
    """Lesion AUC on val of the detector that needs no training which `03_synth` fixes for the benchmark's lesions
    (`normative_lesion_scores`: signed, smoothed voxel-wise z-scores against the lesion-free training subjects, the
    largest inside the brain). A lesion that stands out of the variation between subjects' anatomy gives a high AUC;
    near 0.5 it does not. Returns {"auc": value, "auc_ci": its 95% bootstrap interval}."""
    import numpy as np
    from brainvlm.evaluate import _auc_of
    from brainvlm.synth import LESION_SIGNS, normative_lesion_scores
    train, val = data["train"], data["val"]
    controls = np.array([not m["lesion"] for m in train.metadata])
    score = normative_lesion_scores(train.x.numpy()[controls], val.x.numpy(), LESION_SIGNS[train.modality])
    return _auc_of("auc", np.array([bool(m["lesion"]) for m in val.metadata]), score)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=600); ap.add_argument("--val", type=int, default=100); ap.add_argument("--test", type=int, default=10)
    ap.add_argument("--sizes", default="150,600", help="training-set sizes (subjects), each at most --train")
    ap.add_argument("--epochs", type=int, default=12); ap.add_argument("--modalities", default="T1,dMRI,rsfMRI")
    ap.add_argument("--cohort", help="an existing benchmark cohort folder (made with --train/--val/--test) instead of a new one")
    ap.add_argument("--out", default="outputs/bench/reference_curve.json")
    a = ap.parse_args()
    from brainvlm.synth import SynthConfig, make_cohort
    from brainvlm.run import resolve_config
    import numpy as np
    from brainvlm.reference import reference_data
    sizes, mods = [int(s) for s in a.sizes.split(",")], a.modalities.split(",")
    if max(sizes) > a.train: ap.error(f"--sizes {a.sizes}: at most --train {a.train}")
    with tempfile.TemporaryDirectory() as d:
        cohort, t0 = Path(a.cohort) if a.cohort else Path(d) / "cohort", time.perf_counter()
        if not a.cohort: make_cohort(SynthConfig(variant="benchmark", split_sizes=(a.train, a.val, a.test)), cohort, progress=False)
        cohort_s, result, seen, majority = time.perf_counter() - t0, {}, {}, {}
        manifest = [str(cohort / "manifest_{split}.json")]
        for m in mods:
            ds = {"manifest": manifest, **({"sequence_length": 20, "stride_between_seq": 2.0} if m == "rsfMRI" else {})}   # the demo's fMRI windows
            cfg = resolve_config({"cohorts": [str(cohort / "cohort.yaml")], "cache": str(Path(d) / "cache"), "dataset": {m: ds}})
            data = {s: reference_data(cfg, m, s, every_window=(s == "train")) for s in ("train", "val")}
            result[m] = {str(n): curve(data, n, a.epochs) for n in sizes}
            seen[m] = visibility(data)
            ages = np.array([r["age"] for r in data["train"].metadata]); majority[m] = float(np.abs(np.array([r["age"] for r in data["val"].metadata]) - ages.mean()).mean())
            print(f"{m}: lesion AUC on val of the normative detector (no training): {seen[m]['auc']:.3f}", flush=True)
    print(f"\nval (n = {a.val} subjects), at the epoch with the lowest summed val loss, with 95% intervals; beside it the majority"
          f" answer (AUC 0.5; age: the training mean's MAE) and the no-training lesion visibility; cohort {cohort_s:.0f} s:")
    for m, by_n in result.items():
        for n, log in by_n.items():
            b = min(log, key=lambda r: r["val_loss"])
            shown = lambda k: "n/a" if b[k] is None else f"{b[k]:.3f} [{b[k + '_ci'][0]:.3f}, {b[k + '_ci'][1]:.3f}]"
            print(f"  {m:7s} n={n:>4}: epoch {b['epoch']:>2}  " + "  ".join(f"{k} {shown(k)}" for k in METRICS))
        print(f"  {m:7s} majority: age MAE {majority[m]:.3f}; lesion AUC of the normative detector without training: "
              f"{seen[m]['auc']:.3f} [{seen[m]['auc_ci'][0]:.3f}, {seen[m]['auc_ci'][1]:.3f}]")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({"args": vars(a), "cohort_s": round(cohort_s, 1), "val_n": a.val, "curves": result, "visibility_auc": seen, "majority_age_mae": majority}, indent=1))
    print("written:", a.out)


if __name__ == "__main__": main()
