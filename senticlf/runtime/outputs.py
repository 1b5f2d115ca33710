"""Prediction results as readable text, JSONL or CSV, one record per input line.

CSV gets one ``p_<label>`` column per label and JSONL a ``scores`` object, so a 3-class bundle's
output carries every probability just as a binary one does.
"""

from __future__ import annotations

import csv
import json
from typing import IO

from senticlf.runtime.inputs import InputText
from senticlf.runtime.predictor import Prediction

FORMATS = ("text", "jsonl", "csv")
_PREVIEW = 60


def probability_column(label: str) -> str:
    """The column holding P(label) in table outputs (CSV here, Parquet/CSV/JSONL from Ray)."""
    return f"p_{label}"


class ResultWriter:
    def __init__(self, handle: IO[str], fmt: str, labels: list[str]) -> None:
        self.handle = handle
        self.format = fmt
        self.labels = labels
        self.csv = csv.writer(handle) if fmt == "csv" else None
        if self.csv:
            self.csv.writerow(
                ["line", "label", "score", *(probability_column(x) for x in labels), "note"]
            )

    def write(self, item: InputText, prediction: Prediction | None) -> None:
        """``prediction`` is None for a blank input line, which is reported, not dropped."""
        note = "blank line" if prediction is None else ""
        if self.format == "jsonl":
            record: dict[str, object] = {"line": item.line}
            record.update(prediction.as_dict() if prediction else {"label": None, "note": note})
            self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        elif self.csv is not None:
            if prediction is None:
                self.csv.writerow([item.line, "", "", *("" for _ in self.labels), note])
            else:
                probabilities = (f"{prediction.scores[x]:.4f}" for x in self.labels)
                self.csv.writerow(
                    [item.line, prediction.label, f"{prediction.score:.4f}", *probabilities, ""]
                )
        elif prediction is None:
            self.handle.write(f"{item.line}\t-\t-\t(blank line)\n")
        else:
            preview = (item.text or "").replace("\t", " ")[:_PREVIEW]
            self.handle.write(
                f"{item.line}\t{prediction.label}\t{prediction.score:.3f}\t{preview}\n"
            )
