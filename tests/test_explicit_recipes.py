"""Prompt-level methods and the compact / RL recipes of the explicit family, on small data."""

import pytest

from brevity.errors import BrevityError
from brevity.methods import build_method
from brevity.methods.prompting import render_template, sot_paradigm, templates
from brevity.recipes.compact import prune_text, shortest_examples, text_units
from brevity.recipes.instruct import instruct_examples, trace_variants
from brevity.recipes.rl import L1_RANGE, kimi_length_rewards, l1_rewards, l1_warmup_examples, score
from brevity.recipes.rollouts import Rollout, cached_rollouts, generate_rollouts
from brevity.recipes.sft import segments
from brevity.tasks import load_problems
from brevity.tasks.grading import score_solutions
from brevity.zoo.chat import prompt_text


@pytest.fixture(scope="module")
def probs():
    return load_problems("arith", split="validation", n=8)


def test_templates_become_methods_with_typed_parameters(probs, lrm_engine):
    q, fmt = probs[0].question, lrm_engine.format

    def text(spec: str) -> str:
        return fmt.render(build_method(spec).render(probs[0], fmt))

    assert build_method("ccot:30").render(probs[0], fmt) == render_template("ccot", q, words=30)
    assert "limit the answer length to 30 words" in text("ccot:30")
    assert "Think for 120 tokens." in text("l1:120")
    assert "Compression ratio: 0.4" in text("tokenskip:0.4")
    assert text("tokenskip:1.0") == text("cot")  # trained on the plain prompt at 1.0, as TokenSkip does
    assert templates()["cod"]["system"] in text("cod")
    assert build_method("l1:120").spec() == "l1:120" and build_method("cod").spec() == "cod"
    for bad in ("ccot:many", "l1:1.5", "tokenskip:x", "cod:3", "l1:0", "ccot:-5", "tokenskip:1.5", "tokenskip:0"):
        with pytest.raises(BrevityError):
            build_method(bad)


def test_sot_router_picks_symbolism_for_arithmetic_and_chaining_for_graphs():
    assert sot_paradigm("Tom has 3 apples. He buys 4 more.") == "chunked_symbolism"
    assert sot_paradigm("Every wumpus is a yumpus. Is Alex a yumpus?") == "conceptual_chaining"
    assert sot_paradigm("Why?") == "expert_lexicons"


def test_trace_variants_shrink_and_keep_every_equation(probs):
    for p in probs:
        v = list(trace_variants(p).values())
        assert [len(t) for t in v] == sorted((len(t) for t in v), reverse=True)
        assert v[0] == p.traces["verbose"]
        for eq in p.metadata["equations"]:
            assert all(eq.replace(" ", "") in t.replace(" ", "") for t in v)


def test_trace_variants_extend_with_more_rechecks(probs):
    p = probs[1]
    own = p.metadata["recheck_rounds"]
    v = trace_variants(p, max_rounds=own + 3)
    assert v[f"rechecks={own}"] == p.traces["verbose"] and f"rechecks={own + 3}" in v
    extra = v[f"rechecks={own + 3}"].split("\n")[-1]
    assert all(f"{eq}." in extra for eq in p.metadata["equations"]) and extra.endswith(f"Yes, {p.answer} is right.")


def test_l1_warmup_pairs_each_request_with_the_nearest_trace(lrm_engine):
    tok = lrm_engine.tokenizer
    problems = load_problems("arith", split="train", n=200)
    n_tok = lambda t: len(tok(t, add_special_tokens=False).input_ids)  # noqa: E731
    asked = 0
    for p, e in zip(problems, l1_warmup_examples(problems, tok, budget_cut=0.0)):
        prompt, completion = [t for t, _ in segments(e)][:2]
        thinking = completion.split("</think>")[0].rstrip("\n")
        if "Think for " not in prompt:
            assert thinking == p.traces["verbose"]
            continue
        want = int(prompt.split("Think for ")[1].split()[0])
        assert L1_RANGE[0] <= want <= L1_RANGE[1]
        lengths = [n_tok(t) for t in trace_variants(p, max_rounds=12).values()]
        assert abs(n_tok(thinking) - want) == min(abs(n - want) for n in lengths)
        asked += 1
    assert 100 < asked < 180  # about 70% of the examples ask for a length


