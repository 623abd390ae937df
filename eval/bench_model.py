"""[answer], [constrained] and [batch]: the embedded model's figures, each against raw
llama-cpp-python calls of the same work."""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from cnaps_rag import PromptSpec, load_prompt_file
from cnaps_rag.backends import Completion, LocalBackend, Request
from eval.bench_common import (
    CONSTRAINED_MAX_RATIO,
    PIPELINE_MAX_OVERHEAD,
    PROMPTS,
    SCAFFOLD_MAX_RATIO,
    Figure,
    Settings,
    ratio_of,
    say,
    unavailable,
)

# --------------------------------------------------------------------------- model figures


def _first_spec() -> PromptSpec:
    return load_prompt_file(single_prompt_files(1)[0])[0]


def single_prompt_files(limit: int = 0) -> list[Path]:
    """Return the fixture prompt files that hold exactly one prompt, sorted."""
    files = [p for p in sorted(PROMPTS.glob("*.txt")) if len(load_prompt_file(p)) == 1]
    return files[:limit] if limit else files


@dataclass
class RecordingBackend(LocalBackend):
    """The local backend, keeping each request it is sent with its completion and seconds."""

    calls: list[tuple[Request, Completion, float]] = field(default_factory=list, repr=False)

    def complete(self, request: Request) -> Completion:
        started = time.perf_counter()
        completion = super().complete(request)
        self.calls.append((request, completion, time.perf_counter() - started))
        return completion


@dataclass
class FreshContextBackend(LocalBackend):
    """The local backend with llama.cpp's KV cache cleared before every request."""

    def complete(self, request: Request) -> Completion:
        self.loaded.llama.reset()
        return super().complete(request)


@dataclass
class CaptureBackend:
    """Keeps the requests it is sent and replies with a well-formed draft or slot: no model involved."""

    name: ClassVar[str] = "capture"
    in_process: ClassVar[bool] = False
    model: str = "capture"
    n_ctx: int = 4096
    is_embedded: bool = False
    requests: list[Request] = field(default_factory=list)

    def complete(self, request: Request) -> Completion:
        self.requests.append(request)
        if "workflow" in (request.schema or {}).get("properties", {}):
            return Completion(text='{"task": "t", "workflow": "w", "sources": []}')
        return Completion(text='{"sentence": "The user wants a sharper photo of the scene."}')


