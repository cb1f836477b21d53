"""DeepSpeed ZeRO through `brainvlm train` on two CPU processes (torchrun, gloo), on the tiny cohort of `tiny_training`
(T1 and rsfMRI in modality-homogeneous batches, so that in many steps rank 0 trains T1 while rank 1 trains rsfMRI):

- ZeRO-2 and ZeRO-3 give the DDP run's losses over 20 steps (tiny-llava; tiny-blip2-opt with LoRA), within `TOL`;
- steps where the two ranks trained different modalities happened, and finished (each launch has a watchdog);
- each rank holds Adam state for 1/2 of the trainable parameters, none for the frozen ones (`deepspeed_check.json`);
- the final model saved under ZeRO-3 is one safetensors file that `from_pretrained` reads, with the logits of the
  trained weights (DeepSpeed's own fp32 partitions of the last checkpoint, consolidated by `zero_to_fp32`);
- a ZeRO-3 run resumed from its step-10 checkpoint continues the same loss curve;
- LoRA under ZeRO-3 saves an adapter that PEFT loads, holding the trained adapter weights;
- 8/4-bit quantization with ZeRO-3 is refused with one line when the config is checked.

Run as a script, this file is one rank of a launch: `brainvlm train` with the modality each rank trains in each step
recorded in the run folder (`modalities-rank<r>.json`)."""
import json, os, shutil, signal, subprocess, sys
from pathlib import Path

import pytest

STEPS = 20
TOL = 1e-5      # relative: fp32 on CPU, only the order of the gradient sums differs (measured: < 1e-6)
LAUNCH_TIMEOUT = 240     # the watchdog of one two-rank launch, in seconds (a launch takes ~20 s on 2 cores)


def launch(tiny, run_name: str, *overrides: str, port: int = 29541) -> Path:
    "Run this file as two ranks (torchrun, gloo) of `brainvlm train`; a launch still running after LAUNCH_TIMEOUT is killed and fails."
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port), __file__,
           str(tiny["config"]), f"run_name={run_name}", f"trainer.max_steps={STEPS}", "trainer.logging_steps=1",
           "trainer.answer_samples_every=0", *overrides]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=tiny["env"], start_new_session=True)
    try: out, _ = p.communicate(timeout=LAUNCH_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL); out, _ = p.communicate()
        pytest.fail(f"{run_name}: no end after {LAUNCH_TIMEOUT} s (ranks waiting on each other?)\n{out[-3000:]}")
    assert p.returncode == 0, f"{run_name}:\n{out[-6000:]}"
    return tiny["runs"] / run_name


def losses(run: Path) -> dict[int, float]:
    return {h["step"]: h["loss"] for h in json.loads((run / "log_history.json").read_text()) if "loss" in h}


def assert_same_losses(run: Path, reference: Path, steps=range(1, STEPS + 1)):
    got, want = losses(run), losses(reference)
    for s in steps: assert got[s] == pytest.approx(want[s], rel=TOL), (run.name, s, got[s], want[s])


def mixed_steps(run: Path) -> int:
    "Steps in which the two ranks trained different modalities."
    ranks = [dict((s, tuple(m)) for s, m in json.loads((run / f"modalities-rank{r}.json").read_text())) for r in (0, 1)]
    return sum(ranks[0][s] != ranks[1][s] for s in ranks[0])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from conftest import make_tiny_training
    t = make_tiny_training(tmp_path_factory.mktemp("deepspeed"))
    for base in ("tiny-llava", "tiny-blip2-opt"):     # built once, before the ranks start (they would race to build them)
        subprocess.run([sys.executable, "-c", f"from brainvlm.models import resolve_base; resolve_base({base!r})"], check=True, env=t["env"])
    return t


@pytest.fixture(scope="module")
def llava(tiny) -> dict[str, Path]:
    "tiny-llava trained 20 steps under DDP, ZeRO-2 and ZeRO-3 (checkpoints at 10 and 20)."
    return {name: launch(tiny, name, f"trainer.deepspeed={ds}", "trainer.save_steps=10")
            for name, ds in [("ddp", "null"), ("zero2", "zero2"), ("zero3", "zero3")]}


def test_zero_losses_equal_ddp_with_ranks_on_different_modalities(llava):
    for name in ("zero2", "zero3"):
        assert_same_losses(llava[name], llava["ddp"])
        assert mixed_steps(llava[name]) >= 3, "the ranks never trained different modalities in one step"
    assert json.loads((llava["ddp"] / "ddp_check.json").read_text())["identical"]
    assert json.loads((llava["zero2"] / "ddp_check.json").read_text())["identical"]     # ZeRO-2 keeps whole replicas of the weights


def test_each_rank_holds_optimizer_state_for_half_the_trainable_parameters(llava):
    for name, stage in (("zero2", 2), ("zero3", 3)):
        check = json.loads((llava[name] / "deepspeed_check.json").read_text())
        assert (check["world_size"], check["zero_stage"]) == (2, stage)
        assert check["trainable"] < check["parameters"] / 3                           # patch embeddings and projector only
        held = [r["elements"] for r in check["ranks"]]
        assert sum(held) >= check["trainable"] and sum(held) - check["trainable"] < 64, (held, check)  # frozen: no state (padding only)
        assert max(held) - min(held) < 64, held                                       # 1/2 each
        assert all(r["bytes"] >= 2 * 4 * r["elements"] for r in check["ranks"])      # two fp32 Adam moments


