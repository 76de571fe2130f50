"""The import graph keeps its shape: layers are not crossed and nothing imports in a circle.

The graph is read with ``ast`` from every ``import`` in ``bot/``, ``scripts/`` and
``bench/``, at any depth: an import inside a function or under ``TYPE_CHECKING`` counts,
so a cycle cannot hide behind a late import. Rules (see docs/architecture.md):

- in ``bot/``, SQLAlchemy and Alembic are imported only in ``bot/store``, and
  python-telegram-bot (``telegram``) only in ``bot/telegram`` (scripts and benches, like
  tests, may drive a database or a fake Telegram directly);
- arrows point down the layers of ``LAYERS``: a module never imports a higher layer;
- no cycle between modules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "scripts", "bench")

#: Third-party packages each confined to one room of bot/.
CONFINED = {"sqlalchemy": "bot.store", "alembic": "bot.store", "telegram": "bot.telegram"}

#: Layers of bot/, lowest first. A module may import its own layer or lower ones.
#: The longest matching prefix gives a module's layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "bot.errors",
        "bot.pseudonyms",
        "bot.config",
        "bot.logs",
        "bot.places",
        "bot.phones",
        "bot.partners",
        "bot.disclosure",
        "bot.referrals.status",
        "bot.metrics",
    ),
    ("bot.store",),
    ("bot.content", "bot.nlu", "bot.budget"),
    ("bot.routing", "bot.referrals"),
    ("bot.dialogue",),
    ("bot.campaigns", "bot.privacy"),
    ("bot.runtime", "bot.web", "bot.web.console"),
    ("bot.telegram", "bot.console"),
    ("bot.cli", "bot.__main__"),
)


@dataclass(frozen=True)
class Problem:
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


def module_of(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imported_names(path: Path, root: Path) -> set[tuple[str, str | None]]:
    """Every import in the file as ``(module, name)``: ``import a.b`` gives ``("a.b", None)``,
    ``from a import b`` gives ``("a", "b")`` (``b`` may be a module or a name in ``a``)."""
    module = module_of(path, root)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[tuple[str, str | None]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, path.name == "__init__.py", node)
            names.update((base, alias.name) for alias in node.names)
    return names


def _nearest_module(name: str, files: Mapping[str, Path]) -> str | None:
    while name and name not in files:
        name = name.rpartition(".")[0]
    return name or None


def read_graph(
    root: Path, packages: Iterable[str] = PACKAGES, *, package_inits: bool = True
) -> dict[str, set[str]]:
    """Module -> what it imports: project modules by name, third-party packages as written.

    With ``package_inits``, importing ``bot.x.y`` from outside ``bot.x`` also counts as
    importing ``bot.x`` (its ``__init__`` runs first): right for cycles, noise for layers.
    """
    files = {
        module_of(p, root): p
        for package in packages
        if (root / package).is_dir()
        for p in sorted((root / package).rglob("*.py"))
        if "migrations" not in p.parts
    }
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets: set[str] = set()
        for base, name in imported_names(path, root):
            if base.split(".")[0] not in packages:
                targets.add(base)
                continue
            full = f"{base}.{name}" if name and name != "*" else base
            target = full if full in files else _nearest_module(base, files)
            if target is None:
                continue
            targets.add(target)
            # Importing ``bot.x.y`` from outside ``bot.x`` runs ``bot/x/__init__.py`` first:
            # a cycle through a package's re-exports is a cycle too.
            package = target.rpartition(".")[0] if package_inits else ""
            while package:
                if package in files and not _within(module, package):
                    targets.add(package)
                package = package.rpartition(".")[0]
        targets.discard(module)
        graph[module] = targets
    return graph


def _within(module: str, room: str) -> bool:
    return module == room or module.startswith(room + ".")


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None
    for rank, rooms in enumerate(LAYERS):
        for room in rooms:
            if _within(module, room) and (best is None or len(room) > best[1]):
                best = (rank, len(room))
    return None if best is None else best[0]


def crossings(graph: Mapping[str, set[str]]) -> list[Problem]:
    problems: list[Problem] = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            top = target.split(".")[0]
            room = CONFINED.get(top)
            if room is not None and _within(module, "bot") and not _within(module, room):
                problems.append(Problem("confined import", f"{module} imports {target}"))
            if target in graph:
                own, theirs = layer_of(module), layer_of(target)
                if own is not None and theirs is not None and theirs > own:
                    problems.append(Problem("upward import", f"{module} imports {target}"))
    return problems


def cycles(graph: Mapping[str, set[str]]) -> list[Problem]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[Problem] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, list[str]]] = [(start, sorted(t for t in graph[start] if t in graph))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, pending = work[-1]
            if pending:
                nxt = pending.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(t for t in graph[nxt] if t in graph)))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(Problem("import cycle", " <-> ".join(sorted(component))))
    return found


def test_no_crossed_layer() -> None:
    problems = crossings(read_graph(ROOT, package_inits=False))
    assert problems == [], "\n".join(map(str, problems))


def test_no_import_cycle() -> None:
    problems = cycles(read_graph(ROOT))
    assert problems == [], "\n".join(map(str, problems))


def test_every_bot_module_has_a_layer() -> None:
    graph = read_graph(ROOT, ("bot",))
    missing = sorted(m for m in graph if m != "bot" and layer_of(m) is None)
    assert missing == [], f"add these to LAYERS: {missing}"


# The checker itself must be able to fail: a small tree with each kind of fault.


def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {
                "bot/__init__.py": "",
                "bot/dialogue/__init__.py": "",
                "bot/dialogue/engine.py": "from sqlalchemy import select\n",
            },
            ["confined import: bot.dialogue.engine imports sqlalchemy"],
        ),
        (
            {
                "bot/__init__.py": "",
                "bot/campaigns/__init__.py": "",
                "bot/campaigns/sender.py": "def f():\n    from telegram import Bot\n",
            },
            ["confined import: bot.campaigns.sender imports telegram"],
        ),
        (
            {
                "bot/__init__.py": "",
                "bot/store/__init__.py": "",
                "bot/store/db.py": "from bot.dialogue.engine import Engine\n",
                "bot/dialogue/__init__.py": "",
                "bot/dialogue/engine.py": "",
            },
            ["upward import: bot.store.db imports bot.dialogue.engine"],
        ),
    ],
)
def test_checker_reports_a_crossed_layer(
    tmp_path: Path, files: dict[str, str], expected: list[str]
) -> None:
    _write(tmp_path, files)
    assert [str(p) for p in crossings(read_graph(tmp_path, package_inits=False))] == expected


def test_checker_reports_a_cycle_hidden_in_a_function(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "scripts/__init__.py": "",
            "scripts/report.py": "from scripts.latency import measure\n",
            "scripts/latency.py": "def measure():\n    from scripts import report\n",
            "bench/__init__.py": "",
            "bench/alone.py": "from . import other\n",
            "bench/other.py": "from .alone import x\n",
        },
    )
    assert [str(p) for p in cycles(read_graph(tmp_path))] == [
        "import cycle: bench.alone <-> bench.other",
        "import cycle: scripts.latency <-> scripts.report",
    ]
