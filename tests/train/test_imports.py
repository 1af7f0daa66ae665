"""The import rules of fdsl_train (docs/architecture.md), read from the source with `ast`.

- No import circle among fdsl_train's modules, counting imports inside functions.
- Imports run one way: the commands (pretrain, finetune, probe, cli) -> run/ -> data/; data/ imports
  neither run/ nor the commands, run/ no command.
- fdsl_train reaches fdsl_gen only through its seams: storage, contract, errors and progress, and
  fdsl_gen.live (the renderer and its kernels) only inside a function of data/live.py, so that only a
  live source pays for it.
"""
import ast
import importlib.util
from pathlib import Path

import fdsl_train
from tests.helpers import loaded_after

PACKAGE = Path(fdsl_train.__file__).parent
SEAMS = {"fdsl_gen.storage", "fdsl_gen.contract", "fdsl_gen.errors", "fdsl_gen.progress"}
LAZY_SEAMS = {"fdsl_gen.live": "data/live.py"}
COMMANDS = {"fdsl_train.pretrain", "fdsl_train.finetune", "fdsl_train.probe", "fdsl_train.cli",
            "fdsl_train.__main__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def is_module(name: str) -> bool:
    """Whether `name` is a module of fdsl_train or fdsl_gen (`from fdsl_gen import contract` imports one)."""
    if name in MODULES:
        return True
    if not name.startswith("fdsl_gen."):
        return False
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a name inside a module: fdsl_gen.storage.Location
        return False


def imports(path: Path):
    """(module imported, whether inside a function) for every import of a source file; `from a import b`
    gives a.b when a.b is a module of fdsl_train, else a."""
    tree = ast.parse(path.read_text(), str(path))
    found = []

    def visit(node, nested):
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((alias.name, inner) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                assert child.level == 0, f"{path}: relative import"
                for alias in child.names:
                    name = f"{child.module}.{alias.name}"
                    found.append((name if is_module(name) else child.module, inner))
            visit(child, inner)

    visit(tree, False)
    return found


GRAPH = {name: {imported for imported, _ in imports(path) if imported in MODULES and imported != name}
         for name, path in MODULES.items()}


def circles():
    """Every circle the depth-first walk of the graph meets, as the list of its modules."""
    found, done, path = [], set(), []

    def walk(name):
        path.append(name)
        for imported in sorted(GRAPH[name]):
            if imported in path:
                found.append(path[path.index(imported):] + [imported])
            elif imported not in done:
                walk(imported)
        path.pop()
        done.add(name)

    for name in sorted(GRAPH):
        if name not in done:
            walk(name)
    return found


def test_the_graph_is_read_from_the_package():
    assert {"fdsl_train.data.shards", "fdsl_train.run.session", "fdsl_train.cli"} <= set(MODULES)
    assert "fdsl_train.data.shards" in GRAPH["fdsl_train.data.datasets"]


def test_no_import_circle_among_the_modules_of_fdsl_train():
    assert circles() == []


def layer(name: str) -> int:
    if name.startswith("fdsl_train.data"):
        return 1
    if name.startswith("fdsl_train.run"):
        return 2
    return 3 if name in COMMANDS else 0  # 0: shared below every layer (errors, presets, dist, ...)


def test_imports_run_from_the_commands_to_run_to_data():
    upward = sorted(f"{name} imports {imported}" for name, imported_set in GRAPH.items()
                    for imported in imported_set if layer(imported) > layer(name))
    assert upward == []


def test_fdsl_train_reaches_fdsl_gen_through_its_seams_only():
    wrong = []
    for name, path in MODULES.items():
        relative = path.relative_to(PACKAGE).as_posix()
        for imported, inner in imports(path):
            if not imported.split(".")[0] == "fdsl_gen" or imported in SEAMS:
                continue
            if LAZY_SEAMS.get(imported) == relative and inner:
                continue
            wrong.append(f"{relative} imports {imported}{' inside a function' if inner else ''}")
    assert wrong == []


def test_a_shard_run_loads_no_renderer():
    """The commands and the data front door import nothing of fdsl_gen's renderer until a live source asks."""
    commands = "import fdsl_train.cli, fdsl_train.pretrain, fdsl_train.data.datasets, fdsl_train.data.live"
    assert loaded_after(commands, ("fdsl_gen.live", "fdsl_gen.recipe", "numba")) == "[]"
