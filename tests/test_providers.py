"""``--provider``: one table of URLs, key variables and structured output modes; ``--timeout``.

The table and the option rules are unit tests; the real path is llama.cpp's server on loopback
(``llamacpp``), and a loopback socket that never answers for the hosted time limit.
"""

from __future__ import annotations

import json
import socket
import threading
from typing import get_args

import pytest
from conftest import PROMPTS, QueueBackend, prompt

from cnaps_rag import ConfigError, answer_batch
from cnaps_rag.backends import OpenAIBackend, Request, StructuredMode, resolve_backend
from cnaps_rag.backends.openai import PROVIDERS, _check_base_url, provider
from cnaps_rag.cli import build_parser, main
from cnaps_rag.draft.caller import Caller
from cnaps_rag.errors import TimeLimitError

SCHEMA = {"type": "object", "properties": {"sentence": {"type": "string"}}, "required": ["sentence"]}
KEYS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "CNAPS_RAG_OPENAI_MODEL",
    *(p.key_env for p in PROVIDERS.values()),
)


@pytest.fixture
def no_keys(monkeypatch):
    for name in KEYS:
        monkeypatch.delenv(name, raising=False)


def test_the_table_has_each_provider_the_issue_names_and_the_cli_offers_them(capsys):
    assert list(PROVIDERS) == ["openai", "anthropic", "gemini", "ollama", "vllm", "llamacpp"]
    for command in ("answer", "batch"):
        extra = ["-o", "out.jsonl"] if command == "batch" else []
        for name in PROVIDERS:
            assert build_parser().parse_args([command, "p.txt", *extra, "--provider", name]).provider == name
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, "p.txt", *extra, "--provider", "azure"])
    assert "invalid choice: 'azure'" in capsys.readouterr().err


@pytest.mark.parametrize("name", list(PROVIDERS))
def test_each_row_is_a_reachable_url_a_key_variable_and_modes_that_exist(name):
    row = provider(name)
    _check_base_url(row.base_url)  # raises for a URL no request could reach
    assert row.base_url.startswith("https://") is row.needs_key  # hosted ones need a key, over TLS
    assert row.key_env.endswith("_API_KEY") and row.key_env == row.key_env.upper()
    modes = set(get_args(StructuredMode)) - {"grammar", "text"}
    assert row.structured_modes and set(row.structured_modes) <= modes
    assert row.structured_modes[-1] == "plain_json", "instructions are the last resort of every provider"


def test_an_unknown_provider_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown provider 'azure'") as info:
        provider("azure")
    assert "vllm" in (info.value.hint or "")


def test_a_hosted_provider_needs_its_own_key_and_a_model(no_keys, monkeypatch):
    with pytest.raises(ConfigError, match="the anthropic provider needs an API key") as info:
        OpenAIBackend(provider="anthropic", model="claude-sonnet-4-5")
    assert info.value.hint == "set ANTHROPIC_API_KEY"
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-not-this-one")
    with pytest.raises(ConfigError, match="needs a model name"):
        OpenAIBackend(provider="anthropic")
    backend = OpenAIBackend(provider="anthropic", model="claude-sonnet-4-5")
    assert backend.base_url == "https://api.anthropic.com/v1/" and backend.client.api_key == "sk-ant-test"
    # Anthropic ignores response_format: the schema goes in the instructions, and only there.
    assert [mode for mode, _ in backend._formats(SCHEMA)] == ["plain_json"]


