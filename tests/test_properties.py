"""Property tests: validate never raises, is idempotent, and lets no unsourced link through."""

from __future__ import annotations

import contextlib

from conftest import prompt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnaps_rag import AllowList, CnapsRagError, parse_prompt, validate
from cnaps_rag.links import find_links

SPEC = prompt("000_d18f79af084974a4")
ALLOW = AllowList.from_spec(SPEC)

fragments = st.sampled_from(
    [
        "## 1. Task",
        "## 2. Workflow",
        "## 3. Papers",
        "\n",
        "\n\n",
        "- ",
        "1. ",
        " ",
        ". ",
        ", ",
        "(",
        ")",
        "[",
        "]",
        "MSSNet",
        "MSS-Net",
        "Real-ESRGAN",
        "GPT-4",
        "ResNet-50",
        "EfficientViT-L3-384",
        "EfficientNet-B0",
        "HAT",
        "https://github.com/kky7/MSSNet",
        "github.com/kky7/MSSNet2",
        "https://evil.example.com/x",
        "paperswithcode.com",
        "arXiv:2107.10833",
        "arXiv:2406.17117",
        "doi:10.1109/CVPR.2016.90",
        "[code](https://x.org/a)",
        "[MSSNet](https://github.com/kky7/MSSNet)",
        "<https://a.b/c>",
        "see",
        "at",
        "The model",
        "works well",
        "GPU",
        "e.g.",
        "é",
        "模型",
        "\t",
        "**",
        "`",
        "http://",
        "www.",
        ".com",
        "/",
        "@",
        "#",
        "\n```\n",  # fences open a line, as in real answers
        "\n```mermaid\n",
        "  A --> B{",
        "}\n",
        "| a | b |\n|---|---|\n| ",
        " |\n",
        "[cite_start]",
        "[cite: 3]",
        "SegGPT",
        "Claude Monet",
        "latent diffusion",
        "Deblur-MSSNet-GoPro-J",
        "Enhancement-low-light-img-enhancer",
        "**Model:** ",
        "    - ",
    ]
)
answers = st.one_of(st.text(max_size=300), st.lists(fragments, max_size=40).map("".join))

quick = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_a_removal_that_joins_text_is_looked_at_again():
    """Found by a longer run of the property below: the removed ID's neighbour becomes a link."""
    text = "arXiv:2107.10833arXiv:2107.10833\n```\narXiv:2107.10833"
    first = validate(text, ALLOW)
    assert "arXiv" not in first.text and validate(first.text, ALLOW).ok


@quick
@given(answers)
def test_validate_never_raises_and_is_idempotent(text):
    first = validate(text, ALLOW)
    second = validate(first.text, ALLOW)
    assert second.text == first.text
    assert second.violations == []


def _code_shape(text):
    from cnaps_rag.markdown import Layout

    layout = Layout(text)
    # Kinds only: a disallowed name in a fence's info string ("```MSSNet1") may go like any other.
    shape = [line.kind for line in layout.lines if line.kind in ("code", "fence")]
    if shape.count("fence") % 2:  # a fence left open at the end: its tail may trim
        while shape and shape[-1] == "code":
            shape.pop()
    return shape


@quick
@given(answers)
def test_code_and_diagrams_keep_every_line(text):
    """Inside a fence only a URL or a name is removed: no line of code is lost or added."""
    from cnaps_rag.text import normalize_newlines
    from cnaps_rag.validation import _CITATION

    before = _code_shape(_CITATION.sub("", normalize_newlines(text)).rstrip("\n"))
    assert _code_shape(validate(text, ALLOW).text.rstrip("\n")) == before


@quick
@given(answers)
def test_no_unsourced_link_survives(text):
    result = validate(text, ALLOW)
    assert all(link.key in ALLOW.urls for link in find_links(result.text))


@quick
@given(answers)
def test_no_unsourced_model_name_survives(text):
    from cnaps_rag.names import find_model_names

    result = validate(text, ALLOW)
    spans = [(link.start, link.end) for link in find_links(result.text)]
    assert all(ALLOW.names.check(m).allowed for m in find_model_names(result.text, skip=spans))


@quick
@given(st.one_of(st.text(max_size=400), st.binary(max_size=400)))
def test_parse_raises_only_its_own_errors(data):
    with contextlib.suppress(CnapsRagError):
        parse_prompt(data)


@quick
@given(st.text(max_size=120), st.lists(st.text(max_size=60), max_size=3))
def test_parse_survives_mangled_prompts(noise, pieces):
    base = SPEC.raw
    cut = len(noise) % max(1, len(base))
    mangled = base[:cut] + noise + base[cut:] + "".join(pieces)
    try:
        spec = parse_prompt(mangled)
    except CnapsRagError:
        return
    assert spec.sources and spec.question


# names.token_matches is a shortcut for _TOKEN.finditer (the shape pass's tokens): same matches.
_token_text = st.text(alphabet="aBzZ09-_+./@ \n\tİé()", max_size=80) | st.lists(fragments, max_size=40).map(
    "".join
)


def _token_spans_plain(text: str) -> list[tuple[int, int]]:
    from cnaps_rag.names import _TOKEN

    return [m.span() for m in _TOKEN.finditer(text)]


@settings(max_examples=400)
@given(_token_text)
def test_token_shortcut_matches_the_plain_scan(text):
    from cnaps_rag.names import token_matches

    assert [m.span() for m in token_matches(text)] == _token_spans_plain(text)


def test_token_shortcut_matches_the_plain_scan_on_the_fixture_answers():
    import json

    from conftest import FIXTURES

    from cnaps_rag.names import token_matches

    for line in (FIXTURES / "labelled" / "answers.jsonl").read_text(encoding="utf-8").splitlines():
        text = json.loads(line)["answer"]
        assert [m.span() for m in token_matches(text)] == _token_spans_plain(text)


@settings(max_examples=300)
@given(
    st.lists(
        st.sampled_from(["[cite_start]", " [cite: 3]", "[cite: 1, 2]", "【4:0†source】", "a", " ", "\n"]),
        max_size=20,
    )
)
def test_citation_count_is_the_marks_found(pieces):
    from cnaps_rag.validation import _CITATION

    text = "".join(pieces)
    result = validate(text, ALLOW)
    assert result.citations == len(_CITATION.findall(text))
    assert result.text == validate(_CITATION.sub("", text), ALLOW).text
