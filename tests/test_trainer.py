"""The shared training core: resume equals an uninterrupted run, ranks draw different batches, schedules,
early stopping on validation, and GRPO's device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from brevity.errors import BrevityError
from brevity.recipes.sft import SFTConfig, ShardedBatches, train_sft
from brevity.recipes.trainer import LoopConfig, Stage, TrainLoop, schedule_factor


@pytest.fixture(scope="module")
def zoo_tokenizer(lrm_path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(lrm_path)


def tiny_model(tok):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=256,
                      pad_token_id=tok.pad_token_id)
    return LlamaForCausalLM(cfg)


def examples(n: int = 48):
    return [(f"What is {i} plus {i + 1}?", f" It is {2 * i + 1}.") for i in range(n)]


class Stop(Exception):
    pass


def test_resume_equals_uninterrupted(tmp_path, zoo_tokenizer):
    cfg = SFTConfig(steps=12, batch_size=4, lr=1e-2, warmup=2, checkpoint_every=4, val_examples=8, eval_every=3)
    whole = tiny_model(zoo_tokenizer)
    stats = train_sft(whole, zoo_tokenizer, examples(), cfg, checkpoint_dir=tmp_path / "a")
    assert stats["steps"] == 12 and stats["val_loss"] is not None
    assert not (tmp_path / "a").exists()  # a finished run clears its checkpoints

    def stop_at_7(step, loss):
        if step == 7:
            raise Stop
    stopped = tiny_model(zoo_tokenizer)
    with pytest.raises(Stop):
        train_sft(stopped, zoo_tokenizer, examples(), cfg, progress=stop_at_7, checkpoint_dir=tmp_path / "b")
    assert sorted(p.name for p in (tmp_path / "b").glob("*.pt")) == ["optimizer-00000004.pt", "step-00000004.pt"]
    resumed = tiny_model(zoo_tokenizer)  # a new process: fresh weights, then the checkpoint
    stats_b = train_sft(resumed, zoo_tokenizer, examples(), cfg, checkpoint_dir=tmp_path / "b", resume=True)
    assert stats_b["steps"] == 12
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    # the history of validation losses is the same too
    assert [h for h in stats_b["history"] if "val" in h] == [h for h in stats["history"] if "val" in h]


def test_resume_refuses_other_settings(tmp_path, zoo_tokenizer):
    cfg = SFTConfig(steps=6, batch_size=4, lr=1e-2, warmup=2, checkpoint_every=2)

    def stop_at_3(step, loss):
        if step == 3:
            raise Stop
    with pytest.raises(Stop):
        train_sft(tiny_model(zoo_tokenizer), zoo_tokenizer, examples(), cfg, progress=stop_at_3,
                  checkpoint_dir=tmp_path)
    other = SFTConfig(steps=6, batch_size=4, lr=5e-3, warmup=2, checkpoint_every=2)
    with pytest.raises(BrevityError, match="lr"):
        train_sft(tiny_model(zoo_tokenizer), zoo_tokenizer, examples(), other, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(BrevityError, match="no checkpoint"):
        train_sft(tiny_model(zoo_tokenizer), zoo_tokenizer, examples(), cfg, checkpoint_dir=tmp_path / "none",
                  resume=True)


def test_schedules():
    cos = schedule_factor(LoopConfig(warmup=10, schedule="cosine"), 100)
    const = schedule_factor(LoopConfig(warmup=10, schedule="constant"), 100)
    assert cos(4) == pytest.approx(0.5 * 0.5 * (1 + __import__("math").cos(__import__("math").pi * 0.04)))
    assert const(4) == pytest.approx(0.5) and const(50) == 1.0 and const(99) == 1.0
    assert cos(99) < 0.01
    with pytest.raises(BrevityError):
        LoopConfig(schedule="linear")


def test_stage_ends_when_validation_stops_improving():
    model = torch.nn.Linear(2, 1)
    vals = iter([1.0, 0.9, 0.95, 0.97, 0.99, 0.5, 0.4])  # best at the 2nd evaluation, then 2 worse: stop
    loop = TrainLoop([model], [Stage("a", 100), Stage("b", 2)],
                     LoopConfig(lr=1e-2, warmup=0, eval_every=2, patience=2))
    seen = []

    def loss_fn(stage, rng):
        seen.append(stage.name)
        return model(torch.ones(1, 2)).pow(2).sum()
    loop.run(loss_fn, lambda stage: next(vals) if stage.name == "a" else 0.0)
    assert seen.count("a") == 8 and seen.count("b") == 2  # 4 evaluations x 2 steps, then stage b whole
    assert any(h.get("early_stop") for h in loop.pos.history)


def test_sharded_batches_differ_by_rank_and_cover_epochs():
    lengths = [i % 7 for i in range(64)]
    r0, r1 = ShardedBatches(lengths, 4, 0, 0, 2), ShardedBatches(lengths, 4, 0, 1, 2)
    one = ShardedBatches(lengths, 4, 0)
    assert r0.at(3) == one.at(6) and r1.at(3) == one.at(7) and r0.at(3) != r1.at(3)
    first_epoch = [i for s in range(8) for r in (r0, r1) for i in r.at(s)]
    assert sorted(first_epoch) == list(range(64))


SCRIPT = """
import json, os, sys
from brevity.recipes.sft import SFTConfig, train_sft
from brevity.recipes import sft
from transformers import AutoTokenizer
sys.path.insert(0, {tests!r})
from test_trainer import examples, tiny_model
tok = AutoTokenizer.from_pretrained({tok!r})
seen = []
orig = sft.collate
sft.collate = lambda encoded, idx, pad: seen.append(sorted(idx)) or orig(encoded, idx, pad)
train_sft(tiny_model(tok), tok, examples(), SFTConfig(steps=3, batch_size=4, lr=1e-3, warmup=1))
from accelerate import PartialState
rank = PartialState(cpu=True).process_index
open(os.path.join({out!r}, f"rank{{rank}}.json"), "w").write(json.dumps(seen))
"""


def test_two_processes_draw_different_batches(tmp_path, zoo_tokenizer):
    """`accelerate launch` with two CPU processes: each rank trains on its own batches."""
    tok_dir = tmp_path / "tok"
    zoo_tokenizer.save_pretrained(tok_dir)
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parent), tok=str(tok_dir), out=str(tmp_path)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                    "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                    "--main_process_port", "29517", str(script)], check=True, env=env, timeout=280,
                   capture_output=True)
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert len(r0) == len(r1) == 3
    assert all(a != b for a, b in zip(r0, r1))


def test_grpo_uses_the_accelerator_when_there_is_one(monkeypatch, tmp_path):
    """`use_cpu` follows torch.cuda.is_available() (TRL's config itself is replaced by a recorder: building a
    real one with use_cpu=False on a machine without CUDA fails in torch)."""
    from types import SimpleNamespace

    import trl

    from brevity.recipes import rl

    monkeypatch.setattr(trl, "GRPOConfig", lambda **kw: SimpleNamespace(**kw))
    member = SimpleNamespace(steps=1, lr=1e-4, group_size=8, completion_limit=448)
    for available in (False, True):
        monkeypatch.setattr(torch.cuda, "is_available", lambda a=available: a)
        assert rl.grpo_config(member, tmp_path).use_cpu is (not available)


def test_lora_trains_low_rank_updates_merged_into_the_weights(zoo_tokenizer):
    """--lora-rank R (TokenSkip's zoo recipe uses 8): every linear layer moves by a matrix of rank <= R, merged
    into the saved weights (no peft wrapper left), and nothing else moves."""
    model = tiny_model(zoo_tokenizer)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    stats = train_sft(model, zoo_tokenizer, examples(), SFTConfig(steps=6, batch_size=4, lr=1e-2, warmup=1,
                                                                  lora_rank=2))
    assert stats["lora_rank"] == 2 and type(model).__name__ == "LlamaForCausalLM"
    after = model.state_dict()
    assert set(after) == set(before)
    moved = 0
    for name, w in before.items():
        delta = after[name] - w
        if name.endswith("proj.weight"):
            assert torch.linalg.matrix_rank(delta).item() <= 2, name
            moved += bool(delta.abs().max() > 0)
        else:
            assert torch.equal(after[name], w), name  # embeddings and norms are not adapted
    assert moved >= 7  # q, k, v, o, gate, up, down of the one layer


def test_the_cli_offers_the_trainers_schedules():
    from brevity.cli.train import Schedule
    from brevity.recipes.trainer import SCHEDULES

    assert tuple(s.value for s in Schedule) == SCHEDULES
