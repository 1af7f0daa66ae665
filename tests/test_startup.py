"""Start-up guards: help screens and shell completion load no heavy library.

Each check runs in a fresh interpreter, so what it finds in `sys.modules`
is what the command itself imported.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

# Prints, for `--help` of the group and of every command under it, the heavy
# modules loaded once that help screen has been shown.
WALK_HELP = """
import json, sys
from {module} import {attribute} as cli
heavy = {heavy!r}

def walk(group, prefix=()):
    yield prefix
    for name in getattr(group, "list_commands", lambda ctx: [])(None):
        yield from walk(group.get_command(None, name), prefix + (name,))

loaded = {{}}
for args in list(walk(cli)):
    try:
        cli([*args, "--help"], prog_name="cli")
    except SystemExit:
        pass
    loaded[" ".join(args)] = sorted(name for name in heavy if name in sys.modules)
print(json.dumps(loaded))
"""


def heavy_modules_after_help(module, attribute, heavy):
    code = WALK_HELP.format(module=module, attribute=attribute, heavy=heavy)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_fdsl_train_help_screens_import_neither_torch_nor_timm():
    loaded = heavy_modules_after_help("fdsl_train.cli", "cli", ("torch", "timm", "torchvision"))
    assert {"", "pretrain", "finetune", "probe", "import-idx"} <= set(loaded)
    assert {args: names for args, names in loaded.items() if names} == {}


def test_fdsl_gen_help_screens_import_no_kernel_codec_or_array_library():
    heavy = ("numba", "webdataset", "numpy", "PIL", "fsspec", "tqdm", "torch")
    loaded = heavy_modules_after_help("fdsl_gen.cli", "main", heavy)
    assert {"", "render", "render fractaldb", "render 1p-frac", "search", "search fractaldb", "verify",
            "info", "publish"} <= set(loaded)
    assert {args: names for args, names in loaded.items() if names} == {}


# A quiet one-image render, then the modules it loaded of those a render can do without.
QUIET_RENDER = """
import json, sys
from fdsl_gen.cli import main
main(["render", "rcdb", "--categories", "1", "--instances", "1", "--size", "32", "--workers", "1", "--quiet",
      "--out", sys.argv[1]], standalone_mode=False)
print(json.dumps(sorted(name for name in {heavy!r} if name in sys.modules)))
"""


def test_a_quiet_one_process_render_loads_no_progress_bar_blas_process_pool_or_other_config(tmp_path):
    heavy = ("tqdm", "scipy.linalg", "numba.np.arraymath", "fdsl_gen.configs.ifs2d", "fdsl_gen.configs.ifs3d",
             "fdsl_gen.configs.real1p", "fdsl_gen.configs.textures",
             "fdsl_gen.configs.searches", "multiprocessing")
    code = QUIET_RENDER.format(heavy=heavy)
    for out in ("first", "second"):  # the first may compile kernels, which loads numba's compiler
        result = subprocess.run([sys.executable, "-c", code, str(tmp_path / out)], capture_output=True, text=True,
                                env=ENV, timeout=600)
        assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []

# The README's lines, for fdsl-gen; fdsl-train's are the same with its name.
README_LINES = {
    "bash": 'eval "$(_FDSL_GEN_COMPLETE=bash_source fdsl-gen)"',
    "zsh": 'eval "$(_FDSL_GEN_COMPLETE=zsh_source fdsl-gen)"',
    "fish": "_FDSL_GEN_COMPLETE=fish_source fdsl-gen | source",
}


def completion_line(shell, program):
    line = README_LINES[shell]
    return line.replace("FDSL_GEN", program.upper().replace("-", "_")).replace("fdsl-gen", program)


def test_readme_prints_the_completion_lines():
    readme = (REPO / "README.md").read_text()
    assert all(line in readme for line in README_LINES.values())


@pytest.mark.parametrize("program", ["fdsl-gen", "fdsl-train"])
@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_completion_script_is_produced(program, shell):
    """What the README's line loads: run in bash up to the point where zsh or fish would take over."""
    producer = completion_line(shell, program).replace('eval "$(', "").replace(')"', "").replace(" | source", "")
    result = subprocess.run(["bash", "-c", producer], capture_output=True, text=True, env=ENV, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"_{program.replace('-', '_')}_completion" in result.stdout
    variable = "_" + program.upper().replace("-", "_") + "_COMPLETE"
    assert f"{variable}={shell}_complete" in result.stdout.replace('"', "")


@pytest.mark.parametrize("program", ["fdsl-gen", "fdsl-train"])
def test_bash_loads_the_completion(program):
    script = completion_line("bash", program) + f"; complete -p {program}"
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=ENV, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"complete -o nosort -F _{program.replace('-', '_')}_completion {program}"


def test_completion_offers_the_commands():
    result = subprocess.run(["fdsl-train"], capture_output=True, text=True, timeout=120,
                            env={**ENV, "_FDSL_TRAIN_COMPLETE": "bash_complete", "COMP_WORDS": "fdsl-train p",
                                 "COMP_CWORD": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["plain,pretrain", "plain,probe"]


QUIET_SEARCH = """
import json, sys
from fdsl_gen.cli import main
main(["search", "fractaldb", "--categories", "1", "--points", "2000", "--size", "32", "--workers", "1", "--quiet",
      "--out", sys.argv[1]], standalone_mode=False)
print(json.dumps(sorted(name for name in ("fdsl_gen.formulas.ifs3d", "tqdm") if name in sys.modules)))
"""


def test_the_2d_search_loads_no_3d_kernel(tmp_path):
    result = subprocess.run([sys.executable, "-c", QUIET_SEARCH, str(tmp_path / "params")], capture_output=True,
                            text=True, env=ENV, timeout=600)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []
