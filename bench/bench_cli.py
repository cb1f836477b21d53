"""How long a user waits for the command line's help: `brainvlm --help` and every subcommand's `--help`.

What is measured
----------------
Wall-clock seconds of each command in a fresh subprocess (the `brainvlm` console script of this environment, else
`python -m brainvlm`), `--repeats` times (default 3); the table shows the median and the slowest, and whether the
command printed anything on stderr (help should print nothing there). The subcommands are read from the top-level
help's `{synth,ingest,...}` list, so a command added later is measured too. The target (issue 14) is under 2 s each.

Usage::

    .venv/bin/python bench/bench_cli.py [--out outputs/bench] [--repeats 3]

It prints a markdown table and writes `<out>/cli.json`.
"""
from __future__ import annotations

import argparse, json, os, platform, re, shutil, statistics, subprocess, sys, time
from pathlib import Path


def command() -> list[str]:
    "The `brainvlm` console script beside this Python, else `python -m brainvlm`."
    script = Path(sys.executable).with_name("brainvlm")
    if script.exists(): return [str(script)]
    return [shutil.which("brainvlm")] if shutil.which("brainvlm") else [sys.executable, "-m", "brainvlm"]


def timed(argv: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True, env=env)
    return time.perf_counter() - t0, r


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="outputs/bench", help="folder for cli.json")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = command()
    _, top = timed([*cmd, "--help"], env)
    if top.returncode != 0: sys.exit(f"{' '.join(cmd)} --help failed:\n{top.stderr}")
    subcommands = re.search(r"\{([\w,-]+)\}", top.stdout).group(1).split(",")
    rows = []
    for args in [["--help"], *[[s, "--help"] for s in subcommands]]:
        times, stderr = [], ""
        for _ in range(a.repeats):
            t, r = timed([*cmd, *args], env)
            if r.returncode != 0: sys.exit(f"{' '.join(cmd + args)} failed:\n{r.stderr}")
            times.append(t); stderr = stderr or r.stderr.strip()
        rows.append({"command": " ".join(["brainvlm", *args]), "median_s": round(statistics.median(times), 2),
                     "max_s": round(max(times), 2), "stderr": stderr[:300]})
    t, r = timed([sys.executable, "-c", "import sys, brainvlm.__main__; "
                  "print(','.join(m for m in ('torch', 'transformers', 'peft', 'bitsandbytes', 'pandas', 'nibabel', 'scipy') if m in sys.modules))"], env)
    imports = {"seconds": round(t, 2), "heavy_modules_loaded": [m for m in r.stdout.strip().split(",") if m]}
    print(f"| command | median s | max s | stderr |\n|---|---|---|---|")
    for row in rows: print(f"| `{row['command']}` | {row['median_s']} | {row['max_s']} | {'yes' if row['stderr'] else ''} |")
    print(f"\n`import brainvlm.__main__`: {imports['seconds']} s; heavy modules it loads: {', '.join(imports['heavy_modules_loaded']) or 'none'}")
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    (out / "cli.json").write_text(json.dumps({"command": cmd, "repeats": a.repeats, "cpus": os.cpu_count(), "python": platform.python_version(),
                                              "load_average": os.getloadavg(), "rows": rows, "import": imports}, indent=1))
    print("written:", out / "cli.json")


if __name__ == "__main__":
    main()
