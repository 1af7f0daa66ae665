"""Two CPU processes with gloo: torchrun, and SLURM-style variables, on an uneven shard set."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 240  # seconds; a rank waiting on a missing batch would hang far longer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "OMPI_"))}
    return {**env, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **extra}


def torchrun(*args, cwd):
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
               f"--master_port={free_port()}", *args]
    return subprocess.run(command, capture_output=True, text=True, env=environment(), cwd=cwd, timeout=TIMEOUT)


def test_ddp_ranks_run_equal_batches_and_end_with_equal_weights(shard_dir, tmp_path):
    out = tmp_path / "ddp.json"
    proc = torchrun(str(Path(__file__).with_name("ddp_worker.py")), str(shard_dir), str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(out.read_text())
    assert found["batches"] == [83 // 16, 83 // 16]  # 83 samples over 2 ranks x batch 8
    assert found["before"] > 0 and found["after"] == 0


def test_torchrun_module_pretrains(shard_dir, tmp_path, fast_args, log_records):
    out = tmp_path / "run"
    proc = torchrun("-m", "fdsl_train", "pretrain", "--data", str(shard_dir), "--output", str(out),
                    *fast_args, "-j", "1", "--epochs", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 rank(s)" in proc.stdout
    assert log_records(out, "epoch")[0]["batches"] == 2 * (83 // 16)


def test_slurm_tasks_map_to_ranks(shard_dir, tmp_path, fast_args, log_records):
    out, port = tmp_path / "run", str(free_port())
    command = [sys.executable, "-m", "fdsl_train", "pretrain", "--data", str(shard_dir), "--output", str(out),
               *fast_args, "--epochs", "1"]
    procs = [subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=environment(SLURM_PROCID=str(rank), SLURM_NTASKS="2", SLURM_LOCALID=str(rank),
                                              MASTER_PORT=port))
             for rank in range(2)]
    results = [proc.communicate(timeout=TIMEOUT) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], results[0][1][-2000:] + results[1][1][-2000:]
    assert "2 rank(s)" in results[0][0] and results[1][0] == ""
    assert log_records(out, "epoch")[0]["batches"] == 2 * (83 // 16)
