"""`brainvlm memory` and `brainvlm slurm` as a user runs them, in subprocesses, from a checkout whose `data/UKB` holds a
six-subject BIDS dataset and its manifests (the example 7B configs name them): the memory table printed is the one
`brainvlm.scale.memory_table` computes for the config's model on the meta device, a bad strategy is one clear line, and
the sbatch script written is `slurm_script`'s for the config and valid shell. The arithmetic itself is tested in
nbs/08a_scale.ipynb."""
import shutil, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    from brainvlm.cohorts import ingest_bids, write_example_bids
    folder = tmp_path_factory.mktemp("checkout")
    ingest_bids(write_example_bids(folder / "data" / "UKB", n_subjects=6), "UKB")
    shutil.copytree(ROOT / "configs", folder / "configs")
    return folder


def brainvlm(folder, *args):
    return subprocess.run(["brainvlm", *map(str, args)], capture_output=True, text=True, cwd=folder)


def test_memory_prints_the_estimate(checkout, monkeypatch):
    from brainvlm.run import resolve_config
    from brainvlm.scale import Strategy, memory_table, meta_model
    r = brainvlm(checkout, "memory", "configs/llava-1.5-7b-lora.yaml", "--gpus", "8", "--zero", "3")
    assert r.returncode == 0, r.stderr[-3000:]
    monkeypatch.chdir(checkout)
    cfg = resolve_config("configs/llava-1.5-7b-lora.yaml")
    table = memory_table(meta_model(cfg), cfg, Strategy(8, zero=3)).round(2).to_string()
    assert r.stdout.rstrip().endswith(table), r.stdout
    assert "ZeRO-3 on 8 GPUs" in r.stdout and "T1 (512+128 tokens)" in r.stdout and "rsfMRI (1080+128 tokens)" in r.stdout


def test_memory_refuses_offload_without_zero(checkout):
    r = brainvlm(checkout, "memory", "configs/llava-1.5-7b-lora.yaml", "--offload")
    assert r.returncode == 2 and r.stderr.strip() == "brainvlm memory: error: offload needs DeepSpeed ZeRO: give --zero 2 or --zero 3", r.stderr


def test_slurm_writes_the_script(checkout):
    from brainvlm.scale import slurm_script
    r = brainvlm(checkout, "slurm", "configs/llava-1.5-7b-deepspeed.yaml", "trainer.max_steps=10", "--nodes", "2", "--gpus-per-node", "4",
                 "--out", "job.sh")
    assert r.returncode == 0 and "sbatch job.sh" in r.stdout, r.stderr[-3000:]
    script = (checkout / "job.sh").read_text()
    python = script.split("srun --kill-on-bad-exit=1 ")[1].split()[0]          # the interpreter that ran `brainvlm`: this environment's
    assert Path(python).resolve() == Path(sys.executable).resolve()
    assert script == slurm_script("configs/llava-1.5-7b-deepspeed.yaml", 2, 4, ["trainer.max_steps=10"], "llava-1.5-7b-t1-rsfmri-zero2",
                                  workers=4, workdir=checkout, python=python)
    assert "#SBATCH --nodes=2" in script and "--nnodes 2 --nproc_per_node 4" in script and f"cd {checkout.resolve()}" in script
    assert subprocess.run(["bash", "-n", str(checkout / "job.sh")]).returncode == 0
