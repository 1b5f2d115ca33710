"""``senticlf serve`` with every ONNX call slowed down: the tests' way to fill the queue for sure.

    python -m tests.serve.slow_server SECONDS serve BUNDLE --port 0 ...

The delay is added in front of the predictor's real ONNX call, so results stay real.
"""

from __future__ import annotations

import sys
import time

from senticlf.cli import app
from senticlf.runtime.predictor import SentimentClassifier


def main() -> None:
    delay = float(sys.argv.pop(1))
    real_call = SentimentClassifier.run_call

    def slow_call(self, ids):  # type: ignore[no-untyped-def]
        time.sleep(delay)
        return real_call(self, ids)

    SentimentClassifier.run_call = slow_call  # type: ignore[method-assign]
    app()


if __name__ == "__main__":
    main()
