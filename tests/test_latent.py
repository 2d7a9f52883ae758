"""Continuous thoughts (Coconut): KV-cached decoding equals re-forward decoding, left padding is exact,
the curriculum's examples are built right, gradients flow through the thought chain, and the recipe and
method run end to end by name."""

import json
import subprocess
import sys

import pytest
import torch

from brevity.errors import BrevityError
from brevity.methods.control import prompts
from brevity.methods.latent import BOT, EOT, cached_generate, reforward_generate
from brevity.recipes.latent.data import chain_steps, latent_example
from brevity.recipes.latent.train import coconut_loss
from brevity.tasks import load_problems


@pytest.fixture(scope="module")
def setup(lrm_engine):
    tok = lrm_engine.tokenizer
    bot, eot = tok.convert_tokens_to_ids([BOT, EOT])
    probs = load_problems("arith", split="test", n=6)
    prefixes = [list(p) + [bot] for p in prompts(probs, lrm_engine)]
    return lrm_engine.model(), tok, eot, prefixes


@pytest.mark.parametrize("n", [0, 3])
def test_cached_thoughts_decode_like_reforward(setup, n):
    model, tok, eot, prefixes = setup
    a, pa = cached_generate(model, prefixes, n, eot, tok.eos_token_id, tok.pad_token_id, 24)
    b, pb = reforward_generate(model, prefixes, n, eot, tok.eos_token_id, tok.pad_token_id, 24)
    assert a == b and all(a)
    assert pa == pb + 1  # the cached path's prefill is its own pass; re-forward folds it into every step


def test_left_padding_is_exact(setup):
    model, tok, eot, prefixes = setup
    assert len({len(p) for p in prefixes}) > 1  # the batch really is ragged
    batch, _ = cached_generate(model, prefixes, 2, eot, tok.eos_token_id, tok.pad_token_id, 16)
    alone = [cached_generate(model, [p], 2, eot, tok.eos_token_id, tok.pad_token_id, 16)[0][0] for p in prefixes]
    assert batch == alone


def test_curriculum_examples(lrm_engine):
    tok = lrm_engine.tokenizer
    p = load_problems("mult", split="train", n=1)[0]
    steps = chain_steps(p)
    assert len(steps) == 7 and steps[0].startswith("<<")
    bot, eot = tok.convert_tokens_to_ids([BOT, EOT])
    e0, e2, e9 = (latent_example(p, tok, k, 2) for k in (0, 2, 9))
    assert e0.thoughts == 0 and e2.thoughts == 4 and e9.thoughts == 18
    assert all(e.prefix[-1] == bot and e.rest[0] == eot for e in (e0, e2, e9))
    text = [tok.decode(e.rest[1:]) for e in (e0, e2, e9)]
    assert steps[0] in text[0] and steps[2] in text[1] and steps[1] not in text[1]
    assert "<<" not in text[2] and text[2].endswith(f"The answer is {p.answer}.<|im_end|>")


def test_gradients_flow_through_the_thought_chain(lrm_engine):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(lrm_engine.model_path, dtype=torch.float32)
    tok = lrm_engine.tokenizer
    probs = load_problems("arith", split="train", n=4)
    batch = [latent_example(p, tok, 3, 1) for p in probs]
    emb = model.get_input_embeddings().weight
    loss = coconut_loss(model, batch, tok.pad_token_id)
    loss.backward()
    assert torch.isfinite(loss)
    # The question's tokens reach the loss only through the KV cache and the thoughts built on it.
    q_tok = batch[0].prefix[-3]
    assert emb.grad[q_tok].abs().sum() > 0


