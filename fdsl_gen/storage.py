"""Where a dataset lives: a local folder or an object-store prefix, behind the same few operations.

A location is parsed once, into a `Location`: a local path (a `file://` URL
is one), a web URL (`http(s)://`, read file by file, never listed) or an
object-store URL (`s3://bucket/prefix`, `gs://...`, any other fsspec
protocol); webdataset's `pipe:COMMAND` is a location a reader runs, never a
store. `open_store(location)` gives the Store of a path or URL. The shard
writer, the dataset lifecycle, verify, publish and fdsl_train use only these
operations:

- `put(name, data)`: the object appears under `name` whole or not at all.
  A folder writes a temporary name, syncs and renames; an object store's
  PUT (or multipart upload) is atomic by itself. `data` is bytes, or a list
  of bytes that make the object one after another (a shard's pieces, which
  a folder writes without joining them).
- `get(name)`, `size(name)`, `sha256(name)`: None when there is no such object.
- `open(name, timeout)`: a binary stream of the object, for reads too large to
  hold at once (shards); FileNotFoundError when there is no such object, and
  the back-end's own errors (`remote_errors()`) when it cannot be read, so
  that a reader can count a lost shard and go on. `open_file(location)`
  opens the file a location names.
- `list()`: {name: size} of every object under the store.
- `lock(name)`: an exclusive lock in a folder (flock), shared by every process
  of the machine. Object stores have no lock; two writers of one shard there
  put the same bytes (shards are deterministic), so the second PUT changes
  nothing.

Object-store credentials and endpoint come from the standard AWS variables
and files (AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL, ~/.aws/config, ...). Every
network call, object store or web server, follows one policy
(`client_options`): a 10 s connect and a 20 s read time-out (FDSL_IO_TIMEOUT
sets the read one, and a reader may pass its own) and, for object stores, 3
tries in all, made by botocore alone, so that a silent endpoint fails a call
within `worst_case()` seconds (93 by default).
"""
import contextlib
import fcntl
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from fdsl_gen.errors import UserError

CHUNK = 1 << 22
# A folder's file is written through a buffer this large, so that a shard's pieces (three a sample) go out
# in a few large writes: for 1000 PNGs of 40 KB, 47 ms of CPU, against 58 ms for a write per PNG and 160 ms
# for joining the pieces first
WRITE_BUFFER = 1 << 20
# The policy of every remote call: seconds to connect, seconds a read may wait for data (the
# IO_TIMEOUT_VARIABLE overrides it), tries of a call, and the most seconds botocore's back-off
# sleeps between them (1 s, then 2 s).
CONNECT_TIMEOUT, READ_TIMEOUT, TRIES, BACKOFF = 10, 20, 3, 3
IO_TIMEOUT_VARIABLE = "FDSL_IO_TIMEOUT"


LOCAL_SCHEME = "file://"
PIPE = "pipe:"  # webdataset's form: the output of a shell command
WEB_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class Location:
    """A path or URL, parsed once: `scheme` is "" for a local path, "pipe" for a pipe: command, else the
    URL's protocol; `text` is the location as given, less a `file://`."""

    text: str
    scheme: str = ""

    @classmethod
    def parse(cls, location):
        """The Location of a path, URL or Location."""
        if isinstance(location, Location):
            return location
        text = str(location)
        if text.startswith(PIPE):  # before any "://" inside the command
            return cls(text, "pipe")
        if text.startswith(LOCAL_SCHEME):
            return cls(text[len(LOCAL_SCHEME):])
        scheme, found, _ = text.partition("://")
        return cls(text, scheme if found else "")

    def __str__(self):
        return self.text

    @property
    def is_local(self):
        return not self.scheme

    @property
    def is_pipe(self):
        return self.scheme == "pipe"

    @property
    def is_url(self):
        """A web server's or an object store's: read through fsspec under the one policy."""
        return not self.is_local and not self.is_pipe

    @property
    def is_web(self):
        """http(s): readable file by file, never listed."""
        return self.scheme in WEB_SCHEMES

    @property
    def is_object_store(self):
        return self.is_url and not self.is_web

    def split(self):
        """(the Location of the folder or prefix that holds this file, the file's name)."""
        if self.is_local:
            path = Path(self.text)
            return Location(str(path.parent)), path.name
        head, _, name = self.text.rstrip("/").rpartition("/")
        return Location(head, self.scheme), name


