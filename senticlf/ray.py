"""``senticlf.ray``: the documented public name of the Ray Data entry points; no code lives here.

The code lives in :mod:`senticlf.scale` (``ray_data``: the workers and ``predict_dataset``;
``ray_files``: reading and writing files). This module only re-exports them under the name
users look for, so a change goes there, never here. Absolute imports mean ``import ray``
inside the package still finds Ray itself, not this module. Importing this needs
``senticlf[ray]``.
"""

from senticlf.scale.ray_data import BundleWorker, plan_workers, predict_dataset
from senticlf.scale.ray_files import read, write

__all__ = ["BundleWorker", "plan_workers", "predict_dataset", "read", "write"]