def offsets_of(text: str) -> list[tuple[int, int]]:
    """One token per character run (a stand-in tokenizer): words and spaces."""
    import re
    return [(m.start(), m.end()) for m in re.finditer(r"\S+|\s+", text)]


def test_tokenskip_keeps_equations_whole_and_digits_always():
    text = "Okay, Omar starts with 31.\nTaking away 12 gives 31 - 12 = 19.\nWait, 31 - 12 = 19. Yes, 19 is right."
    units = text_units(text)
    assert [text[u.start:u.end] for u in units if "=" in text[u.start:u.end]] == ["31 - 12 = 19"] * 2
    offsets = offsets_of(text)
    scores = [1.0] * len(offsets)
    for gamma in (0.1, 0.5, 0.9):
        kept = prune_text(text, offsets, scores, gamma)
        assert kept.count("31 - 12 = 19") == 2  # equations are atomic and kept
        for n in ("31.", "12", "19"):
            assert n in kept.split()
    assert prune_text(text, offsets, scores, 1.0) == text


def test_tokenskip_never_glues_words_across_a_dropped_line_break():
    text = "Let me go step by step.\nOmar starts with 2 apples.\nMultiplying by 3 gives 2 * 3 = 6."
    offsets = offsets_of(text)
    scores = [0.0 if text[a:b] in ("step.", "Let") else 5.0 for a, b in offsets]  # the first line's end goes
    kept = prune_text(text, offsets, scores, 0.6)
    assert "step.Omar" not in kept and "2Multiplying" not in kept
    assert all(len(line) for line in kept.split("\n"))
    # each kept line holds pieces of one line of the text: no two lines joined
    assert all(any(all(w in line for w in k.split()) for line in text.split("\n")) for k in kept.split("\n")), kept


def test_instruct_examples_obey_their_instruction(lrm_engine):
    tok = lrm_engine.tokenizer
    problems = load_problems("arith", split="train", n=300)
    exs = instruct_examples(problems, tok, budget_cut=0.0)
    seen = set()
    for p, e in zip(problems, exs):
        prompt, completion = [t for t, _ in segments(e)][:2]
        thinking = completion.split("</think>")[0].rstrip("\n")
        n = len(tok(thinking, add_special_tokens=False).input_ids)
        if "Think for " in prompt:
            want = int(prompt.split("Think for ")[1].split()[0])
            assert abs(n - want) <= 0.1 * n + 1
            seen.add("l1")
        elif "limit the answer length to" in prompt:
            words = int(prompt.split("length to ")[1].split()[0])
            assert len(thinking.split()) <= words or thinking == trace_variants(p)["draft"]
            seen.add("ccot")
        elif "use less than" in prompt:
            assert n <= int(prompt.split("less than ")[1].split()[0])
            seen.add("tale")
        elif prompt == prompt_text(p.question):
            assert thinking == p.traces["verbose"]
            seen.add("plain")
        assert completion.endswith(("<|im_end|>",))
    assert seen == {"l1", "ccot", "tale", "plain"}


def test_shortest_keeps_the_shortest_correct_trace(lrm_engine):
    p = load_problems("arith", split="train", n=1)
    tok = lrm_engine.tokenizer
    long, short = tok("a b c d e f", add_special_tokens=False).input_ids, tok("a b", add_special_tokens=False).input_ids
    group = [Rollout(p[0].id, 0, long, "", True, True), Rollout(p[0].id, 1, short, "", False, True),
             Rollout(p[0].id, 2, long[:4], "", True, True)]
    (prompt, completion), = shortest_examples(tok, p, [group])
    assert completion.startswith(tok.decode(long[:4])) and prompt == prompt_text(p[0].question)
    assert shortest_examples(tok, p, [[group[1]]]) == []