def test_the_openai_row_is_what_the_backend_did_without_one(no_keys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    backend = OpenAIBackend(provider="openai")
    assert backend.model == "gpt-4o-mini" and backend.token_field == "max_completion_tokens"
    assert [mode for mode, _ in backend._formats(SCHEMA)] == ["json_schema", "plain_json"]


def test_a_local_server_needs_no_key_and_base_url_wins(no_keys, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")  # another tool's setting: not used
    backend = OpenAIBackend(provider="vllm", model="Qwen/Qwen2.5-7B-Instruct")
    assert backend.base_url == "http://localhost:8000/v1" and backend.client.api_key == "not-needed"
    moved = OpenAIBackend(provider="vllm", model="m", base_url="http://10.1.2.3:9000/v1")
    assert moved.base_url == "http://10.1.2.3:9000/v1" and moved.token_field == "max_tokens"
    monkeypatch.setenv("VLLM_API_KEY", "secret-vllm")
    assert OpenAIBackend(provider="vllm", model="m").client.api_key == "secret-vllm"
    llamacpp = OpenAIBackend(provider="llamacpp")
    assert llamacpp.model == "local"
    modes = [mode for mode, _ in llamacpp._formats(SCHEMA)]
    assert modes == ["json_object_schema", "json_schema", "plain_json"]


def test_options_that_belong_to_the_other_backend_are_refused(no_keys):
    with pytest.raises(ConfigError, match="--provider vllm is for the openai backend"):
        resolve_backend("local", provider="vllm")
    with pytest.raises(ConfigError, match="--base-url http://host:8080/v1 is for the openai backend"):
        resolve_backend("local", base_url="http://host:8080/v1")  # not silently the embedded model
    with pytest.raises(ConfigError, match="--chat-format is for a local GGUF model"):
        resolve_backend("openai", provider="vllm", model="m", chat_format="chatml")
    for options in ({"provider": "vllm", "model": "m"}, {}):
        with pytest.raises(ConfigError, match="timeout must be above 0"):
            resolve_backend("openai" if options else "local", timeout=0, **options)


def test_cli_provider_errors_are_one_line(no_keys, capsys):
    upscale = str(PROMPTS / "000_d18f79af084974a4.txt")
    assert main(["answer", upscale, "--provider", "gemini", "--model", "g"]) == 2
    err = capsys.readouterr().err
    assert err == "cnaps-rag: error: the gemini provider needs an API key (hint: set GEMINI_API_KEY)\n"


# --------------------------------------------------------------------------- time limits


@pytest.fixture
def silent_server():
    """A loopback socket that accepts connections and never answers; yields its /v1 URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


def test_a_request_past_the_time_limit_is_a_retryable_time_limit_error(silent_server, no_keys):
    backend = OpenAIBackend(provider="llamacpp", base_url=silent_server, timeout=0.3)
    call = Caller(backend, attempts=2, max_wait=0.01)
    with pytest.raises(TimeLimitError, match=r"sent no reply within 0\.3 s") as info:
        call.text(Request(messages=[{"role": "user", "content": "hi"}]))
    assert info.value.retryable and info.value.seconds == 0.3 and info.value.attempts == 2


def test_a_prompt_past_the_time_limit_is_its_error_record_and_the_batch_goes_on(tmp_path):
    spec = prompt("000_d18f79af084974a4")
    slow = TimeLimitError("the local model ran past the time limit of 5 s", seconds=5)
    backend = QueueBackend([slow])  # the first prompt's request; the second prompt gets good drafts
    out = tmp_path / "answers.jsonl"
    names = ("000_d18f79af084974a4", "004_3b145cd2937caf5f")
    summary = answer_batch([PROMPTS / f"{n}.txt" for n in names], out, backend=backend)
    records = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert (summary.answered, summary.failed) == (1, 1)
    failed = records[spec.id]
    assert failed["error_type"] == "TimeLimitError" and "time limit of 5 s" in failed["error"]


@pytest.mark.model
def test_a_local_generation_past_the_time_limit_stops_and_the_model_goes_on(local_backend):
    from cnaps_rag.backends import LocalBackend

    request = Request(messages=[{"role": "user", "content": "Tell me about rivers."}], max_tokens=64)
    # Asked twice, so that this reply, like the one after the stop, reads the whole prompt from
    # llama.cpp's cache: on some CPUs (AVX-512 EPYC) a prompt evaluated in one batch and one read
    # from the cache give logits that differ in the last bits, and greedy replies part ways.
    local_backend.complete(request)
    before = local_backend.complete(request).text
    with pytest.raises(TimeLimitError, match=r"time limit of 0\.001 s") as info:
        LocalBackend(timeout=0.001).complete(request)  # the same loaded model, with a limit
    assert not info.value.retryable and "--timeout" in (info.value.hint or "")
    assert local_backend.complete(request).text == before, "a stopped generation leaves the model as it was"


@pytest.mark.server
def test_the_llamacpp_provider_against_llama_cpps_server(llama_server, capsys, no_keys):
    code = main(
        ["answer", str(PROMPTS / "000_d18f79af084974a4.txt"), "--provider", "llamacpp", "--base-url",
         llama_server, "--strategy", "fields", "--max-tokens", "200", "--timeout", "300", "--json"]
    )  # fmt: skip
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["meta"]["backend"] == "openai" and result["meta"]["model"] == "local"
    # The row's first mode (no 500 for json_schema first, as without a provider). Whether the 135M
    # model's JSON fits 200 tokens, or is re-asked once (a retry), is the model's business.
    assert result["meta"]["structured_mode"] == "json_object_schema"
    assert result["meta"]["generations"] <= 2 and result["meta"]["retries"] <= 1
