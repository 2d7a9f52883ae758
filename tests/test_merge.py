"""Merging on mergekit: merged weights equal the formulas on small tensors, parents come back at the
ends of the weight range, and bad inputs are refused with one line before any work."""

import json
import math
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from brevity.errors import BrevityError
from brevity.merge import MergePlan, merge_models
from brevity.zoo import resolve_model

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


def _save(folder, model, tok_from):
    model.save_pretrained(folder, safe_serialization=True)
    for f in TOKENIZER_FILES:
        if (tok_from / f).is_file():
            shutil.copy(tok_from / f, folder / f)
    return folder


@pytest.fixture(scope="module")
def trio(tmp_path_factory):
    """A tiny Llama base and two children with independent random task vectors."""
    from transformers import LlamaConfig, LlamaForCausalLM

    root = tmp_path_factory.mktemp("trio")
    src = resolve_model("tiny-lrm")
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=841, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                      tie_word_embeddings=True)
    base = LlamaForCausalLM(cfg)
    out = {"base": _save(root / "base", base, src)}
    for i, name in enumerate(("fast", "reasoning")):
        torch.manual_seed(i + 1)
        child = LlamaForCausalLM(cfg)
        child.load_state_dict(base.state_dict())
        with torch.no_grad():
            for p in child.parameters():
                p.add_(0.05 * torch.randn_like(p))
        out[name] = _save(root / name, child, src)
    return out


def _weights(folder):
    return load_file(str(folder / "model.safetensors"))


def _merge(trio, tmp_path, method, weight, density=1.0):
    base = str(trio["base"]) if method != "slerp" else None
    plan = MergePlan(method, weight, str(trio["fast"]), str(trio["reasoning"]), base, density=density)
    return _weights(merge_models(plan, tmp_path / plan.label))


def test_task_arithmetic_is_the_formula(trio, tmp_path):
    b, f, r = (_weights(trio[k]) for k in ("base", "fast", "reasoning"))
    m = _merge(trio, tmp_path, "task_arithmetic", 0.3)
    assert set(m) == set(b)
    for k in b:
        torch.testing.assert_close(m[k], b[k] + 0.7 * (f[k] - b[k]) + 0.3 * (r[k] - b[k]), rtol=1e-5, atol=1e-6)


def test_ties_elects_signs_and_sums_without_normalizing(trio, tmp_path):
    b, f, r = (_weights(trio[k]) for k in ("base", "fast", "reasoning"))
    m = _merge(trio, tmp_path, "ties", 0.6, density=1.0)
    for k in b:
        d = torch.stack([0.4 * (f[k] - b[k]), 0.6 * (r[k] - b[k])])
        sign = torch.sign(d.sum(0))
        expect = b[k] + (d * (torch.sign(d) == sign)).sum(0)
        torch.testing.assert_close(m[k], expect, rtol=1e-5, atol=1e-6)


def test_dare_at_full_density_is_task_arithmetic_and_sparser_keeps_a_fraction(trio, tmp_path):
    ta = _merge(trio, tmp_path, "task_arithmetic", 0.5)
    dl = _merge(trio, tmp_path, "dare_linear", 0.5, density=1.0)
    for k in ta:
        torch.testing.assert_close(dl[k], ta[k], rtol=1e-5, atol=1e-6)
    b, r = _weights(trio["base"]), _weights(trio["reasoning"])
    # With only the reasoning vector (w=1) at density 0.3, about 30% of its entries survive.
    sparse = _merge(trio, tmp_path, "dare_linear", 1.0, density=0.3)
    kept = sum(int(((sparse[k] - b[k]).abs() > 1e-9).sum()) for k in b) / sum(b[k].numel() for k in b)
    assert 0.25 < kept < 0.35, kept
    assert all((r[k] - b[k]).abs().sum() > 0 for k in b)


def test_slerp_is_spherical_per_tensor_and_task_arithmetic_ends_at_the_parents(trio, tmp_path):
    f, r = _weights(trio["fast"]), _weights(trio["reasoning"])
    t = 0.35
    m = _merge(trio, tmp_path, "slerp", t)
    for k in f:
        x, y = f[k].double(), r[k].double()
        dot = float((x / x.norm() * y / y.norm()).sum().clamp(-1, 1))
        th = math.acos(dot)
        expect = (math.sin((1 - t) * th) * x + math.sin(t * th) * y) / math.sin(th)
        assert abs(dot) < 0.9995  # random task vectors: truly spherical, not the linear fallback
        torch.testing.assert_close(m[k].double(), expect, rtol=1e-4, atol=1e-6)
    for w, parent in ((0.0, f), (1.0, r)):
        ends = _merge(trio, tmp_path, "task_arithmetic", w)
        for k in parent:
            torch.testing.assert_close(ends[k], parent[k], rtol=1e-5, atol=1e-6)


def test_merged_folder_has_the_reasoning_tokenizer_template_and_manifest(trio, tmp_path):
    from transformers import AutoTokenizer

    plan = MergePlan("ties", 0.5, str(trio["fast"]), str(trio["reasoning"]), str(trio["base"]), density=0.5)
    out = merge_models(plan, tmp_path / "m", command="test")
    tok = AutoTokenizer.from_pretrained(out)
    assert tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                   add_generation_prompt=True).endswith("<think>\n")
    man = json.loads((out / "manifest.json").read_text())
    assert man["tokenizer_from"] == "reasoning" and man["merge"]["density"] == 0.5
    assert man["mergekit_config"]["parameters"] == {"normalize": False}


def test_bad_inputs_are_refused_before_any_work(trio, tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    src = resolve_model("tiny-lrm")
    wide = _save(tmp_path / "wide", LlamaForCausalLM(LlamaConfig(
        vocab_size=841, hidden_size=32, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=64, tie_word_embeddings=True)), src)
    notok = tmp_path / "notok"
    shutil.copytree(trio["reasoning"], notok)
    (notok / "tokenizer.json").unlink()
    nan = tmp_path / "nan"
    shutil.copytree(trio["reasoning"], nan)
    w = _weights(nan)
    k = next(iter(w))
    w[k][0] = float("nan")
    save_file(w, str(nan / "model.safetensors"), metadata={"format": "pt"})
    cases = [(wide, "architecture mismatch"), (notok, "no tokenizer"), (nan, "NaN")]
    for bad, needle in cases:
        out = tmp_path / f"out-{bad.name}"
        with pytest.raises(BrevityError, match=needle):
            merge_models(MergePlan("task_arithmetic", 0.5, str(trio["fast"]), str(bad), str(trio["base"])), out)
        assert not out.exists()
    with pytest.raises(BrevityError, match="density"):
        MergePlan("ties", 0.5, "a", "b", "c", density=0.0)
    with pytest.raises(BrevityError, match="needs --base"):
        MergePlan("ties", 0.5, "a", "b")
    for bad in (dict(method="slerp", base="c"), dict(method="task_arithmetic", base="c", density=0.5),
                dict(method="ties", base="c", seed=3)):  # settings the method does not read: refused
        with pytest.raises(BrevityError, match="reads no|draws none"):
            MergePlan(weight=0.5, fast="a", reasoning="b", **bad)


@pytest.mark.parametrize("args,needle", [
    (["--weight", "1.5"], "merge weight must be in [0, 1]"),
    (["--method", "frankenmerge"], "unknown merge method"),
    (["--reasoning", "/nonexistent"], "unknown model"),
])
def test_merge_cli_bad_input_is_one_line_exit_2(args, needle, tmp_path, cli):
    p = cli(["merge", "--out", tmp_path / "o", *args])
    assert p.returncode == 2, p.stderr
    assert needle in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
