"""senticlf: fine-tune a transformer sentiment classifier, ship it as a torch-free ONNX model.

    import senticlf
    clf = senticlf.load("export/my-bundle")
    clf.predict("A wonderful, moving film.")   # Prediction(label='positive', ...)

Only the runtime is imported here; training and export load torch lazily from the CLI.
"""

from senticlf.errors import SenticlfError
from senticlf.runtime.explain import Explanation, Span
from senticlf.runtime.options import PredictorOptions
from senticlf.runtime.predictor import Prediction, SentimentClassifier, load

__version__ = "0.1.0"
__all__ = [
    "Explanation",
    "Prediction",
    "PredictorOptions",
    "SenticlfError",
    "SentimentClassifier",
    "Span",
    "load",
    "__version__",
]
