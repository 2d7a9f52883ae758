"""The running-sum auxiliary objective (`aux-sum`): its target worked by hand, its read-out reading the heads before
the output projection, the saved model without the read-out, a resumed run equal to an uninterrupted one, and bad
input refused in one line."""

import json

import pytest
import torch

from brevity.errors import BrevityError
from brevity.tasks import load_problems
from brevity.tasks.mult import running_sums


@pytest.fixture(scope="module")
def zoo_tokenizer():
    from transformers import AutoTokenizer

    from brevity.zoo import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model("tiny-base"))


def test_running_sums_by_hand():
    # 12 * 34 = 408. Digits least significant first: a = (2, 1), b = (4, 3).
    # s0 = 2*4 = 8; s1 = 2*3 + 1*4 = 10; s2 = 1*3 = 3; s3 = 0. c_hat: 8, 10 + 0, 3 + 1, 0 + 0.
    assert running_sums(12, 34, 2) == [8, 10, 4, 0]
    # 7149 * 4764 = 34057836. a = (9, 4, 1, 7), b = (4, 6, 7, 4).
    # s0 = 36; s1 = 54 + 16 = 70; s2 = 63 + 24 + 4 = 91; s3 = 36 + 28 + 6 + 28 = 98;
    # s4 = 16 + 7 + 42 = 65; s5 = 4 + 49 = 53; s6 = 28; s7 = 0; each plus the carry floor(c_hat_(k-1) / 10).
    assert running_sums(7149, 4764, 4) == [36, 73, 98, 107, 75, 60, 34, 3]


