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
    ]
)
answers = st.one_of(st.text(max_size=300), st.lists(fragments, max_size=40).map("".join))

quick = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@quick
@given(answers)
def test_validate_never_raises_and_is_idempotent(text):
    first = validate(text, ALLOW)
    second = validate(first.text, ALLOW)
    assert second.text == first.text
    assert second.violations == []


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
