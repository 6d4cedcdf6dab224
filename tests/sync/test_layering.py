"""Layering: ``sync`` loads no Flask; ``server`` and ``client`` never import each other."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_importing_sync_loads_no_flask_or_http_server() -> None:
    code = (
        "import sys, json, sync, sync.engine, sync.server, sync.transport, sync.protocol;"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('flask', 'werkzeug', 'waitress', 'http', 'requests', 'socketserver'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert not {m for m in loaded if m.split(".")[0] in ("flask", "werkzeug", "waitress", "requests")}, loaded
    assert "http.server" not in loaded and "socketserver" not in loaded


def imported_packages(path: Path) -> set[str]:
    """Top-level packages a module imports (absolute imports only; relative stay inside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in ("import_module", "__import__"):
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.add(node.args[0].value.split(".")[0])
    return found


@pytest.mark.parametrize("package, forbidden", [("server", "client"), ("client", "server"), ("sync", "server"),
                                                ("sync", "client"), ("shared", "server"), ("shared", "client")])
def test_packages_do_not_import_across_layers(package: str, forbidden: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    if not files:
        pytest.skip(f"{package}/ has no modules yet")
    offenders = [str(f.relative_to(ROOT)) for f in files if forbidden in imported_packages(f)]
    assert offenders == [], f"{package} must not import {forbidden}"


def test_only_sync_document_imports_automerge() -> None:
    offenders = [
        str(f.relative_to(ROOT))
        for package in ("sync", "server", "client", "shared", "scripts")
        for f in sorted((ROOT / package).rglob("*.py"))
        if "automerge" in imported_packages(f) and f != ROOT / "sync" / "document.py"
    ]
    assert offenders == []
    assert "automerge" in imported_packages(ROOT / "sync" / "document.py")


def test_the_import_scanner_sees_imports() -> None:
    sample = ROOT / "sync" / "server.py"
    assert {"sqlite_utils", "shared", "json"} <= imported_packages(sample)