def test_running_sums_give_the_answer_digits():
    for p in load_problems("mult", split="train", n=200, order="lsd"):
        sums = p.metadata["running_sums"]
        digits = "".join(str(c % 10) for c in sums)
        assert digits.rstrip("0") == p.answer.rstrip("0") and len(p.answer) in (7, 8)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A 2-layer, 4-head model from scratch trained a few steps with the objective, and its config."""
    from brevity.cli import parse_task
    from brevity.recipes.latent.train import LatentConfig, build_latent
    from brevity.zoo import resolve_model

    cfg = LatentConfig(mode="aux-sum", stages=1, steps_per_stage=6, batch_size=4, scratch=True, layers=2, heads=4,
                       width=64, aux_weight=1.0, checkpoint_every=2)
    out = build_latent(resolve_model("tiny-base"), parse_task("mult:order=lsd"), tmp_path_factory.mktemp("aux") / "m",
                       cfg, n_train=32)
    return out, cfg


def test_the_saved_model_is_plain_and_decodes(scratch):
    from safetensors import safe_open
    from transformers import AutoConfig

    from brevity.engines.hf import HFEngine
    from brevity.methods import build_method

    out, cfg = scratch
    config = AutoConfig.from_pretrained(out)
    assert (config.num_hidden_layers, config.num_attention_heads, config.hidden_size) == (2, 4, 64)
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        keys = list(f.keys())
    assert keys and all(k.startswith("model.") or k.startswith("lm_head.") for k in keys)  # no read-out weights
    man = json.loads((out / "manifest.json").read_text())
    assert man["recipe"] == "aux-sum" and man["latent"]["thoughts"] == 0 and man["train"]["steps"] == 6
    assert man["train"]["config"]["aux_weight"] == 1.0
    sols = build_method("coconut").run(load_problems("mult", split="test", n=2, order="lsd"), HFEngine(out))
    assert len(sols) == 2 and all(s.latent_steps == 0 for s in sols)


def test_the_read_out_sees_each_head_before_the_output_projection(zoo_tokenizer):
    from transformers import AutoModelForCausalLM

    from brevity.recipes.latent.aux import head_outputs
    from brevity.recipes.latent.train import LatentConfig, scratch_model
    from brevity.zoo import resolve_model

    model = scratch_model(resolve_model("tiny-base"), LatentConfig(mode="aux-sum", scratch=True, layers=2, heads=4,
                                                                   width=64))
    assert isinstance(model, AutoModelForCausalLM._model_mapping[type(model.config)])
    ids = torch.tensor([zoo_tokenizer("What is 12 * 34?").input_ids])
    with head_outputs(model, -1) as store:
        model(input_ids=ids)
    per_head = store["x"]
    assert per_head.shape == (1, ids.shape[1], 4, 16)
    proj = model.model.layers[-1].self_attn.o_proj
    # the projection of the concatenated heads is what the block adds to the residual stream
    assert torch.allclose(proj(per_head.flatten(-2)), proj(per_head.reshape(1, ids.shape[1], 64)))


def test_the_auxiliary_term_trains_the_model(scratch, zoo_tokenizer):
    """The regression's gradient reaches the transformer's weights, not only the read-out."""
    from brevity.recipes.latent.aux import RunningSumHead
    from brevity.recipes.latent.train import LatentConfig, aux_sum_loss, build_examples, scratch_model
    from brevity.zoo import resolve_model

    cfg = LatentConfig(mode="aux-sum", scratch=True, layers=2, heads=4, width=64, aux_weight=1.0)
    model = scratch_model(resolve_model("tiny-base"), cfg)
    head = RunningSumHead(2, 16)
    probs = load_problems("mult", split="train", n=4, order="lsd")
    batch = build_examples(cfg, probs, zoo_tokenizer, 1, None, 1)
    with_aux = aux_sum_loss(model, head, batch, probs, zoo_tokenizer, cfg)
    ce_only = aux_sum_loss(model, head, batch, probs, zoo_tokenizer,
                           LatentConfig(mode="aux-sum", scratch=True, layers=2, heads=4, width=64, aux_weight=0.0))
    assert with_aux.item() > ce_only.item()
    (with_aux - ce_only).backward()
    q = model.model.layers[-1].self_attn.q_proj.weight.grad
    assert head.weight.grad.abs().sum() > 0 and q is not None and q.abs().sum() > 0


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path, zoo_tokenizer):
    from brevity.recipes.latent.aux import RunningSumHead
    from brevity.recipes.latent.train import LatentConfig, scratch_model, train_latent
    from brevity.zoo import resolve_model

    cfg = LatentConfig(mode="aux-sum", stages=1, steps_per_stage=6, batch_size=4, scratch=True, layers=2, heads=4,
                       width=64, aux_weight=1.0, checkpoint_every=2)
    base = resolve_model("tiny-base")
    probs = load_problems("mult", split="train", n=32, order="lsd")

    def fresh():
        torch.manual_seed(0)
        return scratch_model(base, cfg), RunningSumHead(2, 16)

    model_a, head_a = fresh()
    train_latent(model_a, zoo_tokenizer, probs, cfg, checkpoint_dir=tmp_path / "a", aux_head=head_a)

    class Stop(Exception):
        pass

    def stop_at_5(step, loss):
        if step == 5:
            raise Stop
    model_b, head_b = fresh()
    with pytest.raises(Stop):
        train_latent(model_b, zoo_tokenizer, probs, cfg, progress=stop_at_5, checkpoint_dir=tmp_path / "b",
                     aux_head=head_b)
    model_c, head_c = fresh()
    model_c.apply(lambda m: m.reset_parameters() if hasattr(m, "reset_parameters") else None)  # other weights
    stats = train_latent(model_c, zoo_tokenizer, probs, cfg, checkpoint_dir=tmp_path / "b", resume=True,
                         aux_head=head_c)
    assert stats["steps"] == 6
    for (name, a), c in zip(model_a.state_dict().items(), model_c.state_dict().values()):
        assert torch.equal(a, c), name


@pytest.mark.parametrize("args, message", [
    (["--task", "arith"], "running sums"),
    (["--aux-layer", "5"], "out of range"),
    (["--layers", "2"], "--scratch"),
])
def test_bad_input_is_one_line(cli, tmp_path, args, message):
    result = cli(["train", "aux-sum", "--out", str(tmp_path / "x"), "--base", "tiny-base", "--steps", "1", *args])
    err = result.stdout + result.stderr
    assert result.returncode == 2 and message in err and "Traceback" not in err


def test_a_tokenizer_that_merges_digits_is_refused():
    from brevity.recipes.latent.aux import digit_positions

    class Merging:
        def decode(self, ids):
            return {1: "The answer is ", 2: "1234", 3: "5678", 4: "."}[ids[0]]

    p = load_problems("mult", split="train", n=1, order="lsd")[0]
    with pytest.raises(BrevityError, match="one token each"):
        digit_positions(p, Merging(), [1, 2, 3, 4])


def test_the_probe_recovers_a_linear_value_and_not_noise():
    from brevity.recipes.latent.probe import _fit, _predict, _r2

    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 32, generator=g)
    y = x @ torch.randn(32, generator=g) * 10 + 50
    noise = torch.randn(400, generator=g)
    assert _r2(y[200:].double(), _predict(_fit(x[:200], y[:200]), x[200:])) > 0.99
    assert _r2(noise[200:].double(), _predict(_fit(x[:200], noise[:200]), x[200:])) < 0.1


def test_explain_probe_reads_every_digit(cli, scratch, tmp_path):
    out, _ = scratch
    r = cli(["explain", "--model", str(out), "--task", "mult:order=lsd", "--n", "40", "--probe", "running-sums",
             "--out", str(tmp_path / "p.json")])
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads((tmp_path / "p.json").read_text())
    assert data["layer"] == 1 and data["layers"] == 2 and len(data["r2"]) == 8 and data["fit"] + data["held_out"] <= 40


@pytest.mark.parametrize("args, message", [
    (["--task", "arith", "--probe", "running-sums"], "mult:order=lsd"),
    (["--task", "mult:order=lsd", "--probe", "running-sums", "--layer", "9"], "out of range"),
    (["--task", "mult:order=lsd", "--probe", "sums"], "unknown --probe"),
    (["--task", "mult:order=lsd", "--layer", "1"], "--probe"),
])
def test_explain_probe_bad_input_is_one_line(cli, scratch, args, message):
    out, _ = scratch
    r = cli(["explain", "--model", str(out), "--n", "8", *args])
    err = r.stdout + r.stderr
    assert r.returncode == 2 and message in err and "Traceback" not in err
