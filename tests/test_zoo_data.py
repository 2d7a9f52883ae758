"""Training data of the zoo: segment losses and budget-cut traces."""

import random

from transformers import AutoTokenizer

from brevity.recipes.sft import encode_examples
from brevity.tasks import load_problems
from brevity.zoo.build import budget_cut_example, training_examples
from brevity.zoo.chat import BUDGET_PHRASE, END_THINK
from brevity.zoo.registry import MEMBERS


def test_segments_carry_loss_only_where_asked(lrm_path):
    tok = AutoTokenizer.from_pretrained(lrm_path)
    (ids, learn), = encode_examples(tok, [[("Q: 2+3?", False), ("5", True), (" ignored", False)]], 100)
    n_q = len(tok("Q: 2+3?", add_special_tokens=False).input_ids)
    assert learn[:n_q] == [False] * n_q and learn[n_q] is True and not any(learn[n_q + 1:])
    assert len(ids) == len(learn)
    # A (prompt, completion) pair learns exactly the completion.
    (ids2, learn2), = encode_examples(tok, [("Q: 2+3?", "5")], 100)
    assert sum(learn2) == len(tok("5", add_special_tokens=False).input_ids)


def test_budget_cut_keeps_the_answer_reachable_and_masks_the_phrase():
    rng = random.Random(0)
    for p in load_problems("arith", split="train", n=50):
        segs = budget_cut_example(p, p.traces["verbose"], rng)
        (prompt, l0), (thought, l1), (injected, l2), (answer, l3) = segs
        assert (l0, l1, l2, l3) == (False, True, False, True)
        assert p.traces["verbose"].startswith(thought)
        assert p.answer in thought.replace(",", "")  # cut after the answer was first computed
        assert injected == BUDGET_PHRASE + END_THINK and f"The answer is {p.answer}." in answer


def test_lrm_mix_has_the_declared_share_of_cut_traces():
    member = MEMBERS["tiny-lrm"]
    examples = training_examples(member, n=2000)
    share = sum(isinstance(e, list) for e in examples) / len(examples)
    assert abs(share - member.budget_cut) < 0.04
    assert all(isinstance(e, tuple) for e in training_examples(MEMBERS["tiny-llm"], n=200))
