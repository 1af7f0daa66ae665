"""Shared test set-up: tests/ on sys.path for the shared test modules (`helpers` and the
`reference` oracles), and a real S3 protocol server for every test that needs an object store.

moto's standalone server runs on 127.0.0.1 at a free port, once per session;
each test gets a bucket of its own and the standard AWS variables pointing at
the server, so fdsl reads them exactly as it would on a cluster. The server's
WSGI app is wrapped by a counter of the requests it answers.
"""
import logging
import os
import sys
import uuid

# One math thread per process, set before torch loads OpenMP: the suite runs many small torch processes side
# by side (loader workers, torchrun ranks, CLI children), and threads that outnumber the cores spin against
# each other; on a 2-core machine one thread each made a training step several times faster.
os.environ.setdefault("OMP_NUM_THREADS", "1")
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

sys.path.insert(0, str(Path(__file__).resolve().parent))


class RequestCounter:
    """WSGI middleware: counts (method, path) of every request the server answers."""

    def __init__(self, app):
        self.app = app
        self.counts = Counter()

    def __call__(self, environ, start_response):
        self.counts[environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")] += 1
        return self.app(environ, start_response)

    def count(self, method, path_part=""):
        return sum(n for (m, p), n in self.counts.items() if m == method and path_part in p)


@dataclass
class Bucket:
    url: str
    name: str
    client: object
    requests: RequestCounter

    def get(self, key):
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def put(self, key, data):
        self.client.put_object(Bucket=self.name, Key=key, Body=data)

    def keys(self, prefix=""):
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


@pytest.fixture(scope="session")
def s3_server():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    counter = RequestCounter(server._server.app)
    server._server.app = counter
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}", counter
    server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch, tmp_path):
    """A fresh bucket on the session's server, with AWS_* set for this process and its children."""
    endpoint, counter = s3_server
    for name, value in (("AWS_ENDPOINT_URL", endpoint), ("AWS_ACCESS_KEY_ID", "testing"),
                        ("AWS_SECRET_ACCESS_KEY", "testing"), ("AWS_DEFAULT_REGION", "us-east-1"),
                        ("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config")),
                        ("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    name = f"fdsl-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket=name)
    counter.counts.clear()
    return Bucket(f"s3://{name}", name, client, counter)
