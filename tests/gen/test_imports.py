import ast
import subprocess
import sys
from pathlib import Path

import fdsl_gen

CHECK = """
import importlib, pkgutil, sys
import fdsl_gen
for module in pkgutil.walk_packages(fdsl_gen.__path__, "fdsl_gen."):
    if module.name != "fdsl_gen.__main__":  # importing it runs the CLI
        importlib.import_module(module.name)
from fdsl_gen.cli import main
main(["render", "fractaldb", "--search", "--categories", "2", "--counts", "1", "--size", "32",
      "--points", "2000", "--quiet", "--workers", "1", "--out", sys.argv[1]], standalone_mode=False)
print(",".join(sorted(name for name in ("torch", "torchvision", "timm") if name in sys.modules)) or "none")
"""


def test_fdsl_gen_renders_without_importing_torch(tmp_path):
    result = subprocess.run([sys.executable, "-c", CHECK, str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "none"
    assert (tmp_path / "out" / "manifest.json").is_file()


def imported(path):
    """The top-level names of every module a source file imports, at its top or inside a function."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


def test_no_module_of_fdsl_gen_but_the_cli_imports_click():
    """The library (live sources, render_dataset) parses its options without click; cli.py is a layer over it."""
    package = Path(fdsl_gen.__file__).parent
    importers = sorted(path.relative_to(package).as_posix() for path in package.rglob("*.py")
                       if "click" in set(imported(path)))
    assert importers == ["cli.py"]
