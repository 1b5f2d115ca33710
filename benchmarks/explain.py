"""How faithful and how fast senticlf's explanations are, against random words and SHAP.

    nice -n 10 python -m benchmarks.explain --bundle /tmp/ref-bundle --reviews 200 --shap10-reviews 50
    python -m benchmarks.explain --bundle /tmp/ref-bundle --reviews 3 --name explain-smoke  # a minute

On ``--reviews`` IMDb test reviews drawn with a fixed seed (outside the run's validation
reviews, which came from the test split), each review is explained by senticlf's occlusion
(``clf.explain``, timed one review at a time, as a user calls it), by SHAP's partition explainer
(``shap.maskers.Text`` with a tokenizer that splits into the same word units, the same
predictor as model) at the number of model calls our explanation used and at ten times it
(the 10x part on the first ``--shap10-reviews``), and by random words. ERASER's measures
(DeYoung et al., 2020) for the top k% of a review's words, k in 5, 10, 20:
comprehensiveness, p(label | review) - p(label | review without those words) (higher: the
words mattered), and sufficiency, p(label | review) - p(label | those words alone) (lower: they
suffice), for the label predicted on the whole review; AOPC is their mean over k. Every
variant is scored by the same predictor; our ranking gives each explained word (run) its
contribution per word and every other word its sentence's contribution per word.

Timing: seconds per explanation by review length in tokens (the bundle's tokenizer, before
truncation): about 250 (200-300) and about 512 (450 and more). Run it on an idle machine; the
load (``uptime``) before and after is recorded with the machine.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

import senticlf
from benchmarks.common import results
from senticlf import data
from senticlf.runtime import explain
from senticlf.runtime.predictor import SentimentClassifier

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
KS = (5, 10, 20)
METHODS = ("occlusion", "random", "shap", "shap10")
# Review lengths (tokens before truncation) whose explanation time is reported apart.
BUCKETS = {"~250 tokens (200-300)": (200, 300), "~512 tokens (450+)": (450, 10**9)}
Scores = Callable[[Sequence[str]], np.ndarray]


# ---------------------------------------------------------------------------- ERASER


def top_words(scores: np.ndarray, share: float) -> list[int]:
    """Indices of the ``share`` highest-scored words (at least one; ties: earlier first)."""
    count = max(1, round(share * len(scores)))
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return sorted(order[:count])


def kept_only(text: str, words: list[tuple[int, int]], chosen: list[int]) -> str:
    return " ".join(text[words[i][0] : words[i][1]] for i in chosen)


def eraser(
    text: str, label: int, full: float, scores: np.ndarray, probabilities: Scores
) -> dict[str, Any]:
    """Comprehensiveness and sufficiency at every k, for a ranking ``scores`` of the words."""
    words = explain.word_spans(text)
    variants = []
    for k in KS:
        chosen = top_words(scores, k / 100)
        variants += [
            explain.without(text, [words[i] for i in chosen]),
            kept_only(text, words, chosen),
        ]
    p = probabilities(variants)[:, label]
    comprehensiveness = {k: full - float(p[2 * i]) for i, k in enumerate(KS)}
    sufficiency = {k: full - float(p[2 * i + 1]) for i, k in enumerate(KS)}
    return {
        "comprehensiveness": comprehensiveness,
        "sufficiency": sufficiency,
        "aopc_comprehensiveness": float(np.mean(list(comprehensiveness.values()))),
        "aopc_sufficiency": float(np.mean(list(sufficiency.values()))),
    }


def occlusion_scores(text: str, result: explain.Explanation) -> np.ndarray:
    """A score per word: its explained run's contribution per word, else its sentence's."""
    words = explain.word_spans(text)
    scores = np.zeros(len(words))
    for spans in (result.sentences, result.words):  # words last: they refine their sentence
        for span in spans:
            inside = [i for i, (a, b) in enumerate(words) if span.start <= a and b <= span.end]
            for i in inside:
                scores[i] = span.contribution / len(inside)
    return scores


# ---------------------------------------------------------------------------- SHAP


def word_tokenizer(text: str, return_offsets_mapping: bool = True) -> dict[str, Any]:
    """The tokenizer shap.maskers.Text needs, splitting into explain's word units."""
    spans = explain.word_spans(text)
    found: dict[str, Any] = {"input_ids": [text[a:b] for a, b in spans]}
    if return_offsets_mapping:
        found["offset_mapping"] = spans
    return found


