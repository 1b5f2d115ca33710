"""``senticlf.ray.predict_dataset``: the Ray Data entry point under the name users look for.

A re-export of :mod:`senticlf.scale.ray_data`. Absolute imports mean ``import ray`` inside the
package still finds Ray itself, not this module. Importing this needs ``senticlf[ray]``.
"""

from senticlf.scale.ray_data import BundleWorker, plan_workers, predict_dataset
from senticlf.scale.ray_files import read, write

__all__ = ["BundleWorker", "plan_workers", "predict_dataset", "read", "write"]
