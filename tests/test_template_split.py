"""How a reason or description template is cut into text and placeholders, with the offsets errors point at."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ruleengine.lang.ir import ExpressionProblem
from ruleengine.lang.templates import split

TEXT = st.text(alphabet=st.sampled_from("ab 中文.,'\"\\\n"), min_size=1, max_size=12)
EXPRESSION = st.text(alphabet=st.sampled_from("abc._() 0"), min_size=1, max_size=10).filter(lambda e: e.strip() != "")
SEGMENT = st.one_of(
    st.tuples(st.just("text"), TEXT),
    st.just(("text", "{")),
    st.just(("text", "}")),
    st.tuples(st.just("expression"), EXPRESSION),
)


def written(segments: list[tuple[str, str]]) -> tuple[str, list[tuple[str, int, bool]]]:
    """The template the segments make, and the pieces it must be cut into (literal braces escaped)."""
    template = ""
    pieces: list[tuple[str, int, bool]] = []
    text = ""
    for kind, value in segments:
        if kind == "expression":
            if text:
                pieces.append((text, len(template) - len(text), False))
                text = ""
            pieces.append((value, len(template) + 1, True))
            template += "{" + value + "}"
        else:
            text += value
            template += value * 2 if value in "{}" else value
    if text:
        pieces.append((text, len(template) - len(text), False))
    return template, pieces


@settings(max_examples=400, deadline=None)
@given(st.lists(SEGMENT, max_size=8))
def test_a_template_is_cut_into_its_text_and_placeholders(segments: list[tuple[str, str]]) -> None:
    template, pieces = written(segments)
    assert split(template) == pieces


def test_a_placeholder_may_hold_a_brace_in_quotes() -> None:
    assert split("至 {format(x, '}')} 止") == [("至 ", 0, False), ("format(x, '}')", 3, True), (" 止", 18, False)]


@pytest.mark.parametrize(
    ("template", "offset", "words"),
    [
        ("退款 {claim.refund_amount", 3, "without a closing"),
        ("退款 claim} 元", 8, "without an opening"),
        ("退款 {  } 元", 3, "empty placeholder"),
        ("{'}", 0, "without a closing"),
    ],
)
def test_an_unbalanced_brace_is_named_where_it_is(template: str, offset: int, words: str) -> None:
    with pytest.raises(ExpressionProblem) as raised:
        split(template)
    assert raised.value.offset == offset
    assert words in raised.value.message
    assert raised.value.code == "template"