class CountingModel:
    """The predictor as SHAP's model: probabilities of masked texts, counting what it scores."""

    def __init__(self, probabilities: Scores) -> None:
        self.probabilities = probabilities
        self.calls = 0

    def __call__(self, texts: Any) -> np.ndarray:
        batch = [str(t) for t in texts]
        self.calls += len(batch)
        return self.probabilities(batch)


def shap_explainer(model: CountingModel, labels: Sequence[str]) -> Any:
    try:
        import shap
    except ImportError:
        raise SystemExit("the SHAP baseline needs shap: pip install -e '.[bench]'") from None
    # The mask token must tokenize to one unit (shap reads its id); masked words are then
    # deleted, as our occlusion deletes them (the whitespace collapses).
    masker = shap.maskers.Text(word_tokenizer, mask_token="MASK", collapse_mask_token=True)
    masker.mask_token = ""
    return shap.Explainer(model, masker, algorithm="partition", output_names=list(labels))


def shap_scores(
    explainer: Any, model: CountingModel, text: str, label: int, budget: int
) -> tuple[np.ndarray, int, float]:
    """SHAP values of each word for ``label``, the model calls spent, the seconds taken."""
    model.calls = 0
    start = time.perf_counter()
    values = explainer([text], max_evals=budget, silent=True).values[0]
    return np.asarray(values)[:, label], model.calls, time.perf_counter() - start


# ---------------------------------------------------------------------------- the run


def held_out_reviews(archive: str, run: Path | None, count: int, seed: int) -> list[data.Review]:
    """IMDb test reviews outside the run's validation reviews (which came from that split)."""
    test = data.read_labelled(archive, ("negative", "positive"))
    seen: set[str] = set()
    if run is not None and (run / "val.csv").is_file():
        seen = {review.text for review in data.read_table(run / "val.csv")}
    return data.seeded_subset([r for r in test if r.text not in seen], count, seed)


def one_review(
    clf: SentimentClassifier,
    review: data.Review,
    index: int,
    explainer: Any,
    model: CountingModel,
    with_shap10: bool,
    seed: int,
) -> dict[str, Any]:
    text = review.text
    start = time.perf_counter()
    ours = clf.explain(text)
    seconds = time.perf_counter() - start
    label = clf.labels.index(ours.label)
    n_words = len(explain.word_spans(text))
    rankings: dict[str, np.ndarray] = {
        "occlusion": occlusion_scores(text, ours),
        "random": np.random.default_rng([seed, index]).random(n_words),
    }
    calls = {"occlusion": ours.model_calls, "random": 0}
    shap_seconds = {}
    runs = [("shap", ours.model_calls)] + (
        [("shap10", 10 * ours.model_calls)] if with_shap10 else []
    )
    for name, budget in runs:
        rankings[name], calls[name], shap_seconds[name] = shap_scores(
            explainer, model, text, label, budget
        )
    return {
        "review": index,
        "label": review.label,
        "predicted": ours.label,
        "tokens": clf.encoder.untruncated_lengths([text])[0],
        "words": n_words,
        "seconds": seconds,
        "shap_seconds": shap_seconds,
        "model_calls": calls,
        "measures": {
            name: eraser(text, label, ours.score, scores, clf.probabilities)
            for name, scores in rankings.items()
        },
    }


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    table = {}
    for method in METHODS:
        measured = [r for r in rows if method in r["measures"]]
        if not measured:
            continue
        table[method] = {
            "reviews": len(measured),
            "model_calls": float(np.mean([r["model_calls"][method] for r in measured])),
            **{
                f"{measure}_{k}": float(
                    np.mean([r["measures"][method][measure][k] for r in measured])
                )
                for measure in ("comprehensiveness", "sufficiency")
                for k in KS
            },
            "aopc_comprehensiveness": float(
                np.mean([r["measures"][method]["aopc_comprehensiveness"] for r in measured])
            ),
            "aopc_sufficiency": float(
                np.mean([r["measures"][method]["aopc_sufficiency"] for r in measured])
            ),
        }
    timing = {"all": distribution([r["seconds"] for r in rows])}
    for bucket, (low, high) in BUCKETS.items():
        timing[bucket] = distribution([r["seconds"] for r in rows if low <= r["tokens"] < high])
    return {"faithfulness": table, "seconds_per_explanation": timing}


