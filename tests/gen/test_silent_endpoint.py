"""An object-store endpoint that accepts connections and never answers, met by the real commands.

Each command must give up with one line naming the location, after the remote
I/O policy's tries and no more (s3fs's own retries would multiply them), and
within the policy's bound from the first try to the exit. The read time-out is
1 s here: FDSL_IO_TIMEOUT for fdsl-gen, --io-timeout for fdsl-train.
"""
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from fdsl_gen import storage

SECONDS = 1
URL = "s3://quiet-bucket/fractaldb"


class SilentServer:
    """Accepts connections on 127.0.0.1 and never answers; notes when each connection came."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)  # so that the thread sees `stop` without being woken
        self.port = self.listener.getsockname()[1]
        self.arrivals, self.held = [], []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except socket.timeout:
                continue
            self.arrivals.append(time.monotonic())
            self.held.append(connection)

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        for connection in self.held:
            connection.close()
        self.listener.close()


@pytest.fixture
def silent(tmp_path):
    server = SilentServer()
    yield server
    server.close()
    assert not server.thread.is_alive()


def run(server, tmp_path, module, *args, io_timeout=True):
    """Run `python -m MODULE ARGS` against the silent endpoint; (result, seconds from the first try to the exit)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "FDSL_"))}
    env.update(AWS_ENDPOINT_URL=f"http://127.0.0.1:{server.port}", AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"))
    if io_timeout:
        env[storage.IO_TIMEOUT_VARIABLE] = str(SECONDS)
    result = subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=600)
    ended = time.monotonic()
    assert server.arrivals, f"the command never reached the endpoint: {result.stderr}"
    return result, ended - server.arrivals[0]


def assert_gave_up(server, result, waited, program, location):
    """Exit status 2, one line naming `location`, TRIES connections, within the policy's bound."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{program}: error:"), result.stderr
    assert location in lines[0], lines[0]
    assert len(server.arrivals) == storage.TRIES, lines[0]
    assert waited <= storage.worst_case(SECONDS), f"{waited:.1f} s from the first try to the exit"


def test_default_policy_gives_up_within_two_minutes(monkeypatch):
    monkeypatch.delenv(storage.IO_TIMEOUT_VARIABLE, raising=False)
    assert storage.io_timeout() == storage.READ_TIMEOUT
    assert storage.worst_case() <= 120


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf"])
@pytest.mark.parametrize("command", [("fdsl_gen", "verify", URL), ("fdsl_train", "pretrain", "--data", URL)])
def test_a_bad_io_timeout_variable_is_one_line(tmp_path, command, value):
    env = dict(os.environ, **{storage.IO_TIMEOUT_VARIABLE: value})
    result = subprocess.run([sys.executable, "-m", *command], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr
    program = command[0].replace("_", "-")
    assert result.stderr.strip() == (f"{program}: error: {storage.IO_TIMEOUT_VARIABLE}={value}: "
                                     "expected a number of seconds above 0")


def test_render_to_a_silent_endpoint(silent, tmp_path, params_dir):
    result, waited = run(silent, tmp_path, "fdsl_gen", "render", "fractaldb", "--params", params_dir, "--size", 32,
                         "--points", 500, "--instances", 3, "--out", URL, "--quiet")
    assert_gave_up(silent, result, waited, "fdsl-gen", URL)


def test_verify_of_a_silent_endpoint(silent, tmp_path):
    result, waited = run(silent, tmp_path, "fdsl_gen", "verify", URL)
    assert_gave_up(silent, result, waited, "fdsl-gen", URL)


@pytest.mark.parametrize("set_by", ["option", "variable"])
def test_pretrain_from_a_silent_endpoint(silent, tmp_path, set_by):
    option = ("--io-timeout", SECONDS) if set_by == "option" else ()
    result, waited = run(silent, tmp_path, "fdsl_train", "pretrain", "--data", f"{URL}/", *option,
                         "--model", "test_resnet", "--img-size", 32, "-b", 8, "--epochs", 1, "-j", 0,
                         "--output", tmp_path / "run", io_timeout=set_by == "variable")
    assert_gave_up(silent, result, waited, "fdsl-train", URL)
    assert not (tmp_path / "run" / "model.safetensors").exists()
