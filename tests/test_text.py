"""The shared text helpers: one sentence splitter, shortening, fences, URL tails."""

from __future__ import annotations

from cnaps_rag.text import (
    first_line,
    normalize_newlines,
    sentence_spans,
    sentences,
    shorten,
    strip_code_fence,
    trim_url_tail,
)


def test_sentences_skip_abbreviations_and_initials() -> None:
    text = "It works, e.g. on GoPro. See Cho et al. for more! J. Smith wrote it.\nA second line"
    assert sentences(text) == [
        "It works, e.g. on GoPro.",
        "See Cho et al. for more!",
        "J. Smith wrote it.",
        "A second line",
    ]


def test_sentences_split_at_cjk_full_stops() -> None:
    assert sentences("第一句。第二句") == ["第一句。", "第二句"]


def test_sentence_spans_stay_inside_the_range() -> None:
    text = "# Head. x\nOne. Two."
    spans = list(sentence_spans(text, 10, len(text)))
    assert [text[s:e].strip() for s, e in spans] == ["One.", "Two."]


def test_normalize_newlines() -> None:
    assert normalize_newlines("a\r\nb\rc\n") == "a\nb\nc\n"


def test_shorten_cuts_at_a_word_and_marks_the_cut() -> None:
    assert shorten("alpha beta gamma", 100) == "alpha beta gamma"
    assert shorten("alpha beta gamma", 12) == "alpha beta …"
    assert shorten("alphabetagamma", 5, "…") == "alpha…"


def test_first_line() -> None:
    assert first_line("\n  boom: it broke\nmore detail", 9) == "boom: it "
    assert first_line("") == ""


def test_strip_code_fence() -> None:
    assert strip_code_fence('```json\n{"a": 1}\n```') == '{"a": 1}'
    assert strip_code_fence('  {"a": 1} ') == '{"a": 1}'
    assert strip_code_fence("```") == ""


def test_trim_url_tail_keeps_balanced_parentheses() -> None:
    assert trim_url_tail("https://en.wikipedia.org/wiki/Bokeh_(photography)).") == (
        "https://en.wikipedia.org/wiki/Bokeh_(photography)"
    )
    assert trim_url_tail("https://github.com/kky7/MSSNet**,") == "https://github.com/kky7/MSSNet"
