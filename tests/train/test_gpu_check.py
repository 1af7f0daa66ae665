import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "gpu_check.sh"


def test_without_a_gpu_the_check_prints_one_line_and_exits_0(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable, CUDA_VISIBLE_DEVICES="", GPU_CHECK_DIR=str(tmp_path / "work"))
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, cwd=tmp_path,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["gpu_check: no CUDA GPU visible to torch, nothing to check on this machine"]
    assert not (tmp_path / "work").exists()