def is_url(location):
    """Whether `location` names an fsspec URL rather than a local path."""
    return Location.parse(location).is_url


def is_web(location):
    """Whether `location` is an http(s) URL: readable file by file, never listed."""
    return Location.parse(location).is_web


def open_store(location):
    """The Store for a folder path or URL (a Store is passed through)."""
    if isinstance(location, (LocalStore, RemoteStore)):
        return location
    where = Location.parse(location)
    if where.is_pipe:
        raise UserError(f"{where}: a pipe: command is read by fdsl-train, not a place to store a dataset")
    if where.is_url and not where.text.split("://", 1)[1].strip("/"):
        raise UserError(f"{where} names no bucket or host: give {where.scheme}://BUCKET/PREFIX")
    return RemoteStore(where.text) if where.is_url else LocalStore(where.text)


def open_file(location, timeout=None):
    """A binary stream of the file a path or URL names: its store's `open`."""
    folder, name = Location.parse(location).split()
    return open_store(folder).open(name, timeout)


class LocalStore:
    """A folder on a local or shared file system."""

    def __init__(self, folder):
        self.location = str(folder)
        self.root = Path(folder).absolute()

    def __str__(self):
        return self.location

    def prepare(self):
        """Create the folder; UserError if it cannot be."""
        if self.root.exists() and not self.root.is_dir():
            raise UserError(f"cannot create output folder {self.location}: it is a file")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UserError(f"cannot create output folder {self.location}: {err.strerror}") from None

    def require(self):
        """UserError unless the folder exists."""
        if not self.root.is_dir():
            raise UserError(f"{self.location} is not a folder")

    def put(self, name, data):
        """Write under a temporary name, sync, rename; a failure removes the temporary and names the file."""
        self._place(name, data, os.replace)

    def put_new(self, name, data):
        """Create `name` whole unless it exists; True when this call created it.

        The synced temporary is hard-linked to the name, which fails when the
        name exists: two processes cannot both create it.
        """
        try:
            self._place(name, data, os.link)
        except FileExistsError:
            return False
        return True

    def _place(self, name, data, move):
        path = self.root / name
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb", buffering=WRITE_BUFFER) as handle:
                handle.writelines(data if isinstance(data, list) else [data])
                handle.flush()
                os.fsync(handle.fileno())
            move(tmp, path)
        except OSError as err:
            if isinstance(err, FileExistsError) and err.filename == str(tmp):
                raise  # the name exists: put_new's answer
            raise OSError(err.errno, err.strerror or str(err), str(path)) from None
        finally:
            tmp.unlink(missing_ok=True)

    def delete(self, name):
        """Remove `name` and the folders it leaves empty (never anything outside the store)."""
        path = (self.root / name).resolve()
        root = self.root.resolve()
        if not path.is_relative_to(root):
            return
        path.unlink(missing_ok=True)
        while path.parent != root and path.parent.is_dir() and not any(path.parent.iterdir()):
            path = path.parent
            path.rmdir()

    def get(self, name):
        path = self.root / name
        return path.read_bytes() if path.is_file() else None

    def open(self, name, timeout=None):
        """A binary stream of `name` (a local file waits on no network: `timeout` does not apply)."""
        return open(self.root / name, "rb")

    def size(self, name):
        try:
            return (self.root / name).stat().st_size
        except FileNotFoundError:
            return None

    def sha256(self, name):
        try:
            with open(self.root / name, "rb") as handle:
                return _digest(handle)
        except FileNotFoundError:
            return None

    def list(self):
        """{name: size} of every file; one that another writer renames or removes meanwhile is left out."""
        found = {}
        for folder, _, files in os.walk(self.root):  # a folder removed meanwhile is skipped, not an error
            for file in files:
                path = Path(folder, file)
                with contextlib.suppress(FileNotFoundError):
                    if path.is_file():
                        found[str(path.relative_to(self.root))] = path.stat().st_size
        return found

    @contextlib.contextmanager
    def lock(self, name):
        """Hold an exclusive lock; yields True when another process held it first."""
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                contended = False
            except BlockingIOError:
                fcntl.flock(handle, fcntl.LOCK_EX)
                contended = True
            yield contended

    @contextlib.contextmanager
    def share(self, name):
        """Hold a shared lock on `name` in the block; `in_use(name)` is True for other processes meanwhile."""
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_SH)
            yield

    def in_use(self, name):
        """Whether a live process holds `share(name)` (a killed one's lock is gone with it)."""
        path = self.root / name
        if not path.is_file():
            return False
        with open(path) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
        return False

    def discard_partial(self, name):
        """Remove what a killed writer of `name` left (call under its lock)."""
        path = self.root / name
        for stale in path.parent.glob(f".{path.name}.tmp-*"):
            stale.unlink(missing_ok=True)


