from __future__ import annotations

from pathlib import Path

import pytest

from cnaps_rag import PromptSpec, load_prompt_file

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
PROMPTS = FIXTURES / "prompts"
URL_CASES = ROOT.parent / "shared" / "url-cases"


def prompt(name: str) -> PromptSpec:
    """Return the single prompt in fixtures/prompts/{name}.txt."""
    specs = load_prompt_file(PROMPTS / f"{name}.txt")
    assert len(specs) == 1
    return specs[0]


@pytest.fixture(scope="session")
def example_upscale() -> PromptSpec:
    """The first example: a 2x upscaling question answered with a deblurring model."""
    return prompt("000_d18f79af084974a4")


@pytest.fixture(scope="session")
def example_liif() -> PromptSpec:
    return prompt("004_3b145cd2937caf5f")


# --------------------------------------------------------------------------- real parts


@pytest.fixture(scope="session")
def local_backend():
    """The embedded SmolLM2-135M through llama-cpp-python, loaded once for the session."""
    from cnaps_rag.backends import LocalBackend

    return LocalBackend()


@pytest.fixture(scope="session")
def templateless_model(tmp_path_factory):
    """A copy of the embedded model whose GGUF metadata has no ``tokenizer.chat_template``.

    Written with the ``gguf`` package (llama.cpp's own) into the session's tmp folder, never committed.
    """
    import gguf
    from gguf.scripts.gguf_new_metadata import copy_with_new_metadata

    from cnaps_rag.backends import embedded_model_path

    target = tmp_path_factory.mktemp("gguf") / "SmolLM2-135M-Instruct-no-template.Q4_1.gguf"
    reader = gguf.GGUFReader(embedded_model_path())
    architecture = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(target, arch=architecture, endianess=reader.endianess)
    copy_with_new_metadata(reader, writer, {}, ["tokenizer.chat_template"])
    return target


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """llama-cpp-python's OpenAI-compatible server on loopback, serving the embedded model.

    Yields the base URL (``http://127.0.0.1:PORT/v1``); the server is stopped at the end.
    """
    from eval.faults import llama_server as start

    log = tmp_path_factory.mktemp("server") / "server.log"
    try:
        with start(log=log) as url:
            yield url
    except RuntimeError as exc:
        pytest.fail(str(exc))


class QueueBackend:
    """A fake backend for testing control flow: replies come from a queue or a function.

    Never proof that a backend works: tests of that use the real model or server.
    """

    name = "fake"
    in_process = False
    n_ctx = 8192
    is_embedded = False

    def __init__(self, replies=None, model="fake-model"):
        self.model = model
        self.replies = list(replies or [])
        self.history = []

    @staticmethod
    def default_reply(request):
        """A reply that fits the request's schema (scaffold slot, fields draft), else a capable draft."""
        import json

        if request.schema is None:
            # A capable draft: each heading the system prompt asks for, with a sentence citing S1.
            headings = [line for line in request.messages[0]["content"].splitlines() if line.startswith("#")]
            return "\n\n".join(f"{heading}\n\nThe sources cover this [S1]." for heading in headings) + "\n"
        properties = (request.schema or {}).get("properties", {})
        if "enum" in properties.get("sentence", {}):  # the scaffold's goal: one of the question's sentences
            return json.dumps({"sentence": properties["sentence"]["enum"][-1]}, ensure_ascii=False)
        if "workflow" in properties:
            ids = properties["sources"]["items"]["properties"]["id"]["enum"]
            return json.dumps(
                {"task": "The user wants a sharper image.", "workflow": "Image in, model, image out.",
                 "sources": [{"id": i, "note": "It is relevant."} for i in ids]}
            )  # fmt: skip
        return '{"sentence": "The user wants a clean image."}'

    def enqueue(self, *replies):
        self.replies.extend(replies)

    def complete(self, request):
        from cnaps_rag.backends import Completion

        self.history.append(request)
        reply = self.replies.pop(0) if self.replies else self.default_reply
        if callable(reply):
            reply = reply(request)
        if isinstance(reply, Exception):
            raise reply
        return Completion(text=reply, prompt_tokens=10, completion_tokens=5, mode="grammar")


@pytest.fixture
def fake_backend():
    return QueueBackend()
