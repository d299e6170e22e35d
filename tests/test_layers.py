"""The dependency rules of DESIGN.md's layout, checked on the source: every import, at the
top of a module or inside a function, TYPE_CHECKING blocks included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def modules(package: str) -> list[Path]:
    path = ROOT / package.replace(".", "/")
    return sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def matches(name: str, rule: str) -> bool:
    """`a.b` forbids a.b and everything under it; `a.b.` only what is under it."""
    if rule.endswith("."):
        return name.startswith(rule)
    return name == rule or name.startswith(rule + ".")


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules(package)
        for name in sorted(imports(path))
        if any(matches(name, rule) for rule in forbidden)
    ]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("posts", ("scheduler",)),
        ("posts.platform", ("posts.measure", "posts.split", "posts.article", "regex")),
        ("scheduler.model", ("scheduler", "sqlalchemy", "pydantic")),
        ("scheduler.errors", ("scheduler", "posts")),
        ("scheduler.store", ("scheduler.platforms", "scheduler.dispatch", "scheduler.cli")),
        ("scheduler.platforms", ("scheduler.store", "scheduler.dispatch", "sqlalchemy")),
        ("scheduler.dispatch", ("sqlalchemy", "apscheduler", "scheduler.store.")),
        ("scheduler.daemon", ("sqlalchemy", "scheduler.store.")),
        ("scheduler.campaigns", ("sqlalchemy", "scheduler.store", "scheduler.cli")),
        (
            "scheduler.campaign_file",
            ("sqlalchemy", "scheduler.store", "scheduler.cli", "scheduler.platforms", "httpx"),
        ),
        # People's changes are planned without a database, then the store makes them.
        ("scheduler.review", ("sqlalchemy", "scheduler.store", "scheduler.cli")),
        ("scheduler.file_diff", ("sqlalchemy", "scheduler.store", "scheduler.cli")),
        ("scheduler.cli", ("sqlalchemy", "scheduler.store.")),
        # Images and link cards are read at queue time, before anything is stored.
        (
            "scheduler.media",
            ("sqlalchemy", "scheduler.store", "scheduler.cli", "scheduler.platforms", "httpx"),
        ),
        (
            "scheduler.linkcard",
            ("sqlalchemy", "scheduler.store", "scheduler.cli", "scheduler.platforms"),
        ),
    ],
)
def test_dependencies_point_one_way(package: str, forbidden: tuple[str, ...]) -> None:
    assert offenders(package, forbidden) == []


def test_the_checker_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from sqlalchemy.orm import Session\n", encoding="utf-8")
    assert imports(module) == {"sqlalchemy.orm"}
    assert matches("scheduler.store.db", "scheduler.store.")
    assert not matches("scheduler.store", "scheduler.store.")
    assert matches("scheduler.store", "scheduler.store")
