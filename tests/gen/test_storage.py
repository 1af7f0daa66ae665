"""Locations parsed once, and Store.open: a stream of one file, with the back-end's own errors."""
import asyncio
import functools
import http.server
import socket
import threading
import time

import pytest

from fdsl_gen.errors import UserError
from fdsl_gen.storage import Location, LocalStore, RemoteStore, answered_absent, open_file, open_store


@pytest.mark.parametrize("text, scheme, kind", [
    ("shards/toy", "", "is_local"),
    ("/abs/toy/", "", "is_local"),
    ("http://host/toy/", "http", "is_web"),
    ("https://host/toy", "https", "is_web"),
    ("s3://bucket/toy", "s3", "is_object_store"),
    ("gs://bucket/toy", "gs", "is_object_store"),
    ("pipe:curl -s http://host/toy-000000.tar", "pipe", "is_pipe"),
])
def test_a_location_is_one_kind(text, scheme, kind):
    where = Location.parse(text)
    assert where.scheme == scheme and where.text == text and str(where) == text
    kinds = ("is_local", "is_web", "is_object_store", "is_pipe")
    assert [k for k in kinds if getattr(where, k)] == [kind]
    assert where.is_url == (kind in ("is_web", "is_object_store"))
    assert Location.parse(where) is where


def test_a_file_url_is_a_local_path_and_splits_into_folder_and_name(tmp_path):
    where = Location.parse(f"file://{tmp_path}/toy/a.tar")
    assert where.is_local and where.text == f"{tmp_path}/toy/a.tar"
    assert where.split() == (Location(f"{tmp_path}/toy"), "a.tar")
    assert Location.parse("s3://bucket/toy/a.tar").split() == (Location("s3://bucket/toy", "s3"), "a.tar")
    assert isinstance(open_store(f"file://{tmp_path}"), LocalStore)
    assert isinstance(open_store("s3://bucket/toy"), RemoteStore)


def test_a_pipe_is_no_store():
    with pytest.raises(UserError, match="pipe: command"):
        open_store("pipe:cat a.tar")


def test_a_local_file_opens_as_a_stream(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"abc")
    with open_file(tmp_path / "a.bin") as stream:
        assert stream.read() == b"abc"
    with pytest.raises(FileNotFoundError) as absent:
        open_file(tmp_path / "b.bin")
    assert answered_absent(absent.value)


@pytest.fixture
def web(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"abc" * 1000)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path.endswith("forbidden"):
                self.send_error(403)
                return
            super().do_GET()

        do_HEAD = do_GET

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def causes(err):
    while err is not None:
        yield err
        err = err.__cause__ or getattr(err, "os_error", None)


def test_a_web_file_streams_and_its_failures_keep_their_cause(web):
    with open_file(f"{web}/a.bin", timeout=5) as stream:
        assert stream.read() == b"abc" * 1000
    with pytest.raises(FileNotFoundError) as absent:
        open_file(f"{web}/b.bin", timeout=5)
    assert answered_absent(absent.value)
    with pytest.raises(Exception) as refused:
        open_file(f"{web}/forbidden", timeout=5)
    assert getattr(refused.value, "status", None) == 403 and answered_absent(refused.value)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(OSError) as unreachable:
        open_file(f"http://127.0.0.1:{port}/a.bin", timeout=5)
    assert not answered_absent(unreachable.value)
    assert any(isinstance(cause, ConnectionRefusedError) for cause in causes(unreachable.value))


def test_a_silent_web_server_fails_the_open_within_its_time_out():
    listener = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    try:
        start = time.monotonic()
        with pytest.raises((TimeoutError, asyncio.TimeoutError)):
            open_file(f"http://127.0.0.1:{listener.getsockname()[1]}/a.bin", timeout=1)
        assert time.monotonic() - start < 10
    finally:
        listener.close()


@pytest.mark.parametrize("where", ["folder", "bucket"])
def test_put_of_pieces_stores_them_one_after_another(where, tmp_path, request):
    location = tmp_path / "store" if where == "folder" else f"{request.getfixturevalue('s3').url}/store"
    store = open_store(location)
    store.prepare()
    pieces = [b"head" * 100, bytes(range(256)) * 40, b"", b"\0" * 7]
    store.put("a.tar", pieces)
    store.put("b.json", b"{}")
    assert store.get("a.tar") == b"".join(pieces) and store.get("b.json") == b"{}"
    assert store.put_new("c.tar", pieces) and store.get("c.tar") == b"".join(pieces)