def distribution(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"reviews": 0}
    return {
        "reviews": len(values),
        "median": float(np.median(values)),
        "p90": float(np.percentile(values, 90)),
        "max": float(np.max(values)),
    }


@app.command()
def main(
    bundle: Annotated[Path, typer.Option(help="The bundle to explain (its default model).")],
    data_source: Annotated[
        str, typer.Option("--data", help="The aclImdb archive (its test split is used).")
    ] = "../shared/data/aclImdb_labelled.tar.gz",
    run: Annotated[
        Path | None, typer.Option(help="The run whose validation reviews are left out.")
    ] = Path("../shared/runs/minilm-imdb-1k"),
    reviews: Annotated[int, typer.Option(help="Held-out test reviews explained.")] = 200,
    shap10_reviews: Annotated[
        int | None,
        typer.Option(help="Reviews (the first ones) SHAP also explains at 10x the budget [all]."),
    ] = None,
    seed: int = 0,
    threads: Annotated[
        int | None, typer.Option(help="ONNX Runtime threads [default: the library's call plan].")
    ] = None,
    out: Annotated[Path, typer.Option(help="Results folder.")] = results.FOLDER,
    name: Annotated[str, typer.Option(help="Results file name, without extension.")] = "explain",
) -> None:
    window = results.LoadWindow()
    clf = senticlf.load(bundle, threads=threads)
    chosen = held_out_reviews(data_source, run, reviews, seed)
    model = CountingModel(clf.probabilities)
    explainer = shap_explainer(model, clf.labels)
    clf.probabilities([r.text for r in chosen[:3]])  # warm-up: ONNX Runtime's first calls are slow
    shap10 = len(chosen) if shap10_reviews is None else shap10_reviews
    rows = []
    for index, review in enumerate(chosen):
        rows.append(one_review(clf, review, index, explainer, model, index < shap10, seed))
        print(f"{index + 1}/{len(chosen)}: {rows[-1]['seconds']:.3f} s", file=sys.stderr)
    window.close()
    result = {
        "bundle": str(bundle),
        "model_file": clf.model_file,
        "batch_size": clf.batch_size,
        "plan": clf.plan.describe(),
        "reviews": len(rows),
        "shap10_reviews": min(shap10, len(rows)),
        "seed": seed,
        "ks": list(KS),
        "summary": summary(rows),
        "rows": rows,
    }
    title = "Explanations: faithfulness (ERASER) and time per explanation"
    print(results.write(name, result, [markdown(result)], title=title, load=window, folder=out))


def markdown(r: dict[str, Any]) -> str:
    s = r["summary"]
    names = {
        "occlusion": "occlusion (senticlf)",
        "random": "random words",
        "shap": "SHAP partition, same calls",
        "shap10": "SHAP partition, 10x calls",
    }
    lines = [
        f"Bundle `{r['bundle']}` ({r['model_file']}; {r['plan']}); {r['reviews']} held-out "
        f"IMDb test reviews (seed {r['seed']}), SHAP at 10x on the first {r['shap10_reviews']}.",
        "",
        "Comprehensiveness: fall of the predicted label's probability when the top k% words are "
        "removed (higher is better); sufficiency: its fall when only they are kept (lower is "
        "better); AOPC: the mean over k.",
        "",
        "| method | reviews | model calls | compr. 5 / 10 / 20% | AOPC compr. | suff. 5 / 10 / 20% | AOPC suff. |",
        "|---|---|---|---|---|---|---|",
    ]
    for method, row in s["faithfulness"].items():
        compr = " / ".join(f"{row[f'comprehensiveness_{k}']:.3f}" for k in KS)
        suff = " / ".join(f"{row[f'sufficiency_{k}']:.3f}" for k in KS)
        lines.append(
            f"| {names[method]} | {row['reviews']} | {row['model_calls']:.1f} | {compr} | "
            f"{row['aopc_comprehensiveness']:.3f} | {suff} | {row['aopc_sufficiency']:.3f} |"
        )
    lines += [
        "",
        "Seconds per explanation (`clf.explain`, one review at a time):",
        "",
        "| review length | reviews | median | p90 | max |",
        "|---|---|---|---|---|",
    ]
    for bucket, d in s["seconds_per_explanation"].items():
        if d["reviews"]:
            lines.append(
                f"| {bucket} | {d['reviews']} | {d['median']:.3f} | {d['p90']:.3f} | {d['max']:.3f} |"
            )
        else:
            lines.append(f"| {bucket} | 0 | - | - | - |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    app()