def test_zero3_final_model_loads_with_the_trained_logits(llava):
    import torch
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from brainvlm.models import load_families
    load_families()
    final = llava["zero3"] / "final"
    assert [p.name for p in final.glob("*.safetensors")] == ["model.safetensors"]
    loaded = AutoModelForImageTextToText.from_pretrained(final).eval()
    trained = AutoModelForImageTextToText.from_pretrained(final).eval()             # the same classes, then DeepSpeed's own weights
    state = get_fp32_state_dict_from_zero_checkpoint(str(llava["zero3"] / f"checkpoint-{STEPS}"))
    missing, unexpected = trained.load_state_dict(state, strict=False)
    assert not unexpected and all("embeddings" not in k and "projector" not in k for k in missing), (missing, unexpected)
    proc = AutoProcessor.from_pretrained(final)
    enc = proc("<image>\nWhat is the participant's sex?", modality="T1", pixel_values=torch.randn(1, 1, 16, 16, 16, generator=torch.Generator().manual_seed(0)))
    with torch.no_grad():
        assert torch.equal(loaded(**enc, modality="T1").logits, trained(**enc, modality="T1").logits)
    ddp = AutoModelForImageTextToText.from_pretrained(llava["ddp"] / "final").eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(**enc, modality="T1").logits, ddp(**enc, modality="T1").logits, rtol=1e-4, atol=1e-4)


def test_zero3_resume_continues_the_loss_curve(llava, tiny):
    run, resumed = llava["zero3"], tiny["runs"] / "zero3-resumed"
    shutil.copytree(run, resumed, ignore=shutil.ignore_patterns(f"checkpoint-{STEPS}", "final", "log_history.json", "modalities-*"))
    launch(tiny, "zero3-resumed", "trainer.deepspeed=zero3", "trainer.save_steps=10", "resume=true", port=29542)
    assert "checkpoint-10" in (resumed / "resumes.jsonl").read_text()
    assert_same_losses(resumed, run, steps=range(11, STEPS + 1))


def test_blip2_lora_under_zero3(tiny):
    "tiny-blip2-opt with LoRA: ZeRO-3 gives DDP's losses, and its adapter loads with PEFT holding the trained weights."
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint
    from brainvlm.models import load_base
    common = ("model.hf_name=tiny-blip2-opt", "lora.r=4", f"trainer.save_steps={STEPS}")
    ddp = launch(tiny, "blip2-ddp", "trainer.deepspeed=null", *common, port=29543)
    zero3 = launch(tiny, "blip2-zero3", "trainer.deepspeed=zero3", *common, port=29544)
    assert_same_losses(zero3, ddp)
    final = zero3 / "final"
    saved = load_file(final / "adapter_model.safetensors")
    assert saved and all(t.numel() > 0 for t in saved.values())
    base, _ = load_base("tiny-blip2-opt", modalities={"T1": {"img_size": [16, 16, 16], "patch_size": [8, 8, 8]},
                                                      "rsfMRI": {"img_size": [16, 16, 16], "sequence_length": 4, "patch_size": [8, 8, 8, 2]}},
                        base_dir=tiny["env"]["BRAINVLM_BASE_DIR"])
    peft = PeftModel.from_pretrained(base, str(final))
    trained = get_fp32_state_dict_from_zero_checkpoint(str(zero3 / f"checkpoint-{STEPS}"))
    lora = {n: p for n, p in peft.named_parameters() if "lora_" in n}
    assert lora and any(n.endswith("lora_B.default.weight") and p.abs().sum() > 0 for n, p in lora.items())   # trained: B left zero
    for n, p in lora.items():
        assert torch.equal(p.detach(), trained[n]), n


def test_kbit_with_zero3_refused(tiny):
    from brainvlm.core import ConfigError
    from brainvlm.run import resolve_config
    for bits in (4, 8):
        with pytest.raises(ConfigError, match=rf"{bits}-bit weights cannot be partitioned by ZeRO-3") as e:
            resolve_config(tiny["config"], [f"quantization.bits={bits}", "trainer.deepspeed=zero3"])
        assert "\n" not in str(e.value)
    cfg = resolve_config(tiny["config"], ["quantization.bits=4", "trainer.deepspeed=zero2"])      # ZeRO-2 leaves the weights whole
    assert cfg.trainer.deepspeed.zero_optimization.stage == 2


if __name__ == "__main__":
    # One rank of a launch: `brainvlm train CONFIG OVERRIDES...`, recording the modalities each training step of this rank held.
    import brainvlm.trainer as trainer
    from brainvlm.run import train
    seen, compute_loss = [], trainer.ModalityLosses.compute_loss
    def recording(self, model, inputs, *args, **kwargs):
        if model.training: seen.append([self.state.global_step + 1, sorted(inputs)])
        return compute_loss(self, model, inputs, *args, **kwargs)
    trainer.ModalityLosses.compute_loss = recording
    run = train(sys.argv[1], sys.argv[2:])
    (run / f"modalities-rank{os.environ['RANK']}.json").write_text(json.dumps(seen))
