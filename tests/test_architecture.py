"""The rooms' import rules (DESIGN.md section 3), checked on the source itself."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOMAINS = ("ingest", "moderation", "localization", "feed", "analytics")
EDGES = ("api", "dashboards", "vigil")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_layers_with_import_linter() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_core_imports_no_room() -> None:
    offenders = [
        (str(path.relative_to(ROOT)), name)
        for path in (ROOT / "core").rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in DOMAINS + EDGES
    ]
    assert offenders == []


def test_domains_use_each_other_only_through_the_package_surface() -> None:
    offenders = []
    for domain in DOMAINS:
        for path in (ROOT / domain).rglob("*.py"):
            for name in _imports(path):
                top = name.split(".")[0]
                if top in DOMAINS and top != domain and name != top:
                    offenders.append((str(path.relative_to(ROOT)), name))
                if top in EDGES:
                    offenders.append((str(path.relative_to(ROOT)), name))
    assert offenders == []


@pytest.mark.parametrize("room", DOMAINS + EDGES)
def test_each_room_imports_first_in_a_fresh_interpreter(room: str) -> None:
    """Rooms import each other's packages; whichever comes first, no import cycle breaks."""
    done = subprocess.run(
        [sys.executable, "-c", f"import {room}"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