class RemoteStore:
    """A prefix in an object store (or any fsspec file system), named by URL."""

    def __init__(self, url):
        self.location = url.rstrip("/")
        self._client = None

    def __str__(self):
        return self.location

    def __getstate__(self):
        return {"location": self.location, "_client": None}

    @property
    def fs(self):
        return self._connect()[0]

    def _path(self, name):
        return f"{self._connect()[1]}/{name}"

    def _connect(self):
        """(file system, root path), made once per process: a client made before
        a fork would wait on the parent's event loop thread."""
        if self._client is None or self._client[2] != os.getpid():
            fs, root = connect(self.location)
            self._client = fs, root.rstrip("/"), os.getpid()
        return self._client

    def prepare(self):
        """Check that the bucket (or host) answers; UserError if not."""
        self.list()

    def require(self):
        """UserError unless the bucket exists (object stores only: a URL of a web server is taken as it is)."""
        if is_web(self.location):
            return
        bucket = self._path("").split("/", 1)[0]
        with self._errors(""):
            self.fs.info(bucket)  # unlike exists(), tells a refusal from absence

    def put(self, name, data):
        with self._errors(name):
            self.fs.pipe_file(self._path(name), _joined(data))

    def put_new(self, name, data):
        """Create `name` unless it exists (a conditional PUT, If-None-Match: *); True when this call created it."""
        with self._errors(name):
            try:
                self.fs.pipe_file(self._path(name), _joined(data), mode="create")
            except FileExistsError:
                return False
        return True

    def get(self, name):
        with self._errors(name):
            try:
                return self.fs.cat_file(self._path(name))
            except FileNotFoundError:
                return None

    def open(self, name, timeout=None):
        """A binary stream of `name` whose every read waits at most `timeout` seconds [the policy's read
        time-out]; errors as the back-end raises them (module docstring)."""
        fs, root = self._connect() if timeout is None else connect(self.location, timeout)
        path = f"{root.rstrip('/')}/{name}"
        if not is_web(self.location):
            return fs.open(path, "rb")
        try:
            return fs.open(path, "rb", block_size=0)  # a stream of one GET: shards are read once, in order
        except FileNotFoundError as err:
            # fsspec's http asks for the file's size first and reports any failure of that as
            # FileNotFoundError: the cause tells a refused or silent server from an absent file
            cause = err.__cause__
            if cause is None or isinstance(cause, FileNotFoundError) or getattr(cause, "status", None) == 404:
                raise
            raise cause from None

    def size(self, name):
        with self._errors(name):
            try:
                return self.fs.size(self._path(name))
            except FileNotFoundError:
                return None

    def sha256(self, name):
        with self._errors(name):
            try:
                with self.fs.open(self._path(name), "rb", block_size=CHUNK) as handle:
                    return _digest(handle)
            except FileNotFoundError:
                return None

    def sign(self, name, seconds):
        """A URL that reads `name` with no credentials for `seconds` (an https URL for S3); UserError where the
        back-end signs none (a web server's URL, most fsspec protocols)."""
        with self._errors(name):
            try:
                return self.fs.sign(self._path(name), expiration=seconds)
            except NotImplementedError:
                raise UserError(f"{self.location}: fsspec cannot sign URLs of this store") from None

    def list(self):
        with self._errors(""):
            found = self.fs.find(self._path("").rstrip("/"), detail=True)
        start = len(self._path(""))
        return {path[start:]: info.get("size", 0) for path, info in found.items()
                if info.get("type") != "directory"}

    def delete(self, name):
        with self._errors(name):
            try:
                self.fs.rm_file(self._path(name))
            except FileNotFoundError:
                pass

    @contextlib.contextmanager
    def lock(self, name):
        yield False

    @contextlib.contextmanager
    def share(self, name):
        yield

    def in_use(self, name):
        """None: an object store cannot tell whether a process still works on it."""
        return None

    def discard_partial(self, name):
        """Nothing to do: an object store never shows a partial object."""

    @contextlib.contextmanager
    def _errors(self, name):
        """Turn the back-end's network and permission errors into one-line UserErrors."""
        try:
            yield
        except FileNotFoundError as err:
            if name:
                raise
            raise UserError(f"{self.location}: no such bucket or container ({_reason(err)})") from None
        except PermissionError as err:
            raise UserError(f"{self.location}: access refused ({_reason(err)})") from None
        except remote_errors() as err:
            where = f"{self.location}/{name}" if name else self.location
            raise UserError(f"cannot reach {where}: {_reason(err)}") from None


