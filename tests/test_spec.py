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


def test_per_run_state_is_not_part_of_a_spec():
    """TALE-EP keeps each problem's estimated budget while it solves; records and report rows are labelled by the
    spec, so that state must not enter it (it used to split one method into several rows)."""
    from brevity.methods import build_method

    m = build_method("tale-ep")
    m._budgets.update({"p1": 90, "p2": 40})
    assert m.spec() == "tale-ep" and build_method(m.spec()).spec() == "tale-ep"
