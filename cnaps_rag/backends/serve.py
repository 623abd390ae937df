"""llama-cpp-python's OpenAI-compatible server, with cnaps-rag's weight-repacking decision.

``python -m cnaps_rag.backends.serve --model PATH [server options]`` takes the same
arguments as ``python -m llama_cpp.server`` (extra ``[server]``), and loads the model as
the local backend would: with repacking off where it would crash (AMX CPUs) or where it
gains nothing (the embedded model). ``$CNAPS_RAG_REPACK`` (auto, on, off) overrides.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import CnapsRagError
from .local import repack_decision
from .native import model_params


def _model_argument(argv: list[str]) -> Path | None:
    for index, arg in enumerate(argv):
        if arg == "--model" and index + 1 < len(argv):
            return Path(argv[index + 1])
        if arg.startswith("--model="):
            return Path(arg.split("=", 1)[1])
    return None


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        from llama_cpp.server.__main__ import main as serve
    except ImportError:
        print(
            "cnaps-rag serve: llama-cpp-python's server is not installed",
            "(pip install 'llama-cpp-python[server]')",
            file=sys.stderr,
        )
        return 2
    try:
        model = _model_argument(args)
        if model is None:
            raise CnapsRagError("no --model given", hint="pass --model PATH to a GGUF file")
        decision = repack_decision(model)
    except CnapsRagError as exc:
        print(f"cnaps-rag serve: error: {exc.one_line()}", file=sys.stderr)
        return 2
    print(
        f"cnaps-rag serve: weight repacking {'on' if decision.repack else 'off'}: {decision.reason}",
        file=sys.stderr,
    )
    sys.argv = [sys.argv[0], *args]
    with model_params(decision.repack):
        serve()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