def test_rollouts_greedy_then_samples(lrm_engine, probs):
    groups = generate_rollouts(lrm_engine, probs[:3], k=2, temperature=1.0, seed=1)
    cot = score_solutions(probs[:3], build_method("cot").run(probs[:3], lrm_engine))
    for g, c in zip(groups, cot):
        assert [r.sample for r in g] == [0, 1]
        assert lrm_engine.tokenizer.decode(g[0].thinking_ids) == c.thinking and g[0].correct == c.correct


def test_method_rollouts_condition_the_candidates_and_cache_apart(lrm_engine, probs, tmp_path):
    """`shortest` with conditions: a method's greedy trace joins each group, numbered after the plain ones."""
    cut = cached_rollouts(tmp_path, "h", lrm_engine, probs[:3], 1, 1.0, method="budget:24", sample=4)
    plain = cached_rollouts(tmp_path, "h", lrm_engine, probs[:3], 1, 1.0)
    sols = score_solutions(probs[:3], build_method("budget:24").run(probs[:3], lrm_engine))
    for (c,), (g,), s in zip(cut, plain, sols):
        assert c.sample == 4 and c.correct == s.correct and len(c.thinking_ids) < len(g.thinking_ids)
        assert lrm_engine.tokenizer.decode(c.thinking_ids) == s.thinking.rstrip("\n")
    assert len(list(tmp_path.glob("rollouts-*.jsonl"))) == 2
    again = cached_rollouts(tmp_path, "h", None, probs[:3], 1, 1.0, method="budget:24", sample=4)  # no engine: cache
    assert again == cut


def test_kimi_reward_pays_short_correct_answers_only():
    r = kimi_length_rewards([True, True, False, False], [100, 200, 100, 200], ["q"] * 4)
    assert r == [1.5, 0.5, 0.0, -0.5]
    assert kimi_length_rewards([True, False], [50, 50], ["a", "b"]) == [1.0, 0.0]


def test_l1_reward_is_correctness_minus_distance():
    assert l1_rewards([True, False], [100, 150], [120, 100], alpha=0.01) == pytest.approx([0.8, -0.5])


def test_score_reads_thinking_and_answer_from_ids(lrm_engine, probs):
    c = score_solutions(probs[:1], build_method("cot").run(probs[:1], lrm_engine))[0]
    tok = lrm_engine.tokenizer
    ids = tok(c.thinking + "</think>\n\n" + c.answer + "<|im_end|>", add_special_tokens=False).input_ids
    assert score(ids, probs[0], tok) == (c.correct, c.thinking_tokens)
    assert score(tok("no end", add_special_tokens=False).input_ids, probs[0], tok)[0] is False


def test_grpo_recipe_runs_a_step(lrm_path):
    pytest.importorskip("trl")
    from brevity.engines.hf import load_model_folder
    from brevity.recipes.rl import train_grpo
    from brevity.zoo.registry import MEMBERS

    model, tok = load_model_folder(lrm_path)
    _, stats = train_grpo(MEMBERS["tiny-lrm-l1"], model, tok, max_steps=1, num_generations=2,
                          per_device_train_batch_size=2, steps_per_generation=1, max_completion_length=24,
                          logging_steps=1)
    assert stats["steps"] == 1
    rewards = [row["reward"] for row in stats["log"] if "reward" in row]
    assert rewards and all(r <= 1.0 for r in rewards)  # l1: correctness minus a distance, never above 1


