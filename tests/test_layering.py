"""Which parts of senticlf may import which, read from the source with ``ast``.

Every import statement counts: at module level, inside a function (the lazy imports the CLI
and export use) and under ``if TYPE_CHECKING:``, so a layering mistake cannot hide behind a
lazy import. A failure lists each offending import as file:line.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import senticlf

PACKAGE_DIR = Path(senticlf.__file__).parent
ROOT = PACKAGE_DIR.parent

# What an inference path (predictor, server, Ray workers, evaluation) may never reach.
TRAINING_SIDE = ("senticlf.training", "senticlf.export")
# The torch-free parts (with the package's __init__): nothing they import from senticlf, directly
# or through one another, may import TRAINING_SIDE.
TORCH_FREE = (
    "senticlf.runtime",
    "senticlf.serve",
    "senticlf.scale",
    "senticlf.evaluation",
    "senticlf.artifacts",
    "senticlf.tables",
    "senticlf.ray",
)


@dataclass(frozen=True)
class Import:
    source: Path
    line: int
    target: str  # a dotted name: a module, or a module's attribute ("senticlf.serve.app.Service")

    def __str__(self) -> str:
        return f"{self.source.relative_to(ROOT)}:{self.line}: {self.target}"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}


@cache
def imports_of(module: str) -> tuple[Import, ...]:
    return read_imports(all_modules()[module], module)


def read_imports(path: Path, module: str) -> tuple[Import, ...]:
    """Every senticlf name the file of ``module`` imports, with the line of the statement."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [Import(path, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            origin = ".".join(part for part in (base, node.module or "") if part)
            found += [Import(path, node.lineno, f"{origin}.{alias.name}") for alias in node.names]
    return tuple(each for each in found if is_within(each.target, "senticlf"))


def is_within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def modules_under(*prefixes: str) -> list[str]:
    return [m for m in all_modules() if any(is_within(m, p) for p in prefixes)]


def imported_module(target: str) -> str | None:
    """The senticlf module an import loads: ``a.b.name`` is module ``a.b`` unless ``a.b.name``
    is itself a module."""
    modules = all_modules()
    if target in modules:
        return target
    parent = target.rpartition(".")[0]
    return parent if parent in modules else None


def offending(modules: list[str], forbidden: tuple[str, ...]) -> list[str]:
    return [
        str(found)
        for module in modules
        for found in imports_of(module)
        if any(is_within(found.target, name) for name in forbidden)
    ]


def reached_from(roots: list[str]) -> list[str]:
    """``roots`` and every senticlf module they import, directly or through one another."""
    seen, queue = set(roots), list(roots)
    while queue:
        for found in imports_of(queue.pop()):
            module = imported_module(found.target)
            if module is not None and module not in seen:
                seen.add(module)
                queue.append(module)
    return sorted(seen)


def test_the_import_reader_sees_lazy_relative_and_type_checking_imports(tmp_path):
    source = tmp_path / "senticlf" / "serve" / "example.py"
    source.parent.mkdir(parents=True)
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "import numpy\n"
        "if TYPE_CHECKING:\n"
        "    from senticlf.serve.app import Service\n"
        "def lazy():\n"
        "    import senticlf.training.trainer\n"
        "    from . import batcher\n"
        "    from ..runtime.predictor import load\n",
        encoding="utf-8",
    )
    found = {(each.line, each.target) for each in read_imports(source, "senticlf.serve.example")}
    assert found == {
        (4, "senticlf.serve.app.Service"),
        (6, "senticlf.training.trainer"),
        (7, "senticlf.serve.batcher"),
        (8, "senticlf.runtime.predictor.load"),
    }


def test_the_runtime_imports_no_evaluation_serving_training_or_export():
    forbidden = ("senticlf.evaluation", "senticlf.serve", "senticlf.training", "senticlf.export")
    bad = offending(modules_under("senticlf.runtime"), forbidden)
    assert not bad, "senticlf/runtime must not import these:\n" + "\n".join(bad)


def test_nothing_torch_free_reaches_training_or_export():
    training_side = set(modules_under(*TRAINING_SIDE))
    reached = reached_from(["senticlf", *modules_under(*TORCH_FREE)])
    bad = offending([m for m in reached if m not in training_side], TRAINING_SIDE)
    assert not bad, "torch-free code must not import training or export:\n" + "\n".join(bad)


def test_the_serve_protocols_do_not_import_the_app():
    bad = offending(modules_under("senticlf.serve.protocols"), ("senticlf.serve.app",))
    assert not bad, "the serve protocols must not import senticlf.serve.app:\n" + "\n".join(bad)