class ModelBench:
    """The model figures, sharing one loaded llama.cpp model and the requests the pipeline sent."""

    def __init__(self, settings: Settings, *, warm: bool = True):
        self.settings = settings
        self.recorder = RecordingBackend()
        self.fresh_backend = FreshContextBackend()
        self.llama = self.recorder.loaded.llama
        self.specs = [load_prompt_file(p)[0] for p in single_prompt_files(settings.answer_prompts)]
        self.requests: list[Request] = []
        self.last_usage: dict[str, int] = {}
        if warm:
            self.warm_up()

    def warm_up(self, tries: int = 6) -> list[float]:
        """Repeat a scaffold request until its time settles; return the times.

        The first few calls after loading cost seconds more (llama.cpp and its threads
        warming up: 3-8 s on the 2-core test machine), which belongs to no figure.
        """
        import cnaps_rag

        capture = CaptureBackend()
        cnaps_rag.answer(self.specs[0] if self.specs else _first_spec(), backend=capture, strategy="scaffold")
        request = capture.requests[0]
        times: list[float] = []
        for _ in range(tries):
            self.llama.reset()
            seconds = self.raw_call(request)[0] + self.raw_call(request, constrained=False)[0]
            times.append(seconds)
            if len(times) >= 2 and seconds >= 0.8 * times[-2]:
                break
        return times

    # ----------------------------------------------------------------- raw calls

    def raw_call(
        self,
        request: Request,
        *,
        constrained: bool = True,
        max_tokens: int | None = None,
        ban_eos: bool = False,
    ) -> tuple[float, int]:
        """Send ``request`` straight to llama-cpp-python as LocalBackend would; return (seconds, tokens)."""
        kwargs: dict[str, Any] = {
            "messages": request.messages,
            "max_tokens": max_tokens if max_tokens is not None else request.max_tokens,
            "temperature": request.temperature,
            "seed": request.seed,
        }
        if constrained and request.schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": request.schema}
        if ban_eos:  # so an unconstrained run writes exactly max_tokens tokens
            kwargs["logit_bias"] = {self.llama.token_eos(): -1e9}
        started = time.perf_counter()
        result = self.llama.create_chat_completion(**kwargs)
        seconds = time.perf_counter() - started
        self.last_usage = dict(result["usage"])
        return seconds, int(result["usage"]["completion_tokens"])

    def _free_length(self, request: Request, tokens: int) -> tuple[float, int, bool]:
        """Return (seconds, tokens, EOS banned) of an unconstrained generation of ``tokens`` tokens."""
        seconds, produced = self.raw_call(request, constrained=False, max_tokens=tokens)
        if produced >= tokens:
            return seconds, produced, False
        seconds, produced = self.raw_call(request, constrained=False, max_tokens=tokens, ban_eos=True)
        return seconds, produced, True

    def free_request(self, spec: PromptSpec, max_tokens: int) -> Request:
        """Return the request the ``fields`` strategy sends for ``spec`` (captured without the model)."""
        import cnaps_rag

        capture = CaptureBackend(n_ctx=self.recorder.n_ctx)
        cnaps_rag.answer(spec, backend=capture, strategy="fields")
        return replace(capture.requests[0], max_tokens=max_tokens)

    # --------------------------------------------------------------- answer, scaffold

    def bench_answer(self) -> list[Figure]:
        """Return the pipeline-overhead figure and the scaffold-versus-free-form figure."""
        import cnaps_rag

        rows = []
        for number, spec in enumerate(self.specs, start=1):
            say(f"answer {number}/{len(self.specs)}: {spec.id}")
            pipe_times, raw_times, free_times, in_model = [], [], [], []
            calls: list[tuple[Request, Completion, float]] = []
            meta: Any = None
            free_req: Any = None
            free_tokens, free_prompt_tokens, banned = 0, 0, False
            replay_tokens: list[int] = []
            for rep in range(self.settings.model_repeat):
                order = ["pipeline", "replay", "free"]
                if rep % 2:
                    order.reverse()
                if not calls:  # the replays need the pipeline's requests first
                    order = ["pipeline", *[o for o in order if o != "pipeline"]]
                for step in order:
                    self.llama.reset()  # every run starts from the same (empty) cache
                    if step == "pipeline":
                        self.recorder.calls.clear()
                        started = time.perf_counter()
                        result = cnaps_rag.answer(spec, backend=self.recorder, strategy="scaffold")
                        pipe_times.append(time.perf_counter() - started)
                        calls = list(self.recorder.calls)
                        in_model.append(sum(seconds for _, _, seconds in calls))
                        meta = result.meta
                    elif step == "replay":
                        total, replay_tokens = 0.0, []
                        for request, _, _ in calls:
                            seconds, tokens = self.raw_call(request)
                            total += seconds
                            replay_tokens.append(tokens)
                        raw_times.append(total)
                    else:
                        if free_req is None:
                            free_req = self.free_request(spec, meta.completion_tokens)
                        seconds, free_tokens, banned = self._free_length(free_req, meta.completion_tokens)
                        free_times.append(seconds)
                        free_prompt_tokens = self.last_usage.get("prompt_tokens", 0)
            self.requests.extend(request for request, _, _ in calls)
            rows.append(
                {
                    "id": spec.id,
                    "pipeline_s": min(pipe_times),
                    "replay_s": min(raw_times),
                    "in_model_calls_s": min(in_model),
                    "free_form_s": min(free_times),
                    "free_form_tokens": free_tokens,
                    "free_form_prompt_tokens": free_prompt_tokens,
                    "free_form_eos_banned": banned,
                    "replay_tokens_match": replay_tokens == [c.completion_tokens for _, c, _ in calls],
                    "generations": meta.generations,
                    "prompt_tokens": meta.prompt_tokens,
                    "completion_tokens": meta.completion_tokens,
                    "meta_timings": meta.timings,
                }
            )
        n = len(rows)
        pipe = sum(r["pipeline_s"] for r in rows)
        raw = sum(r["replay_s"] for r in rows)
        free = sum(r["free_form_s"] for r in rows)
        model_calls = sum(r["in_model_calls_s"] for r in rows)
        completion = sum(r["completion_tokens"] for r in rows)
        prompt_tokens = sum(r["prompt_tokens"] for r in rows)
        overhead = ratio_of(pipe, raw)
        threads = self.llama.context_params
        common = {
            "prompts": n,
            "repeat": self.settings.model_repeat,
            "n_threads": threads.n_threads,
            "n_threads_batch": threads.n_threads_batch,
            "n_ctx": self.recorder.n_ctx,
        }
        answer_figure = Figure(
            key="answer",
            name="local answer (scaffold), pipeline overhead",
            measured=f"{pipe / n:.2f} s/prompt, {completion / pipe:.1f} completion tok/s",
            baseline=f"raw replay {raw / n:.2f} s/prompt",
            ratio=overhead,
            goal=f"≤ {PIPELINE_MAX_OVERHEAD:g}× (≤ 5% overhead)",
            met=overhead is not None and overhead <= PIPELINE_MAX_OVERHEAD,
            details={
                **common,
                "pipeline_s_per_prompt": round(pipe / n, 3),
                "replay_s_per_prompt": round(raw / n, 3),
                "completion_tokens_per_s": round(completion / pipe, 2),
                "prompt_plus_completion_tokens_per_s": round((completion + prompt_tokens) / pipe, 2),
                "generations_per_prompt": sum(r["generations"] for r in rows) / n,
                "outside_model_calls_fraction": round((pipe - model_calls) / pipe, 5),
                "in_run_overhead": ratio_of(pipe, model_calls),
                "replays_identical": all(r["replay_tokens_match"] for r in rows),
                "rows": rows,
            },
            note=(
                f"in the same run, {100 * (pipe - model_calls) / pipe:.2f}% of the pipeline's time is "
                "outside its model calls; the rest of the gap to the replay is machine noise"
            ),
        )
        scaffold = ratio_of(pipe, free)
        scaffold_figure = Figure(
            key="scaffold",
            name="scaffold strategy, whole answer",
            measured=f"{pipe / n:.2f} s/prompt ({completion / n:.0f} tokens in "
            f"{sum(r['generations'] for r in rows) / n:.1f} calls)",
            baseline=f"one free-form generation, same tokens {free / n:.2f} s",
            ratio=scaffold,
            goal=f"≤ {SCAFFOLD_MAX_RATIO:g}×",
            met=scaffold is not None and scaffold <= SCAFFOLD_MAX_RATIO,
            details={
                **common,
                "free_form_s_per_prompt": round(free / n, 3),
                "free_form_tokens_equal": all(r["free_form_tokens"] == r["completion_tokens"] for r in rows),
                "free_form_prompt": "the fields strategy's prompt for the same spec",
            },
        )
        return [answer_figure, scaffold_figure]

    # ----------------------------------------------------------------- constrained

    def _record_requests(self) -> None:
        import cnaps_rag

        for spec in self.specs:
            self.recorder.calls.clear()
            cnaps_rag.answer(spec, backend=self.recorder, strategy="scaffold")
            self.requests.extend(request for request, _, _ in self.recorder.calls)
            if len(self.requests) >= self.settings.constrained_requests:
                break

    def bench_constrained(self, requests: Sequence[Request] | None = None) -> Figure:
        """Return constrained versus unconstrained decoding of the same number of tokens.

        Each request's prompt is cached first, so both sides decode from the same state
        and the time is the decoding (plus, for the constrained side, building the grammar).
        """
        from llama_cpp import LlamaGrammar

        if requests is None:
            if not self.requests:
                self._record_requests()
            requests = _spread(self.requests, self.settings.constrained_requests)
        requests = [r for r in requests if r.schema is not None]
        constrained_s, free_s, tokens_total, banned, mismatched = 0.0, 0.0, 0, 0, 0
        grammar_s = 0.0
        for number, request in enumerate(requests, start=1):
            say(f"constrained {number}/{len(requests)}")
            self.llama.reset()
            _, tokens = self.raw_call(request)  # caches the prompt
            best_c, best_f = math.inf, math.inf
            for rep in range(max(2, self.settings.model_repeat)):
                for side in ("c", "f") if rep % 2 == 0 else ("f", "c"):
                    if side == "c":
                        seconds, produced = self.raw_call(request)
                        best_c = min(best_c, seconds)
                    else:
                        seconds, produced, was_banned = self._free_length(request, tokens)
                        best_f = min(best_f, seconds)
                        banned += was_banned and rep == 0
                        mismatched += produced != tokens and rep == 0
            constrained_s += best_c
            free_s += best_f
            tokens_total += tokens
            started = time.perf_counter()
            LlamaGrammar.from_json_schema(json.dumps(request.schema), verbose=False)
            grammar_s += time.perf_counter() - started
        if not requests or tokens_total == 0:
            return unavailable("constrained", "constrained decoding", "≤ 1.2×", "no constrained requests")
        ratio = ratio_of(constrained_s, free_s)
        return Figure(
            key="constrained",
            name="constrained vs unconstrained decoding",
            measured=f"{1e3 * constrained_s / tokens_total:.1f} ms/token with JSON schema",
            baseline=f"{1e3 * free_s / tokens_total:.1f} ms/token free",
            ratio=ratio,
            goal=f"≤ {CONSTRAINED_MAX_RATIO:g}×",
            met=ratio is not None and ratio <= CONSTRAINED_MAX_RATIO,
            details={
                "requests": len(requests),
                "tokens": tokens_total,
                "constrained_s": round(constrained_s, 4),
                "unconstrained_s": round(free_s, 4),
                "grammar_from_schema_ms_per_request": round(1e3 * grammar_s / len(requests), 3),
                "unconstrained_needed_eos_ban": banned,
                "token_count_mismatches": mismatched,
            },
        )

    # ----------------------------------------------------------------- batch

    def bench_batch(self, limit: int) -> Figure:
        """Return prompts/s of a batch reusing the KV cache over one with a fresh context per request."""
        from cnaps_rag import answer_batch

        files = single_prompt_files(limit)
        best: dict[str, float] = {"cached": math.inf, "fresh": math.inf}
        failed = 0
        with tempfile.TemporaryDirectory(prefix="cnaps-bench-") as tmp:
            for rep in range(self.settings.model_repeat):
                for mode in ("cached", "fresh") if rep % 2 == 0 else ("fresh", "cached"):
                    say(f"batch {mode} ({len(files)} prompts)")
                    self.llama.reset()
                    backend = self.recorder if mode == "cached" else self.fresh_backend
                    started = time.perf_counter()
                    summary = answer_batch(
                        [str(f) for f in files],
                        Path(tmp) / f"{mode}-{rep}.jsonl",
                        backend=backend,
                        strategy="scaffold",
                        resume=False,
                        progress=False,
                    )
                    best[mode] = min(best[mode], time.perf_counter() - started)
                    failed += summary.failed
                    self.recorder.calls.clear()
        n = len(files)
        cached, fresh = n / best["cached"], n / best["fresh"]
        speedup = ratio_of(cached, fresh)
        return Figure(
            key="batch",
            name="batch, prompts/s (KV cache reused)",
            measured=f"{cached:.3f} prompts/s",
            baseline=f"fresh context per request {fresh:.3f} prompts/s",
            ratio=speedup,
            goal="faster (> 1×)",
            met=speedup is not None and speedup > 1 and failed == 0,
            details={
                "prompts": n,
                "repeat": self.settings.model_repeat,
                "failed": failed,
                "cached_s": round(best["cached"], 3),
                "fresh_s": round(best["fresh"], 3),
            },
        )


def _spread(items: Sequence[Any], count: int) -> list[Any]:
    """Return ``count`` items spread evenly over ``items`` (all of them when there are fewer)."""
    if count <= 0 or count >= len(items):
        return list(items)
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]