def test_recipe_and_method_end_to_end(tmp_path):
    out = tmp_path / "cc"
    run = [sys.executable, "-m", "brevity.cli"]
    p = subprocess.run([*run, "train", "coconut", "--base", "tiny-base", "--task", "mult", "--out", str(out),
                        "--stages", "2", "--steps", "2", "--stage0-steps", "2", "--n-train", "32",
                        "--reinit-untrained"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    man = json.loads((out / "manifest.json").read_text())
    assert f"redrew {man['data']['reinitialized_rows']} untrained embedding rows" in p.stderr  # the manifest's count
    assert man["latent"] == {"method": "coconut", "thoughts": 2, "per_step": 1, "input": "hidden"}
    assert man["train"]["steps"] == 6
    p = subprocess.run([*run, "bench", "--task", "mult", "--model", str(out), "--methods", "coconut,coconut:1",
                        "--n", "4", "--latency-n", "1", "--max-tokens", "24", "--out", str(tmp_path / "b")],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    recs = [json.loads(line) for line in (tmp_path / "b" / "records.jsonl").read_text().splitlines()]
    assert sorted({r["latent_steps"] for r in recs}) == [1, 2] and len(recs) == 8  # the manifest's 2, and 1
    assert all(r["generated_positions"] == r["thinking_tokens"] + r["answer_tokens"] + r["latent_steps"]
               for r in recs)
    p = subprocess.run([*run, "explain", "--model", str(out), "--task", "mult", "--n", "3", "--out",
                        str(tmp_path / "ex.json")], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "decode rate" in p.stdout and "decode rate" not in p.stderr  # the report is the output; `> file` keeps it
    ex = json.loads((tmp_path / "ex.json").read_text())
    assert ex["rates"]["thoughts"] == 6 and len(ex["rates"]["per_position"]) == 2
    assert all(len(t["lens"]) == 5 and len(t["nearest"]) == 5 for e in ex["examples"] for t in e["thoughts"])
    bad = subprocess.run([*run, "train", "coconut", "--out", str(tmp_path / "x"), "--stages", "0",
                          "--stage0-steps", "0"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("kind", ["pause", "project"])
def test_other_thought_inputs_decode_like_reforward(setup, kind):
    """Pause tokens and CODI's projected thoughts: the cached path equals the re-forward reference too."""
    from brevity.methods.latent import make_projection

    model, tok, eot, prefixes = setup
    torch.manual_seed(0)
    extra = {"pause_id": tok.convert_tokens_to_ids("<pause>")} if kind == "pause" else \
        {"project": make_projection(model.config.hidden_size).eval()}
    a, _ = cached_generate(model, prefixes, 3, eot, tok.eos_token_id, tok.pad_token_id, 16, **extra)
    b, _ = reforward_generate(model, prefixes, 3, eot, tok.eos_token_id, tok.pad_token_id, 16, **extra)
    assert a == b


def test_icot_and_codi_examples(lrm_engine):
    from brevity.recipes.latent.data import codi_example, icot_example

    tok = lrm_engine.tokenizer
    p = load_problems("mult", split="train", n=1)[0]
    full, cut, gone = (tok.decode(icot_example(p, tok, r).rest[1:]) for r in (0, 5, 10**9))
    assert full.startswith(chain_steps(p)[0]) and len(cut) < len(full) and full.endswith(cut[-40:])
    assert gone.startswith("</think>") and gone.endswith(f"The answer is {p.answer}.<|im_end|>")
    e = codi_example(p, tok, 6)
    assert e.student.thoughts == 6 and e.teacher.thoughts == 0
    # Both align on the position that predicts the answer's first digit (the zoo tokenizer writes the space
    # before it as a token of its own: aligning one earlier distils the state that predicts a space), and
    # what follows it is the same.
    for rest, at in ((e.teacher.rest, e.teacher_at), (e.student.rest, e.student_at)):
        assert tok.convert_ids_to_tokens(rest[at]) == "Ġ" and tok.decode(rest[at + 1]) == p.answer[0]
    assert e.teacher.rest[e.teacher_at:] == e.student.rest[e.student_at:]
    g = load_problems("graph", split="train", n=1)[0]
    assert len(chain_steps(g)) == g.metadata["depth"] and chain_steps(g)[0].endswith(".")


def test_codi_value_offset_on_a_real_vocabulary():
    """Qwen's tokenizer, like the zoo's, splits the space from a number; a word keeps its space."""
    from transformers import PreTrainedTokenizerFast

    from brevity.conformance.vocab import build_tokenizer
    from brevity.recipes.latent.data import value_offset

    try:
        tok = PreTrainedTokenizerFast(tokenizer_object=build_tokenizer("qwen3"))
    except BrevityError as e:
        pytest.skip(str(e))
    assert value_offset(tok, tok(" 63875043").input_ids) == 1
    assert value_offset(tok, tok(" yes").input_ids) == 0


def test_terse_chain_is_icots_format():
    """`mult`'s terse trace is iCoT's data format: the README's 4-by-4 example, rebuilt from its numbers."""
    from brevity.tasks.mult import make_problem

    class Fixed:  # the rng that draws 9511 and 2393 (iCoT's `1 1 5 9 * 3 9 3 2`, digits reversed)
        def __init__(self):
            self.values = iter([9511, 2393])

        def randint(self, lo, hi):
            return next(self.values)

    p = make_problem(Fixed(), 4, "x", order="lsd")
    assert p.traces["terse"] == "33582 + 099558 (325488) + 0033582 (3287373) + 00022091"
    assert p.answer == "32895722"
    steps = chain_steps(p, "terse")
    assert steps[1] == "+ 099558 (325488)" and " ".join(steps) == p.traces["terse"]


def test_icot_official_schedule_removes_one_token_at_a_time(lrm_engine):
    """iCoT's recipe: one token per stage, a last stage of its own length with no chain, and removal
    smoothing on every example (P(o extra) proportional to exp(-4o): about 98% lose exactly k tokens)."""
    import random

    from brevity.recipes.latent.train import LatentConfig, build_examples

    cfg = LatentConfig(mode="icot", remove_per_stage=1, steps_per_stage=5, final_steps=9, stage0_steps=0,
                       chain="terse")
    assert cfg.schedule(4) == [(1, 5), (2, 5), (3, 5), (4, 9)]
    tok = lrm_engine.tokenizer
    p = load_problems("mult", split="train", n=1, order="lsd")[0]
    full = len(tok(p.traces["terse"], add_special_tokens=False).input_ids)
    kept = [len(e.rest) for e in build_examples(cfg, [p] * 2000, tok, 3, random.Random(0), last_stage=51)]
    whole = len(build_examples(cfg, [p], tok, 0, random.Random(0), last_stage=51)[0].rest)
    exact = sum(n == whole - 3 for n in kept) / len(kept)
    assert abs(exact - (1 - 2.718281828 ** -4)) < 0.015 and min(kept) < whole - 3 and full == 51
    none = build_examples(cfg, [p], tok, 51, random.Random(0), last_stage=51)[0]
    assert tok.decode(none.rest[1:]).startswith("</think>")


def test_coconut_final_stage_drops_every_language_step(lrm_engine):
    """Official Coconut past max_latent_stage: the last latent stage's k*c thoughts and no language step left,
    however long the chain; without final_steps there is no such stage."""
    import random

    from brevity.recipes.latent.train import LatentConfig, build_examples

    cfg = LatentConfig(mode="coconut", stages=3, per_step=2, steps_per_stage=5, final_steps=7, stage0_steps=0)
    assert cfg.schedule() == [(1, 5), (2, 5), (3, 5), (4, 7)] and cfg.thoughts_at(4) == 6
    assert LatentConfig(mode="coconut", stages=3, steps_per_stage=5, stage0_steps=0).schedule()[-1] == (3, 5)
    tok = lrm_engine.tokenizer
    p = next(q for q in load_problems("arith", split="train", n=50) if len(chain_steps(q)) == 5)
    at3, final = (build_examples(cfg, [p], tok, k, random.Random(0), last_stage=4)[0] for k in (3, 4))
    assert at3.thoughts == final.thoughts == 6
    assert chain_steps(p)[3] in tok.decode(at3.rest) and tok.decode(final.rest[1:]).startswith("</think>")


@pytest.mark.parametrize("mode", ["compact", "nochain", "pause", "pause-curriculum", "icot", "codi"])
def test_every_latent_mode_trains_and_decodes(tmp_path, mode):
    from brevity.cli import parse_task
    from brevity.engines.hf import HFEngine
    from brevity.methods import build_method
    from brevity.recipes.latent.train import LatentConfig, build_latent
    from brevity.zoo import resolve_model

    cfg = LatentConfig(mode=mode, stages=2, per_step=1, steps_per_stage=1, stage0_steps=1, remove_per_stage=40,
                       batch_size=4)
    out = build_latent(resolve_model("tiny-base"), parse_task("mult"), tmp_path / mode, cfg, n_train=16,
                       save_stages=True)
    man = json.loads((out / "manifest.json").read_text())
    stages = sorted(p.name for p in out.glob("stage-*"))
    assert stages == [f"stage-{k}" for k, _ in man["train"]["schedule"][:-1]]  # every stage but the last
    if mode == "pause-curriculum":  # the stage-1 model: one <pause>, then the chain's remaining steps
        mid = json.loads((out / "stage-1" / "manifest.json").read_text())
        assert mid["latent"]["thoughts"] == 1 and mid["latent"]["stage"] == 1 and mid["train"]["steps"] == 2
        sols = build_method("coconut").run(load_problems("mult", split="test", n=2), HFEngine(out / "stage-1"))
        assert all(s.latent_steps == 1 for s in sols)
    schedule = man["train"]["schedule"]
    assert man["latent"]["thoughts"] == cfg.thoughts and man["train"]["steps"] == sum(n for _, n in schedule)
    if mode == "icot":  # stage 0, then 40 chain tokens removed per stage until none are left
        from transformers import AutoTokenizer

        from brevity.recipes.latent.train import max_chain_tokens

        longest = max_chain_tokens(load_problems("mult", split="train", n=16), AutoTokenizer.from_pretrained(out))
        assert [k for k, _ in schedule] == list(range(0, -(-longest // 40) + 1)) and len(schedule) > 2
    assert (out / "codi_projection.safetensors").exists() == (mode == "codi")
    sols = build_method("coconut").run(load_problems("mult", split="test", n=2), HFEngine(out))
    assert all(s.latent_steps == cfg.thoughts for s in sols)


def test_untrained_embedding_rows_are_redrawn_and_trained_rows_kept():
    """tiny-base never saw `graph`'s concept names: their tied rows collapsed onto one direction, and only
    they (never a digit, which `arith` trained) are redrawn, after which they are told apart."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from brevity.recipes.latent.train import reinit_untrained, task_token_ids
    from brevity.zoo import resolve_model

    path = resolve_model("tiny-base")
    tok, model = AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path)
    emb = model.get_input_embeddings().weight
    before = emb.detach().clone()
    graph_ids = task_token_ids(load_problems("graph", split="train", n=50), tok)
    concepts = [i for i in graph_ids if tok.convert_ids_to_tokens(i).endswith("pus")]
    digits = tok.convert_tokens_to_ids([str(d) for d in range(10)])

    def mean_cos(ids):
        x = torch.nn.functional.normalize(emb.detach()[ids], dim=-1)
        return (x @ x.T)[~torch.eye(len(ids), dtype=torch.bool)].mean().item()

    assert len(concepts) > 20 and mean_cos(concepts) > 0.99
    fresh = reinit_untrained(model, graph_ids | set(digits))
    assert set(concepts) <= set(fresh) and not set(digits) & set(fresh)
    assert abs(mean_cos(concepts)) < 0.2 and torch.equal(emb.detach()[digits], before[digits])
    assert model.get_output_embeddings().weight is emb  # tied: the output rows are the same tensor
    assert reinit_untrained(model, set(digits)) == []  # mult's digits: nothing to redraw


def test_reading_values_from_decoded_thoughts():
    from brevity.explain import first_value

    assert first_value("<<12*3=36>> <<36+1=37>>", "", False) == "12"
    assert first_value("</think>\n\nThe answer is 6.", "", False) is None  # an answer is not a thought
    q = "Every wumpus is a zumpus. Alex is a wumpus. Is Alex a zumpus or a gorpus?"
    assert first_value("Alex is a zumpus.", q, True) == "zumpus"
    assert first_value("Alex is a tumpus.", q, True) is None


def test_a_latent_zoo_member_builds_through_the_zoo_path(tmp_path, monkeypatch):
    """`brevity zoo build` makes latent members with the latent trainer and validates them on their task."""
    import shutil

    from brevity.tasks import TaskSpec
    from brevity.zoo import registry, resolve_model
    from brevity.zoo.build import build_member, validate_member

    shutil.copytree(resolve_model("tiny-base"), tmp_path / "tiny-base")
    member = registry.Member("tiny-mult-test", "tiny-base", (), 3, 1e-3, "test", recipe="pause",
                             task=TaskSpec("mult", (("order", "lsd"),)), n_train=16,
                             latent=(("stages", 3), ("steps_per_stage", 1), ("batch_size", 4)))
    monkeypatch.setitem(registry.MEMBERS, member.name, member)
    steps = []
    build_member(member.name, tmp_path, progress=lambda step, loss: steps.append(step))
    man = json.loads((tmp_path / member.name / "manifest.json").read_text())
    assert steps == [1, 2, 3] and man["recipe"] == "pause" and man["parent"] == "tiny-base"
    assert man["data"]["task"] == {"name": "mult", "order": "lsd"} and man["latent"]["thoughts"] == 3
    result = validate_member(member.name, tmp_path, n=2)
    assert set(result) == {"n", "coconut_accuracy", "coconut_thinking_tokens"}


def test_committed_resume_checkpoints_match_todays_settings():
    """A setting added to LatentConfig after a checkpoint was committed to resume/ must not stop that run from
    resuming (it did: `--width` made the iCoT run's checkpoint unresumable); at its neutral value it stays out
    of the fingerprint."""
    from pathlib import Path

    from brevity.recipes.latent.train import LatentConfig, fingerprint

    found = sorted((Path(__file__).parents[1] / "resume").glob("*/step-*.pt"))
    assert found, "resume/ holds the iCoT run's checkpoint"
    for path in found:
        saved = torch.load(path, map_location="cpu", weights_only=False)["fingerprint"]["latent"]
        assert fingerprint(LatentConfig(**saved)) == saved, path
