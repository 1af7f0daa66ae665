import subprocess
import sys

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
