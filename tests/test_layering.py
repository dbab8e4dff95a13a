"""The layers import only downwards: geo ← complaints ← store ← services ← webmap, cli.

Read from the source with ``ast`` (no imports run), so a violation is named with its file
and line. Nothing below the adapters imports Flask or click; the adapters never reach the
store except through services.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["geo", "complaints", "store", "services", "webmap", "cli"]
#: what each package may import of the project's own packages
ALLOWED = {
    "geo": {"geo"},
    "complaints": {"geo", "complaints"},
    "store": {"geo", "complaints", "store"},
    "services": {"geo", "complaints", "store", "services"},
    "webmap": {"geo", "complaints", "services", "webmap"},
    "cli": {"geo", "complaints", "services", "cli", "webmap"},
}
WEB_FRAMEWORKS = {"flask", "flask_login", "flask_wtf", "werkzeug", "click", "folium", "branca", "jinja2"}
#: werkzeug's password hashing is a library, not the web framework
ALLOWED_FRAMEWORK = {("services", "werkzeug.security")}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("package", LAYERS)
def test_a_layer_imports_only_the_layers_below_it(package):
    wrong = []
    for path in _modules(package):
        for line, name in _imports(path):
            top = name.split(".")[0]
            if top in LAYERS and top not in ALLOWED[package]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert wrong == []


@pytest.mark.parametrize("package", ["geo", "complaints", "store", "services"])
def test_nothing_below_the_adapters_imports_a_web_or_cli_framework(package):
    wrong = []
    for path in _modules(package):
        for line, name in _imports(path):
            if name.split(".")[0] in WEB_FRAMEWORKS and (package, name) not in ALLOWED_FRAMEWORK:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert wrong == []


def test_the_rule_catches_a_violation(tmp_path):
    """The check itself can fail: a module importing upwards is found."""
    bad = tmp_path / "bad.py"
    bad.write_text("import flask\nfrom store.sql import open_store\nfrom services import errors\n")
    assert [name for _, name in _imports(bad)] == ["flask", "store.sql", "services"]


def test_every_layer_is_a_package_of_the_project():
    assert all((ROOT / package / "__init__.py").is_file() for package in LAYERS)