def io_timeout():
    """Seconds a read may wait for data: the IO_TIMEOUT_VARIABLE when set, else READ_TIMEOUT."""
    text = os.environ.get(IO_TIMEOUT_VARIABLE, "").strip()
    if not text:
        return READ_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise UserError(f"{IO_TIMEOUT_VARIABLE}={text}: expected a number of seconds above 0")
    return seconds


def worst_case(read_timeout=None):
    """The most seconds from a call's first try to its failure, for a read time-out (default: io_timeout())."""
    return TRIES * (CONNECT_TIMEOUT + (read_timeout or io_timeout())) + BACKOFF


def client_options(url, read_timeout=None):
    """fsspec options that apply the policy to `url`: the time-outs, and TRIES tries made by botocore.

    s3fs would try each call again itself (5 times), multiplying botocore's
    tries: `connect` turns that off on the file system it makes.
    """
    protocol = url.split("://", 1)[0]
    read = read_timeout or io_timeout()
    if protocol in ("s3", "s3a"):
        return {"config_kwargs": {"connect_timeout": CONNECT_TIMEOUT, "read_timeout": read,
                                  "retries": {"total_max_attempts": TRIES, "mode": "standard"}},
                "use_listings_cache": False, "skip_instance_cache": True}
    if protocol in ("http", "https"):
        import aiohttp
        return {"client_kwargs": {"timeout": aiohttp.ClientTimeout(sock_connect=CONNECT_TIMEOUT, sock_read=read)}}
    return {}


def connect(url, read_timeout=None):
    """(file system, path) of `url` under the policy; UserError when no back-end serves its protocol."""
    import fsspec  # its import costs a tenth of a second; folders never need it
    try:
        fs, path = fsspec.core.url_to_fs(url, **client_options(url, read_timeout))
    except (ImportError, ValueError) as err:
        raise UserError(f"cannot open {url}: {err}") from None
    if url.split("://", 1)[0] in ("s3", "s3a"):
        fs.retries = 1  # s3fs's own loop: one go, botocore makes the TRIES
    return fs, path


def remote_errors():
    """The exception types a network back-end raises for a failed call."""
    import asyncio
    errors = [OSError, asyncio.TimeoutError]
    with contextlib.suppress(ImportError):
        import botocore.exceptions
        errors += [botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError]
    with contextlib.suppress(ImportError):
        import aiohttp
        errors.append(aiohttp.ClientError)
    return tuple(errors)


def answered_absent(err):
    """Whether a failed read means that the server answered without the file (no such file or object, an
    HTTP error status), rather than that it could not be reached."""
    if isinstance(err, FileNotFoundError):
        return True
    with contextlib.suppress(ImportError):
        import aiohttp
        return isinstance(err, aiohttp.ClientResponseError)
    return False


def _reason(err):
    """The telling line of a back-end's message: its first, or the next when the first only leads in ("...:")."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()] or [type(err).__name__]
    return lines[1] if len(lines) > 1 and lines[0].endswith(":") else lines[0]


def _joined(data):
    """The bytes of put's `data`: bytes, or a list of the pieces that make them."""
    return b"".join(data) if isinstance(data, list) else data


def _digest(handle):
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(CHUNK), b""):
        digest.update(block)
    return digest.hexdigest()