def test_grpo_checkpoints_and_resumes(lrm_path, tmp_path):
    """A GRPO run stopped after its step-2 checkpoint continues from it: the resumed run starts at step 3,
    keeps the earlier steps' log, and a resume with nothing saved is refused."""
    pytest.importorskip("trl")
    from brevity.engines.hf import load_model_folder
    from brevity.recipes.rl import latest_grpo_checkpoint, train_grpo
    from brevity.zoo.registry import MEMBERS

    small = dict(num_generations=2, per_device_train_batch_size=2, steps_per_generation=1, max_completion_length=16,
                 logging_steps=1)
    model, tok = load_model_folder(lrm_path)
    train_grpo(MEMBERS["tiny-lrm-rl-length"], model, tok, checkpoint_dir=tmp_path, checkpoint_every=1, max_steps=2,
               **small)
    assert latest_grpo_checkpoint(tmp_path).name == "checkpoint-2"
    model, tok = load_model_folder(lrm_path)  # a new process would start from the parent again
    steps = []
    _, stats = train_grpo(MEMBERS["tiny-lrm-rl-length"], model, tok, progress=lambda step, _: steps.append(step),
                          checkpoint_dir=tmp_path, checkpoint_every=1, resume=True, max_steps=3, **small)
    assert stats["resumed_from"] == "checkpoint-2" and steps == [3]
    assert [e["step"] for e in stats["log"] if "loss" in e] == [1, 2, 3]
    with pytest.raises(BrevityError, match="no GRPO checkpoint"):
        train_grpo(MEMBERS["tiny-lrm-rl-length"], model, tok, checkpoint_dir=tmp_path / "empty", checkpoint_every=1,
                   resume=True, max_steps=1, **small)


@pytest.mark.parametrize("name", ["r1-distill-qwen", "gpt-oss"])
def test_length_rl_trains_a_real_format_through_its_own_template(name, tmp_path):
    """GRPO's prompts are the model's own chat template (as `cot` renders them in the bench), its rewards
    read the family's thinking span, one step trains; recipes that write zoo-format text refuse the base."""
    pytest.importorskip("trl")
    from brevity.conformance import standins, vocab
    from brevity.engines.hf import load_model_folder
    from brevity.formats import load_format
    from brevity.recipes.rl import rl_dataset, train_grpo
    from brevity.zoo.build import check_base_format
    from brevity.zoo.registry import MEMBERS

    fam = vocab.family(standins.spec(name).family)
    needed = vocab.source_file(fam["vocab"])
    if not needed.is_file() or not standins.template_path(name).is_file():
        pytest.skip(f"{needed.name} not fetched (scripts/fetch_llama_cpp_models.sh)")
    path = standins.standin_path(name)
    model, tok = load_model_folder(path)
    fmt = load_format(path)
    row = rl_dataset("rl-length", tok)[0]
    problem = next(p for p in load_problems("arith", split="train", n=4000) if p.id == row["problem_id"])
    assert row["prompt"] == tok.apply_chat_template(fmt.messages(problem.question), tokenize=False,
                                                    add_generation_prompt=True, **(
                                                        {fmt.spec.switch: True} if fmt.spec.switch else
                                                        {"enable_thinking": True}))
    assert "<|im_start|>" not in row["prompt"] or name == "qwen3"  # not the zoo's template
    l1 = rl_dataset("l1", tok)[0]["prompt"]
    assert "Think for" in l1 and l1.startswith(row["prompt"][:8])
    closed = fmt.encode(f"{fmt.spec.open if not fmt.spec.prompt_opens else ''}a b{fmt.spec.close}"
                        f"{fmt.spec.after_close}The answer is \\boxed{{{problem.answer}}}.")
    assert score(closed, problem, tok) == (True, len(fmt.split(closed).thinking_ids))
    assert score(fmt.encode("a b c"), problem, tok)[0] is False  # thinking never closed
    _, stats = train_grpo(MEMBERS["tiny-lrm-rl-length"], model, tok, max_steps=1, num_generations=2,
                          per_device_train_batch_size=2, steps_per_generation=1, max_completion_length=8,
                          logging_steps=1)
    assert stats["log"][0]["step"] == 1
    assert check_base_format("rl-length", path) == fmt.name != "zoo"
    for recipe in ("shortest", "tokenskip", "instruct", "l1", "coconut"):
        with pytest.raises(BrevityError, match="zoo's chat format"):
            check_base_format(recipe, path, warmup_steps=MEMBERS["tiny-lrm-l1"].warmup_steps)
    assert check_base_format("l1", path, warmup_steps=0) == fmt.name
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "brevity.cli", "train", "shortest", "--base", str(path), "--out",
                        str(tmp_path / "o")], capture_output=True, text=True)
    assert r.returncode == 2 and "zoo's chat format" in r.stderr and r.stderr.strip().count("\n") == 0, r.stderr
