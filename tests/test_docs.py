"""Every command and flag a user can type is documented on its command's page in docs/.

The options are read from the typer app itself (click's introspection), so a flag added to
the CLI fails here until its page mentions it: the docs cannot drift from the code again.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main

from senticlf.cli import app

DOCS = Path(__file__).resolve().parent.parent / "docs"
# The page that documents each command; a new command needs an entry (and a page section).
COMMAND_PAGES = {
    "train": "training.md",
    "distill": "distillation.md",
    "export": "export.md",
    "predict": "prediction.md",
    "explain": "explanations.md",
    "evaluate": "evaluation.md",
    "info": "evaluation.md",
    "serve": "serving.md",
}
GLOBAL_PAGE = "install.md"  # where `senticlf --version` and the other top-level options live
# Typer's command objects (click's, vendored by typer >= 0.2x): read by duck typing, so the
# test does not depend on which click module typer builds them from.
ROOT: Any = typer.main.get_command(app)


def flags(command: Any) -> list[str]:
    """Every ``--flag`` spelling of a command's options, ``--no-x`` forms included."""
    names: list[str] = []
    for param in command.params:
        if param.param_type_name == "option":
            names += [n for n in (*param.opts, *param.secondary_opts) if n.startswith("--")]
    return names


def documented(flag: str, page: str) -> bool:
    text = (DOCS / page).read_text(encoding="utf-8")
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text) is not None


def test_every_command_has_a_docs_page() -> None:
    missing = sorted(set(ROOT.commands) - set(COMMAND_PAGES))
    assert not missing, f"commands without a docs page in COMMAND_PAGES: {missing}"
    for name, page in COMMAND_PAGES.items():
        assert (DOCS / page).is_file(), f"docs/{page} (the page of `senticlf {name}`) is missing"
        text = (DOCS / page).read_text(encoding="utf-8")
        assert f"senticlf {name}" in text, f"docs/{page} never names `senticlf {name}`"


@pytest.mark.parametrize("name", sorted(COMMAND_PAGES))
def test_every_flag_of_a_command_is_on_its_page(name: str) -> None:
    command = ROOT.commands[name]
    page = COMMAND_PAGES[name]
    missing = [flag for flag in flags(command) if not documented(flag, page)]
    assert not missing, (
        f"`senticlf {name}` flags not documented on docs/{page}: {', '.join(missing)} "
        f"(add each to that page's options table)"
    )


def test_top_level_options_are_documented() -> None:
    missing = [flag for flag in flags(ROOT) if not documented(flag, GLOBAL_PAGE)]
    assert not missing, f"`senticlf` options not documented on docs/{GLOBAL_PAGE}: {missing}"
    assert "--version" in flags(ROOT)


def test_the_check_sees_a_missing_flag(tmp_path: Path, monkeypatch) -> None:
    """The matcher is exact: a flag that is only a prefix of a documented one does not count."""
    (tmp_path / "page.md").write_text("use `--max-batch-tokens` and `--fp32`\n")
    monkeypatch.setitem(globals(), "DOCS", tmp_path)
    assert documented("--fp32", "page.md")
    assert documented("--max-batch-tokens", "page.md")
    assert not documented("--max-batch", "page.md")
    assert not documented("--fp", "page.md")
