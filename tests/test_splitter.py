"""The one text splitter (formats/splitter.py): reasoning and answer cut at the format's markers, the same
whatever pieces the text arrives in, and the same cut as `ReasoningFormat.split` makes on the token ids."""

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from brevity.formats import load_format
from brevity.formats.splitter import ThinkingSplitter, split_text
from brevity.zoo import resolve_model

pytestmark = pytest.mark.fast


@pytest.fixture(scope="module", params=["tiny-lrm", "tiny-qwen3-lrm"])
def fmt(request):
    """The zoo's format (the prompt opens thinking) and Qwen3's (the model opens it)."""
    return load_format(resolve_model(request.param))


def pieces_of(fmt, chunks):
    s = ThinkingSplitter(fmt.spec)
    out = [p for c in chunks for p in s.feed(c)] + s.flush()
    return "".join(p.text for p in out if p.kind == "reasoning"), "".join(p.text for p in out if p.kind == "content"), \
        s.in_answer


def decode(fmt, ids):
    return fmt.tokenizer.decode(ids, skip_special_tokens=False)


def test_the_markers_decide(fmt):
    o, c = fmt.spec.open, fmt.spec.close
    opened = "" if fmt.spec.prompt_opens else o
    assert split_text(fmt.spec, f"{opened}\nsum 3+4=7{c}\n\n\\boxed{{7}}") == ("\nsum 3+4=7", "\n\n\\boxed{7}", True)
    assert split_text(fmt.spec, f"{opened}still thinking") == ("still thinking", "", False)
    if not fmt.spec.prompt_opens:  # blanks before the model's opening marker are nobody's text; with no opening
        # marker the model answered without thinking, unless a steering method opened thinking in its prompt
        assert split_text(fmt.spec, f"  {o}x{c}y") == ("x", "y", True)
        assert split_text(fmt.spec, f"x{c}y") == ("", f"x{c}y", True)
        assert split_text(fmt.spec, f"x{c}y", opened=True) == ("x", "y", True)
        assert split_text(fmt.spec, "  ") == ("", "  ", True)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_chunking_gives_the_whole_texts_cut(fmt, data):
    o, c = fmt.spec.open, fmt.spec.close
    words = st.sampled_from(["7", " ", "\n", "sum", o, c, o[:2], c[:3], c[3:], "<", "\\boxed{7}"])
    text = "".join(data.draw(st.lists(words, max_size=12)))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=6)))
    chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
    # One boundary is read, by design, as a method's: a piece ending in part of the closing marker, then a piece
    # that starts with the whole marker, is a budget that cut the model's partial marker and wrote it whole
    # (the next test); a whole text cannot show that.
    assume(not any(a.endswith(c[:k]) and b.startswith(c) for a, b in zip(chunks, chunks[1:])
                   for k in range(1, len(c))))
    assert pieces_of(fmt, chunks) == split_text(fmt.spec, text)


def test_a_method_that_cuts_a_partial_marker_and_writes_it_whole(fmt):
    """A budget cuts the model's `</th` and writes the whole closing marker: no `</th` in the reasoning."""
    opened = "" if fmt.spec.prompt_opens else fmt.spec.open
    c = fmt.spec.close
    assert pieces_of(fmt, [opened + "abc" + c[:3], c, "\\boxed{1}"]) == ("abc", "\\boxed{1}", True)


def test_the_same_cut_as_on_token_ids(fmt):
    """On a completion the model's tokenizer encodes back to the same ids, the text cut equals `split` on the ids,
    a completion where the model was to open thinking and did not (an answer, both say) included."""
    opened = "" if fmt.spec.prompt_opens else fmt.spec.open
    c = fmt.spec.close
    for text in (f"{opened}\nsum 3+4=7{c}\n\n\\boxed{{7}}", f"{opened}sum 3", f"sum 3{c}\\boxed{{3}}",
                 f"\\boxed{{3}} {fmt.spec.open}x{c}y", f"\n{opened}sum{c}7"):
        ids = fmt.encode(text)
        cut = fmt.split(ids)
        reasoning, answer, closed = split_text(fmt.spec, text)
        assert (decode(fmt, cut.thinking_ids), closed) == (reasoning, cut.closed), text
        assert decode(fmt, cut.answer_ids) == answer, text


def test_a_stream_reads_thinking_as_the_ids_do(fmt):
    """A served stream cuts as `split` does: where the model opens thinking, text without its opening marker is
    the answer, unless the method said its prompt opened thinking (a steering method; a route replays that too)."""
    from brevity.route.method import Recorder
    from brevity.serve.stream import ResponseStream

    c = fmt.spec.close

    def streamed(opened: bool, recorded: bool = False):
        s = ResponseStream(None, fmt.spec)
        sink = Recorder(s) if recorded else s
        if opened:
            sink.opened()
        sink.write(f"x{c}")
        sink.write("y")
        if recorded:
            sink.replay()
        pieces = [s.queue.get_nowait() for _ in range(s.queue.qsize())]
        return "".join(v for k, v in pieces if k == "reasoning"), "".join(v for k, v in pieces if k == "content")

    ids = fmt.split(fmt.encode(f"x{c}y"))
    as_ids = (decode(fmt, ids.thinking_ids), decode(fmt, ids.answer_ids))
    assert streamed(opened=False) == as_ids == (("x", "y") if fmt.spec.prompt_opens else ("", f"x{c}y"))
    assert streamed(opened=True) == streamed(opened=True, recorded=True) == ("x", "y")
