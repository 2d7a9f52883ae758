import pytest

from brevity.errors import BrevityError
from brevity.methods import build_method, parse_spec, parse_spec_list


def test_grammar():
    s = parse_spec("budget:64@tiny-lrm")
    assert (s.name, s.positional, s.model) == ("budget", "64", "tiny-lrm")
    s = parse_spec("budget:max=128;phrase=x")
    assert s.params == (("max", "128"), ("phrase", "x")) and s.model is None
    assert [x.name for x in parse_spec_list("cot, nothink,budget:64")] == ["cot", "nothink", "budget"]


def test_canonical_spec_and_conversion():
    m = build_method("budget:64")
    assert m.max == 64 and m.spec() == "budget:64"
    assert build_method("budget:max=64").spec() == "budget:64"
    assert build_method("cot").spec() == "cot"
    assert build_method("budget").spec() == "budget:136"


@pytest.mark.parametrize("bad", ["nope", "budget:0", "budget:-5", "budget:abc", "budget:foo=1", "cot:5",
                                 "budget:max=", "cot@", ""])
def test_bad_specs_raise_one_line_errors(bad):
    with pytest.raises(BrevityError) as e:
        build_method(bad)
    assert "\n" not in str(e.value)


def test_methods_are_immutable_configuration():
    """A method is its parameters: frozen (a run's state lives in its RunContext, so records and report rows,
    labelled by the spec, never split one method into several), hashable, and equal to its spec's rebuild."""
    import dataclasses

    from brevity.methods import build_method

    for spec in ("tale-ep", "budget:64", "deer:threshold=0.9;probes=3", "route:cascade"):
        m = build_method(spec)
        with pytest.raises(dataclasses.FrozenInstanceError):
            m.max_tokens = 8
        assert build_method(m.spec()) == m and hash(build_method(m.spec())) == hash(m)
