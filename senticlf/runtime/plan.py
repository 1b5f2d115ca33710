"""The call plan: how many texts share an ONNX Runtime call, and how calls share the cores.

The predictor, the server and the Ray workers all follow one :class:`CallPlan`: texts per
call (the fastest size that keeps answers unchanged), calls in flight at once over one
session (streams), intra-op threads per call, and whether those threads spin between calls.

Batch size:
A user must get the same answer for a text whatever else is in the file or the server's
queue. Dynamic INT8 breaks that: it quantizes each call's activations with one scale for the
whole batch tensor (padding included), so a review's probability moved by up to 0.52 between
batch 1 and batch 8 on a fine-tuned model. fp32 does not move. So a model is run
in batches only as large as it was *measured* to be batch-invariant, and within that bound
at the size that was fastest on the CPU at hand; which size is fastest differs between CPUs
(batch 1 on one AVX-512 VNNI CPU, batch 8 on another), so it is measured, never looked up.

Export measures every model on its validation reviews and records a
:class:`~senticlf.artifacts.BatchProfile` in the manifest; a bundle loaded on a different CPU
(or provider) is measured again at load on synthetic token ids, which takes about a second.

Streams and threads. On 2 cores, one call at a time on 2 threads whose pool spins between
calls ran at 43 reviews/s in some fresh processes and 56 in others; two calls at once on one
thread each ran at 54-58 in every one. Export times each configuration in fresh processes
taking turns (execution_trials.py) and records the winner; a CPU it was not measured on gets
:func:`default_execution`, the configuration that won where it was measured.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from senticlf import artifacts, cpu
from senticlf.runtime.batching import TokenIds, run_in_groups, run_length_sorted
from senticlf.runtime.calibrator import softmax
from senticlf.runtime.options import PredictorOptions

# The sizes tried; larger batches of IMDb-length reviews fall out of cache on small CPUs.
CANDIDATE_BATCH_SIZES = (1, 8, 32)
# On CUDA the token budget sizes each call (batching.py); these bound how many texts it may
# hold, so invariance is tested up to hundreds of texts.
CUDA_BATCH_SIZES = (1, 32, 128, 256)
# A text's probabilities alone and among others may differ by float noise, no more; what
# counts as noise depends on the precision the model computes in. fp16 keeps 11 bits of
# mantissa, and its kernels (cuBLAS, fused attention) pick their reduction order by shape:
# fp16 is allowed 2e-3.
INVARIANCE_TOLERANCE = {"fp32": 1e-4, "int8": 1e-4, "fp16": 2e-3}
# Load-time probe on a CPU the bundle was not measured on: synthetic reviews of mixed length.
PROBE_TEXTS = 32
CUDA_PROBE_TEXTS = 256  # enough texts to fill the largest of CUDA_BATCH_SIZES
_PROBE_MAX_TOKENS = 256
_SHUFFLE_SEED = 0

Run = Callable[[list[TokenIds]], np.ndarray]
ToProbabilities = Callable[[np.ndarray], np.ndarray]


def run_alone(ids: Sequence[TokenIds], run: Run) -> np.ndarray:
    """Every text in a call of its own: the answer every batched path must reproduce."""
    return run_in_groups(ids, ([i] for i in range(len(ids))), run)


def mixed_batches(count: int, batch_size: int) -> list[list[int]]:
    """Batches of texts in a fixed shuffled order, so that short reviews sit beside long ones."""
    order = list(range(count))
    random.Random(_SHUFFLE_SEED).shuffle(order)
    return [order[start : start + batch_size] for start in range(0, count, batch_size)]


def largest_change(
    ids: Sequence[TokenIds],
    run: Run,
    alone: np.ndarray,
    batch_size: int,
    to_probabilities: ToProbabilities = softmax,
) -> float:
    """Largest probability change of any text between alone and in mixed batches of this size.

    A label flip always shows as a change of at least the distance to the decision boundary,
    so one number covers both criteria at this tolerance.
    """
    batched = run_in_groups(ids, mixed_batches(len(ids), batch_size), run)
    return float(np.max(np.abs(to_probabilities(batched) - to_probabilities(alone))))


def measure(
    ids: Sequence[TokenIds],
    run: Run,
    to_probabilities: ToProbabilities = softmax,
    batch_sizes: Sequence[int] = CANDIDATE_BATCH_SIZES,
    alone: np.ndarray | None = None,
    cap: int | None = None,
    precision: str = "fp32",
) -> artifacts.BatchProfile:
    """Test batch invariance at each size, time the sizes allowed, keep the fastest.

    ``precision`` (a value of :data:`artifacts.MODEL_PRECISION`) picks the tolerance from
    :data:`INVARIANCE_TOLERANCE`.

    ``alone`` (each text's logits from calls of one) may be passed when the caller has them
    already, as export's gate does. Sizes above the first one that is not invariant are not
    tried. ``cap`` bounds the result for a recipe that is not invariant by construction
    (dynamic quantization: a measurement on some texts cannot vouch for every other text).
    """
    tolerance = INVARIANCE_TOLERANCE[precision]
    run(list(sorted(ids, key=len)[-2:]))  # warm-up: the first calls allocate and pick kernels
    start = time.perf_counter()
    timed_alone = run_alone(ids, run)
    seconds = {1: time.perf_counter() - start}
    alone = timed_alone if alone is None else alone
    changes: dict[int, float] = {}
    invariant_up_to = 1
    for size in sorted(b for b in batch_sizes if b > 1):
        changes[size] = largest_change(ids, run, alone, size, to_probabilities)
        if changes[size] > tolerance:
            break
        invariant_up_to = size
    if cap is not None:
        invariant_up_to = min(invariant_up_to, cap)
    for size in sorted(b for b in batch_sizes if 1 < b <= invariant_up_to):
        start = time.perf_counter()
        run_length_sorted(ids, size, run)
        seconds[size] = time.perf_counter() - start
    speeds = {size: len(ids) / max(s, 1e-9) for size, s in seconds.items()}
    fastest = max(speeds, key=speeds.__getitem__)
    return artifacts.BatchProfile(fastest, invariant_up_to, changes, speeds)


def probe_ids(
    vocab_size: int,
    prefix: Sequence[int],
    suffix: Sequence[int],
    max_length: int,
    count: int = PROBE_TEXTS,
) -> list[list[int]]:
    """Synthetic reviews of 8 to 256 tokens (at most ``max_length`` with the special tokens),
    for measuring a bundle on a CPU it was not measured on."""
    rng = random.Random(_SHUFFLE_SEED)
    low = min(1000, vocab_size // 2)  # above the special and unused tokens of BERT vocabularies
    longest = max(1, min(_PROBE_MAX_TOKENS, max_length - len(prefix) - len(suffix)))
    texts = []
    for _ in range(count):
        length = rng.randint(min(8, longest), longest)
        texts.append([*prefix, *(rng.randrange(low, vocab_size) for _ in range(length)), *suffix])
    return texts


def _measured_here(manifest: artifacts.Manifest) -> artifacts.Batching | None:
    """Export's batching record, if it was taken on this CPU model (else it says nothing here)."""
    batching = manifest.batching
    return batching if batching is not None and batching.cpu == cpu.cpu_name() else None


def recorded_profile(
    manifest: artifacts.Manifest, model_file: str, on_cpu_provider: bool
) -> artifacts.BatchProfile | None:
    """The export's measurement, if it was taken on this CPU model for the CPU provider."""
    batching = _measured_here(manifest)
    if batching is None or not on_cpu_provider:
        return None
    return batching.models.get(model_file)


def recorded_speeds(manifest: artifacts.Manifest) -> dict[str, float]:
    """Reviews/s of each model as it will run (its batch size and execution), if export
    measured them on this CPU: the INT8-or-fp32 default compares each model at its best."""
    batching = _measured_here(manifest)
    if batching is None:
        return {}
    return {name: profile.speed for name, profile in batching.models.items()}


def recorded_cap(manifest: artifacts.Manifest, model_file: str) -> int | None:
    """The most texts per call export allowed this model on any CPU (None: no bound known).

    A measurement taken here can lower it, never raise it: export knows the recipe, and a
    dynamically quantized model is not invariant whatever a few probe texts show. A bundle
    written before batching was recorded runs its INT8 model one text at a time. A model
    that stayed invariant at every size export tried has no bound: a GPU may try larger ones.
    """
    if manifest.batching and model_file in manifest.batching.models:
        profile = manifest.batching.models[model_file]
        largest_tried = max(profile.max_probability_change, default=profile.invariant_up_to)
        return profile.invariant_up_to if profile.invariant_up_to < largest_tried else None
    return 1 if model_file == artifacts.INT8_MODEL else None


def effective_batch_size(
    profile: artifacts.BatchProfile, requested: int | None, by_tokens: bool = False
) -> int:
    """The caller's batch size, capped where the model stops being batch-invariant.

    ``by_tokens``: a token budget sizes the calls (CUDA), so by default the most texts a call
    may hold is the invariance bound itself, not the fastest of the few sizes timed.
    """
    if requested is None:
        return profile.invariant_up_to if by_tokens else profile.batch_size
    return max(1, min(requested, profile.invariant_up_to))


# ---------------------------------------------------------------------------- the whole plan

# A configuration's slowest fresh-process run counts against it below this share of its median.
STEADY_SHARE = 0.9
# Configurations whose steady speed is within this share of the best count as tied.
TIE_SHARE = 0.95


@dataclass(frozen=True)
class CallPlan:
    """How the runtime runs a model: texts per call, calls at once, threads per call.

    ``token_budget`` (CUDA only) sizes a call by padded tokens; ``batch_size`` then bounds the
    texts in it. ``source`` says where the execution came from (measured at export on this CPU,
    the default for an unmeasured CPU, or the caller), for /info and the logs.
    """

    batch_size: int
    execution: artifacts.Execution
    token_budget: int | None = None
    source: str = "default"

    @property
    def streams(self) -> int:
        return self.execution.streams

    def describe(self) -> str:
        size = f"{self.batch_size} text(s) a call"
        if self.token_budget:
            size += f" within {self.token_budget} padded tokens"
        return f"{size}; {self.execution.label()} ({self.source})"


def candidate_executions(cores: int) -> list[artifacts.Execution]:
    """What export times: one call on every core (pool spinning or not), and one call per
    core; with 4+ cores also pairs of threads. Spinning means nothing to a lone thread."""
    if cores <= 1:
        return [artifacts.Execution(1, 1, False)]
    found = [
        artifacts.Execution(1, cores, True),
        artifacts.Execution(1, cores, False),
        artifacts.Execution(cores, 1, False),
    ]
    if cores >= 4:
        found.append(artifacts.Execution(cores // 2, 2, False))
    return found


def default_execution(cores: int) -> artifacts.Execution:
    """Where nothing was measured: one single-thread call per core, no spinning threads.

    It never fell into the slow mode in fresh-process runs where one call on every core did
    (benchmarks/results/streams-*.md), and independent calls need no synchronisation.
    """
    return artifacts.Execution(max(1, cores), 1, False)


def steady_speed(trial: artifacts.ExecutionTrial) -> float:
    """A configuration's median, or its slowest run over :data:`STEADY_SHARE` if that is lower:
    a plan that sometimes falls into a slow mode is credited with its slow runs."""
    return min(trial.median, trial.worst / STEADY_SHARE)


def best_trial(trials: Sequence[artifacts.ExecutionTrial]) -> artifacts.ExecutionTrial:
    """The configuration with the best median and worst run (:func:`steady_speed`); among
    those within :data:`TIE_SHARE` of it, the one with the most streams.

    A few fresh processes can miss a slow mode that strikes one process in three or so: one
    call on both cores of a 2-core AMD EPYC (AVX-512 VNNI), its pool spinning, ran at 39-41
    reviews/s in 3 of 8 fresh processes and 49-54 in the others, while two single-thread calls
    at once (no pool to spin) stayed within 49-55 (benchmarks/results/streams-zen4.md). So a
    near-tie goes to more streams.
    """
    best = max(steady_speed(trial) for trial in trials)
    close = [trial for trial in trials if steady_speed(trial) >= TIE_SHARE * best]
    return max(
        close, key=lambda t: (t.execution.streams, not t.execution.spinning, steady_speed(t))
    )


def choose_execution(
    options: PredictorOptions, recorded: artifacts.Execution | None, on_cpu: bool
) -> tuple[artifacts.Execution, str]:
    """The caller's streams/threads, else export's measured winner (if it was measured for
    as many cores as there are here), else :func:`default_execution`. Returns the execution
    and where it came from."""
    budget = options.budget
    if not on_cpu:  # a GPU runs one call at a time; the threads only feed it
        return artifacts.Execution(1, options.threads or budget, True), "cuda"
    if options.streams or options.threads:
        streams = options.streams or max(1, budget // (options.threads or 1))
        threads = options.threads or max(1, budget // streams)
        return artifacts.Execution(streams, threads, False), "asked for"
    if recorded is not None and recorded.streams * recorded.threads == budget:
        return recorded, "measured at export on this CPU"
    return default_execution(budget), "default for a CPU export did not measure"
