"""The hosted backend against a real OpenAI-compatible server: llama.cpp's, on loopback."""

from __future__ import annotations

import pytest
from conftest import prompt

from cnaps_rag import AllowList, BackendError, ConfigError, answer
from cnaps_rag.backends import OpenAIBackend, Request
from cnaps_rag.links import find_links
from cnaps_rag.spec import SECTIONS3
from eval.faults import free_port

HEADINGS = [section.heading for section in SECTIONS3]

pytestmark = pytest.mark.server


def test_guided_answer_through_the_server(llama_server, local_backend):
    backend = OpenAIBackend(model="smollm2", base_url=llama_server)
    # 000's question has two sentences: scaffold asks the model which one states the goal.
    hosted = answer(prompt("000_d18f79af084974a4"), backend=backend, strategy="scaffold")
    assert hosted.meta.backend == "openai" and hosted.meta.model == "smollm2"
    # llama.cpp's server refuses json_schema (with a 500) and takes json_object with a schema.
    assert hosted.meta.structured_mode == "json_object_schema"
    assert backend.structured_modes == ("json_schema", "json_object_schema", "plain_json"), "decided up front"
    assert backend.refused_modes == {"json_schema"}, "remembered: the next schema request asks once"
    assert all(heading in hosted.markdown for heading in HEADINGS)
    assert hosted.cited == ["S1", "S2", "S3", "S4"]
    assert hosted.meta.prompt_tokens > 100 and hosted.meta.completion_tokens > 10


def test_free_answer_through_the_server(llama_server):
    spec = prompt("000_d18f79af084974a4")
    # capable is now the hosted default (issue 13; tests/test_capable.py tests it): ask for fields.
    result = answer(
        spec, backend="openai", base_url=llama_server, model="smollm2", max_tokens=300, strategy="fields"
    )
    assert result.meta.strategy == "fields"
    allow = AllowList.from_spec(spec)
    assert all(link.key in allow.urls for link in find_links(result.markdown))
    assert all(heading in result.markdown for heading in HEADINGS)


def test_plain_text_request(llama_server):
    backend = OpenAIBackend(model="smollm2", base_url=llama_server)
    completion = backend.complete(Request(messages=[{"role": "user", "content": "Say hi."}], max_tokens=8))
    assert completion.mode == "text" and completion.completion_tokens > 0


def test_unreachable_server_is_a_retryable_error_with_a_hint():
    backend = OpenAIBackend(model="m", base_url=f"http://127.0.0.1:{free_port()}/v1", timeout=5)
    with pytest.raises(BackendError) as info:
        backend.complete(Request(messages=[{"role": "user", "content": "x"}]))
    assert info.value.retryable and "--base-url" in (info.value.hint or "")


def test_missing_key_and_server_is_a_config_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="API key") as info:
        OpenAIBackend(model="m")
    assert "OPENAI_API_KEY" in (info.value.hint or "")
