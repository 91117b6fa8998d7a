"""A loopback HTTP server that speaks enough of the Hugging Face Hub protocol for the unmodified huggingface_hub client.

Stdlib only (PyYAML is imported lazily to read README metadata). `HubServer()` binds 127.0.0.1 on a free port at
once, so `HubServer().url` can go into HF_ENDPOINT before huggingface_hub is imported; `start()` serves it from a
daemon thread. It keeps repositories in memory as real commit graphs (branches, tags, `refs/pr/N`), checks tokens and
permissions the way the Hub does, validates README metadata, and can inject faults (`inject`).

Users and tokens: user "tester" (member of org "org"); `WRITE_TOKEN` has role write, `READ_TOKEN` role read; any
other Bearer token is answered 401 "Invalid credentials in Authorization header", as on the Hub.

Endpoints (`{t}` is models, datasets, spaces or kernels; `{id}` is namespace/name; revisions may be URL-quoted):
    GET    /api/whoami-v2
    GET    /api/agent-harnesses          (empty registry; fetched once per process; not logged, never faulted)
    POST   /api/repos/create | DELETE /api/repos/delete | POST /api/repos/move
    POST   /api/validate-yaml
    GET    /api/{t}/{id}  and  /api/{t}/{id}/revision/{rev}          repo info (sha, siblings, cardData, ...)
    GET    /api/{t}/{id}/tree/{rev}[/{path}]?recursive=&expand=
    POST   /api/{t}/{id}/paths-info/{rev}                            (form or JSON: paths, expand)
    GET    /api/{t}/{id}/refs[?include_prs=1]
    GET    /api/{t}/{id}/commits/{rev}
    POST   /api/{t}/{id}/preupload/{rev}                             (always uploadMode "regular")
    POST   /api/{t}/{id}/commit/{rev}[?create_pr=1]                  (NDJSON: header, file, deletedFile, deletedFolder)
    POST   /api/{t}/{id}/branch/{branch}  | DELETE same
    POST   /api/{t}/{id}/tag/{rev}        | DELETE /api/{t}/{id}/tag/{tag}
    PUT    /api/{t}/{id}/settings                                    (private / visibility / gated)
    GET    /api/{t}/{id}/discussions  | POST same (open a PR/discussion) | GET /api/{t}/{id}/discussions/{num}
    HEAD/GET /[{t}/]{id}/resolve/{rev}/{path}                        (ETag, X-Repo-Commit, Range -> 206)
Anything else is answered 404 with a JSON error naming the method and path, and listed in `HubServer.unhandled`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import struct
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

USER = "tester"
ORG = "org"

REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space", "kernels": "kernel"}
URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/", "kernel": "kernels/"}

# The licence identifiers the Hub accepts (https://huggingface.co/docs/hub/repositories-licenses).
LICENSES = frozenset(
    """
    apache-2.0 mit openrail bigscience-openrail-m creativeml-openrail-m bigscience-bloom-rail-1.0 bigcode-openrail-m
    afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause bsd-3-clause-clear c-uda cc cc0-1.0 cc-by-2.0
    cc-by-2.5 cc-by-3.0 cc-by-4.0 cc-by-sa-3.0 cc-by-sa-4.0 cc-by-nc-2.0 cc-by-nc-3.0 cc-by-nc-4.0 cc-by-nd-4.0
    cc-by-nc-nd-3.0 cc-by-nc-nd-4.0 cc-by-nc-sa-2.0 cc-by-nc-sa-3.0 cc-by-nc-sa-4.0 cdla-sharing-1.0
    cdla-permissive-1.0 cdla-permissive-2.0 wtfpl ecl-2.0 epl-1.0 epl-2.0 etalab-2.0 eupl-1.1 eupl-1.2 agpl-3.0
    gfdl gpl gpl-2.0 gpl-3.0 lgpl lgpl-2.1 lgpl-3.0 isc h-research intel-research lppl-1.3c ms-pl apple-ascl
    apple-amlr mpl-2.0 odc-by odbl openrail++ osl-3.0 postgresql ofl-1.1 ncsa unlicense zlib pddl lgpl-lr
    deepfloyd-if-license fair-noncommercial-research-license llama2 llama3 llama3.1 llama3.2 llama3.3 llama4 gemma
    unknown other
    """.split()
)

# The Hub's pipeline tags (tasks).
PIPELINE_TAGS = frozenset(
    """
    text-classification token-classification table-question-answering question-answering zero-shot-classification
    translation summarization feature-extraction text-generation fill-mask sentence-similarity text-to-speech
    text-to-audio automatic-speech-recognition audio-to-audio audio-classification audio-text-to-text
    voice-activity-detection depth-estimation image-classification object-detection image-segmentation
    text-to-image image-to-text image-to-image image-to-video unconditional-image-generation video-classification
    reinforcement-learning robotics tabular-classification tabular-regression tabular-to-text table-to-text
    multiple-choice text-ranking text-retrieval time-series-forecasting text-to-video image-text-to-text
    image-text-to-image image-text-to-video visual-question-answering document-question-answering
    zero-shot-image-classification graph-ml mask-generation zero-shot-object-detection text-to-3d image-to-3d
    image-feature-extraction video-text-to-text keypoint-detection visual-document-retrieval any-to-any
    video-to-video other
    """.split()
)

BASE_MODEL_RELATIONS = ("adapter", "merge", "quantized", "finetune")
_REPO_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}$")
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_HEXPREFIX = re.compile(r"^[0-9a-f]{7,40}$")
_PR_REF = re.compile(r"^refs/pr/(\d+)$")
# Same block the client itself recognises (huggingface_hub.repocard.REGEX_YAML_BLOCK).
_YAML_BLOCK = re.compile(r"^(\s*---[\r\n]+)([\S\s]*?)([\r\n]+---(\r\n|\n|$))")
_MISSING_METADATA = "empty or missing yaml metadata in repo card (https://huggingface.co/docs/hub/model-cards#model-card-metadata)"

# The .gitattributes the Hub commits into every new repo ("initial commit").
DEFAULT_GITATTRIBUTES = b"".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n".encode()
    for pattern in (
        "*.7z",
        "*.arrow",
        "*.bin",
        "*.bz2",
        "*.ckpt",
        "*.ftz",
        "*.gz",
        "*.h5",
        "*.joblib",
        "*.lfs.*",
        "*.mlmodel",
        "*.model",
        "*.msgpack",
        "*.npy",
        "*.npz",
        "*.onnx",
        "*.ot",
        "*.parquet",
        "*.pb",
        "*.pickle",
        "*.pkl",
        "*.pt",
        "*.pth",
        "*.rar",
        "*.safetensors",
        "saved_model/**/*",
        "*.tar.*",
        "*.tar",
        "*.tflite",
        "*.tgz",
        "*.wasm",
        "*.xz",
        "*.zip",
        "*.zst",
        "*tfevents*",
    )
)


def git_blob_sha1(data: bytes) -> str:
    """The git blob id of `data` (what the Hub reports as a regular file's oid and ETag)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --------------------------------------------------------------------------------------------- metadata validation


def parse_readme_metadata(text: str) -> tuple[Any, list[str], list[str]]:
    """Return (metadata, errors, warnings) for a README's YAML front matter, as the Hub's validator sees it."""
    if text.startswith("\ufeff"):
        text = text[1:]
    match = _YAML_BLOCK.match(text)
    if match is None:
        if text.lstrip().startswith("---"):
            return None, ["Invalid YAML metadata: the block opened by '---' is never closed by a '---' line"], []
        return None, [], [_MISSING_METADATA]
    import yaml

    try:
        data = yaml.safe_load(match.group(2))
    except yaml.YAMLError as error:
        detail = " ".join(str(error).split())
        return None, [f"Invalid YAML in README.md metadata: {detail}"], []
    if data is None:
        return None, [], [_MISSING_METADATA]
    if not isinstance(data, dict):
        return None, [f"README.md metadata must be a YAML mapping (key: value pairs), not a {type(data).__name__}"], []
    return data, _metadata_errors(data), []


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _metadata_errors(data: dict) -> list[str]:
    errors: list[str] = []
    if "license" in data:
        value = data["license"]
        if not isinstance(value, str) or value not in LICENSES:
            errors.append(
                f'"license" must be one of the Hub license identifiers '
                f"(https://huggingface.co/docs/hub/repositories-licenses), got {value!r}"
            )
    if "pipeline_tag" in data:
        value = data["pipeline_tag"]
        if not isinstance(value, str) or value not in PIPELINE_TAGS:
            errors.append(f'"pipeline_tag" must be one of the Hub pipeline tags (e.g. image-to-image), got {value!r}')
    for key in ("tags", "datasets", "metrics"):
        if key in data and not _is_str_list(data[key]):
            errors.append(f'"{key}" must be an array of strings, got {data[key]!r}')
    if "language" in data:
        value = data["language"]
        if not (isinstance(value, str) or _is_str_list(value)):
            errors.append(f'"language" must be a string or an array of strings, got {value!r}')
    if "library_name" in data and not isinstance(data["library_name"], str):
        errors.append(f'"library_name" must be a string, got {data["library_name"]!r}')
    if "base_model" in data:
        value = data["base_model"]
        items = [value] if isinstance(value, str) else value
        if not _is_str_list(items) or not items:
            errors.append(f'"base_model" must be a model id or an array of model ids, got {value!r}')
        else:
            for item in items:
                if not _REPO_ID_RE.match(item) or "--" in item or ".." in item:
                    errors.append(f'"base_model" must name models as "owner/name", got {item!r}')
    if "base_model_relation" in data:
        value = data["base_model_relation"]
        if value not in BASE_MODEL_RELATIONS:
            errors.append(f'"base_model_relation" must be one of {", ".join(BASE_MODEL_RELATIONS)}, got {value!r}')
        elif "base_model" not in data:
            errors.append('"base_model_relation" needs a "base_model"')
    if "model-index" in data and not isinstance(data["model-index"], list):
        errors.append('"model-index" must be an array')
    return errors


# --------------------------------------------------------------------------------------------- repository model


@dataclass(frozen=True)
class _Blob:
    data: bytes
    oid: str


@dataclass
class _Commit:
    sha: str
    parents: list[str]
    files: dict[str, _Blob]
    title: str
    description: str
    date: datetime
    author: str

    @property
    def message(self) -> str:
        return self.title + (f"\n\n{self.description}" if self.description else "")


@dataclass
class _Discussion:
    num: int
    title: str
    description: str
    is_pull_request: bool
    status: str
    base: str | None  # "refs/heads/main" for pull requests
    author: str
    created: datetime


@dataclass
class _Repo:
    type: str
    id: str
    private: bool
    created: datetime
    gated: Any = False
    sdk: str | None = None  # Spaces only
    commits: dict[str, _Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    prs: dict[int, str] = field(default_factory=dict)  # PR number -> head commit of refs/pr/N
    discussions: dict[int, _Discussion] = field(default_factory=dict)
    uid: str = field(default_factory=lambda: uuid.uuid4().hex[:24])

    @property
    def namespace(self) -> str:
        return self.id.split("/", 1)[0]

    def resolve(self, revision: str) -> str | None:
        """Commit sha of a branch, tag, refs/heads|tags/X, refs/pr/N, full sha or unique 7+ hex prefix."""
        if revision in self.branches:
            return self.branches[revision]
        if revision in self.tags:
            return self.tags[revision]
        if revision.startswith("refs/heads/"):
            return self.branches.get(revision[len("refs/heads/") :])
        if revision.startswith("refs/tags/"):
            return self.tags.get(revision[len("refs/tags/") :])
        match = _PR_REF.match(revision)
        if match:
            return self.prs.get(int(match.group(1)))
        if _HEX40.match(revision):
            return revision if revision in self.commits else None
        if _HEXPREFIX.match(revision):
            found = [sha for sha in self.commits if sha.startswith(revision)]
            return found[0] if len(found) == 1 else None
        return None

    def history(self, sha: str) -> list[_Commit]:
        """Commits reachable from `sha` by first parents, newest first."""
        out = []
        current: str | None = sha
        while current is not None:
            commit = self.commits[current]
            out.append(commit)
            current = commit.parents[0] if commit.parents else None
        return out

    def next_discussion_num(self) -> int:
        return max(self.discussions, default=0) + 1


class _Failure(Exception):
    """An HTTP error answer: status, message, and the Hub's X-Error-Code where it has one."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}
        self.extra = extra or {}  # more fields of the JSON body


@dataclass
class _Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    send_body: bool = True


@dataclass
class _Request:
    method: str
    raw_path: str  # as received, including the query
    path: str  # raw (still quoted) path without the query
    query: dict[str, list[str]]
    headers: Any
    body: bytes
    role: str | None  # "write", "read" or None (anonymous)

    def flag(self, name: str) -> bool:
        values = self.query.get(name)
        return bool(values) and values[-1].lower() in ("1", "true", "yes")

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            raise _Failure(400, "Invalid JSON in request body") from None


@dataclass
class Fault:
    """A fault waiting for matching requests (returned by `HubServer.inject`)."""

    kind: str
    path: str
    method: str | None
    times: int | None  # None: until cleared
    delay: float
    hits: int = 0

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times


class _Headers(dict):
    """A plain dict of request headers whose lookups ignore case (the client sends lower-case names)."""

    def __init__(self, items):
        super().__init__()
        self._lower: dict[str, str] = {}
        for key, value in items:
            super().__setitem__(key, value)
            self._lower[key.lower()] = key

    def _key(self, key):
        return self._lower.get(key.lower(), key) if isinstance(key, str) else key

    def __getitem__(self, key):
        return super().__getitem__(self._key(key))

    def __contains__(self, key):
        return super().__contains__(self._key(key))

    def get(self, key, default=None):
        return super().get(self._key(key), default)


def _take_revision(segments: list[str]) -> tuple[str, list[str]]:
    """Split raw path segments into (revision, rest): the revision is one quoted segment or an unquoted refs/x/y."""
    if not segments:
        return "", []
    first = unquote(segments[0])
    if "/" not in first and first == "refs" and len(segments) >= 3 and segments[1] in ("pr", "heads", "tags", "convert"):
        return "/".join(unquote(s) for s in segments[:3]), segments[3:]
    return first, segments[1:]


def _join(segments: list[str]) -> str:
    return "/".join(unquote(s) for s in segments)


def _check_repo_path(path: str) -> None:
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts) or parts[0] == ".git":
        raise _Failure(400, f"Invalid path in repo: {path!r}")


def _gitignore_matches(patterns: list[str], path: str) -> bool:
    import fnmatch

    ignored = False
    for raw in patterns:
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern[1:] if negate else pattern
        directory = pattern.endswith("/")
        pattern = pattern.rstrip("/")
        anchored = "/" in pattern
        pattern = pattern.lstrip("/")
        parts = path.split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts) - (1 if directory else 0))]
        hit = any(fnmatch.fnmatchcase(c, pattern) if anchored else fnmatch.fnmatchcase(c.rsplit("/", 1)[-1], pattern) for c in candidates)
        if hit:
            ignored = not negate
    return ignored


def _tree_oid(files: dict[str, _Blob], prefix: str) -> str:
    """A git tree id for the directory `prefix` ("" for the root) of a snapshot."""
    children: dict[str, tuple[str, str]] = {}
    start = prefix + "/" if prefix else ""
    for path, blob in files.items():
        if not path.startswith(start):
            continue
        rest = path[len(start) :]
        name, sep, _ = rest.partition("/")
        if sep:
            children[name] = ("40000", _tree_oid(files, start + name))
        else:
            children[name] = ("100644", blob.oid)
    content = b"".join(
        mode.encode() + b" " + name.encode() + b"\0" + bytes.fromhex(oid)
        for name, (mode, oid) in sorted(children.items(), key=lambda kv: kv[0] + ("/" if kv[1][0] == "40000" else ""))
    )
    return hashlib.sha1(b"tree %d\0" % len(content) + content).hexdigest()


# --------------------------------------------------------------------------------------------- HTTP plumbing


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    hub: "HubServer"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # or every small response waits for the peer's delayed ACK (~40 ms)
    server_version = "hub_server/1.0"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are dropped after this

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    def do_GET(self):
        self._serve()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _drop(self, *, rst: bool) -> None:
        """End the connection without an answer (an RST when `rst`)."""
        self.close_connection = True
        try:
            if rst:
                # Linger 0 makes close() send an RST; closing now (before socketserver's shutdown(SHUT_WR), which
                # would send a FIN first) makes it a reset rather than an orderly end.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _serve(self) -> None:
        hub: HubServer = self.server.hub
        if self.path.split("?")[0] == "/api/agent-harnesses":
            # huggingface_hub fetches this registry once per process, from whichever test first shows a progress
            # bar: answered here, outside the request log and the faults, so that neither depends on test order.
            self._read_body()
            self._send(hub._json({"standardEnvVars": [], "harnesses": {}}), None)
            return
        record = hub._record(self.command, self.path, self.headers)
        fault = hub._take_fault(self.command, self.path)
        if fault is not None:
            record["fault"] = fault.kind
            if fault.kind == "reset":
                self._drop(rst=True)
                return
        try:
            body = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        if fault is not None and fault.kind == "timeout":
            hub._stopping.wait(fault.delay)
            self._drop(rst=False)
            return
        if fault is not None and fault.kind in ("400", "500", "401", "403"):
            response = hub._fault_response(fault.kind)
        else:
            response = hub._dispatch(self.command, self.path, self.headers, body)
        record["status"] = response.status
        self._send(response, fault if fault is not None and fault.kind in ("truncate", "corrupt") else None)

    def _send(self, response: _Response, fault: Fault | None) -> None:
        body = response.body
        try:
            self.send_response(response.status)
            headers = {"Content-Length": str(len(body)), **response.headers}
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command == "HEAD" or not response.send_body or response.status in (204, 304):
                self.wfile.flush()
                return
            if fault is not None and fault.kind == "truncate":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self._drop(rst=False)
                return
            if fault is not None and fault.kind == "corrupt" and body:
                altered = bytearray(body)
                middle = len(altered) // 2
                for i in range(middle, min(middle + 8, len(altered))):
                    altered[i] ^= 0xFF
                body = bytes(altered)
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True


# --------------------------------------------------------------------------------------------- the server


class HubServer:
    """An in-memory Hugging Face Hub on 127.0.0.1 (see the module docstring for the endpoints)."""

    WRITE_TOKEN = "hf_loopback_write_token"
    READ_TOKEN = "hf_loopback_read_token"
    USER = USER
    ORG = ORG
    FAULT_KINDS = ("400", "500", "401", "403", "timeout", "reset", "truncate", "corrupt")
    # Files of the "initial commit" of every repo created through the API (the Hub adds a .gitattributes).
    INITIAL_FILES: dict[str, bytes] = {".gitattributes": DEFAULT_GITATTRIBUTES}

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host = host
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._repos: dict[tuple[str, str], _Repo] = {}
        self._faults: list[Fault] = []
        self._commit_counter = 0
        self._thread: threading.Thread | None = None
        # Every request (but the agent-harness registry fetch): {method, path (raw, with query), headers (dict,
        # case-insensitive lookups), status (None if no answer was sent), fault (kind, when one was applied)}.
        self.requests: list[dict] = []
        self.unhandled: list[str] = []  # "METHOD path" of requests no endpoint understood
        self.server_errors: list[str] = []  # tracebacks of bugs in this server (answered 500)
        self._server = self._bind(port)
        self.port = self._server.server_address[1]

    def _bind(self, port: int) -> _HTTPServer:
        server = _HTTPServer((self.host, port), _Handler)
        server.hub = self
        return server

    def __repr__(self) -> str:
        return f"HubServer({self.url!r}, repos={len(self._repos)})"

    # ----------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "HubServer":
        """Serve from a daemon thread (idempotent; after `stop()`, binds the same port again)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return self
            if self._server is None:
                self._server = self._bind(self.port)
            self._stopping.clear()
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="hub-server", daemon=True
            )
            self._thread.start()
            return self

    def stop(self) -> None:
        """Stop serving and close the socket; requests held by a "timeout" fault are released at once."""
        with self._lock:
            self._stopping.set()
            server, thread = self._server, self._thread
            self._server, self._thread = None, None
        if server is not None:
            if thread is not None:
                server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def reset(self) -> None:
        """Forget every repo, fault and logged request."""
        with self._lock:
            self._repos.clear()
            self._faults.clear()
            self.requests.clear()
            self.unhandled.clear()
            self.server_errors.clear()

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # ----------------------------------------------------------------- faults

    def inject(self, kind: str, path: str = "", method: str | None = None, times: int | None = 1, delay: float = 5.0) -> Fault:
        """Make the next `times` requests (None: all, until cleared) matching `method` and `path` fail as `kind`.

        `path` is a regex searched in the request path with its query, raw (as sent, e.g. `refs%2Fpr%2F1`) or
        URL-decoded. Kinds: "400" (bad request), "500", "401" (invalid credentials), "403", "timeout" (hold the request `delay` seconds,
        then close without answering), "reset" (close at once with a TCP RST), "truncate" (full Content-Length,
        half the body, then close), "corrupt" (full length, 8 bytes in the middle flipped). "truncate" and
        "corrupt" only match GET requests unless `method` says otherwise. Returns the Fault (see `.hits`).
        """
        if kind not in self.FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {self.FAULT_KINDS}")
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 (or None for 'until cleared')")
        re.compile(path)
        fault = Fault(kind=kind, path=path, method=method.upper() if method else None, times=times, delay=delay)
        with self._lock:
            self._faults.append(fault)
        return fault

    def _take_fault(self, method: str, raw_path: str) -> Fault | None:
        decoded = unquote(raw_path)
        with self._lock:
            for fault in self._faults:
                if fault.exhausted:
                    continue
                if fault.method is not None and fault.method != method:
                    continue
                if fault.method is None and fault.kind in ("truncate", "corrupt") and method != "GET":
                    continue
                if re.search(fault.path, raw_path) or re.search(fault.path, decoded):
                    fault.hits += 1
                    return fault
        return None

    def _fault_response(self, kind: str) -> _Response:
        if kind == "400":
            failure = _Failure(400, "Bad request: the commit was refused (injected)")
        elif kind == "500":
            failure = _Failure(500, "Internal Error - We're working hard to fix this as soon as possible! (injected)")
        elif kind == "401":
            failure = _Failure(401, "Invalid credentials in Authorization header")
        else:
            failure = _Failure(403, "Forbidden: you don't have access to this resource (injected)")
        return self._error_response(failure)

    def _record(self, method: str, raw_path: str, headers) -> dict:
        entry = {"method": method, "path": raw_path, "headers": _Headers(headers.items()), "status": None}
        with self._lock:
            self.requests.append(entry)
        return entry

    # ----------------------------------------------------------------- inspection helpers for tests

    def _repo(self, repo_id: str, repo_type: str) -> _Repo:
        repo = self._repos.get((repo_type, repo_id))
        if repo is None:
            raise KeyError(f"no {repo_type} repo {repo_id!r} on the loopback hub")
        return repo

    def repo_exists(self, repo_id: str, repo_type: str = "model") -> bool:
        with self._lock:
            return (repo_type, repo_id) in self._repos

    def is_private(self, repo_id: str, repo_type: str = "model") -> bool:
        with self._lock:
            return self._repo(repo_id, repo_type).private

    def repo_files(self, repo_id: str, revision: str = "main", repo_type: str = "model") -> dict[str, bytes]:
        """Path -> content of every file at `revision` (branch, tag, refs/pr/N or commit)."""
        with self._lock:
            repo = self._repo(repo_id, repo_type)
            sha = repo.resolve(revision)
            if sha is None:
                raise KeyError(f"{repo_id}: no revision {revision!r}")
            return {path: blob.data for path, blob in sorted(repo.commits[sha].files.items())}

    def refs(self, repo_id: str, repo_type: str = "model") -> dict[str, str]:
        """Ref -> commit sha: branches by name ("main"), "refs/pr/N" for pull requests, "refs/tags/NAME" for tags."""
        with self._lock:
            repo = self._repo(repo_id, repo_type)
            out = dict(repo.branches)
            out.update({f"refs/pr/{num}": sha for num, sha in sorted(repo.prs.items())})
            out.update({f"refs/tags/{name}": sha for name, sha in repo.tags.items()})
            return out

    def commits(self, repo_id: str, revision: str = "main", repo_type: str = "model") -> list[dict]:
        """History of `revision` by first parents, newest first: {id, title, message, description, parents, date, author}."""
        with self._lock:
            repo = self._repo(repo_id, repo_type)
            sha = repo.resolve(revision)
            if sha is None:
                raise KeyError(f"{repo_id}: no revision {revision!r}")
            return [
                {
                    "id": c.sha,
                    "title": c.title,
                    "message": c.message,
                    "description": c.description,
                    "parents": list(c.parents),
                    "date": c.date,
                    "author": c.author,
                }
                for c in repo.history(sha)
            ]

    def discussions(self, repo_id: str, repo_type: str = "model") -> list[dict]:
        with self._lock:
            repo = self._repo(repo_id, repo_type)
            return [
                {
                    "num": d.num,
                    "title": d.title,
                    "is_pull_request": d.is_pull_request,
                    "status": d.status,
                    "base": d.base,
                    "ref": f"refs/pr/{d.num}" if d.is_pull_request else None,
                }
                for d in sorted(repo.discussions.values(), key=lambda d: d.num)
            ]

    @staticmethod
    def validation_errors(readme_text: str) -> list[str]:
        """The errors the validate-yaml endpoint reports for this README (empty when its metadata is valid)."""
        return parse_readme_metadata(readme_text)[1]

    # ----------------------------------------------------------------- seeding helpers for tests

    def create_repo(
        self,
        repo_id: str,
        *,
        repo_type: str = "model",
        private: bool = False,
        files: dict[str, bytes | str] | None = None,
        initial_files: bool = True,
    ) -> str:
        """Create a repo directly (any namespace, no token checks) and return the sha of its main head.

        With `files`, a second commit adds them on top of the initial commit.
        """
        with self._lock:
            if (repo_type, repo_id) in self._repos:
                raise ValueError(f"{repo_id} already exists")
            repo = self._new_repo(repo_type, repo_id, private, self.INITIAL_FILES if initial_files else {})
            if files:
                return self.commit_files(repo_id, files, repo_type=repo_type)
            return repo.branches["main"]

    def commit_files(
        self,
        repo_id: str,
        files: dict[str, bytes | str],
        *,
        revision: str = "main",
        message: str = "Upload files",
        deletions: tuple[str, ...] | list[str] = (),
        repo_type: str = "model",
    ) -> str:
        """Commit `files` (and delete `deletions`) on branch `revision` directly; returns the new commit sha."""
        with self._lock:
            repo = self._repo(repo_id, repo_type)
            if revision not in repo.branches:
                raise KeyError(f"{repo_id}: no branch {revision!r}")
            snapshot = dict(repo.commits[repo.branches[revision]].files)
            for path in deletions:
                snapshot.pop(path, None)
            for path, content in files.items():
                data = content.encode() if isinstance(content, str) else bytes(content)
                snapshot[path] = _Blob(data, git_blob_sha1(data))
            sha = self._add_commit(repo, [repo.branches[revision]], snapshot, message, "")
            repo.branches[revision] = sha
            return sha

    def _new_repo(self, repo_type: str, repo_id: str, private: bool, files: dict[str, bytes]) -> _Repo:
        repo = _Repo(type=repo_type, id=repo_id, private=private, created=_now())
        snapshot = {path: _Blob(data, git_blob_sha1(data)) for path, data in files.items()}
        repo.branches["main"] = self._add_commit(repo, [], snapshot, "initial commit", "")
        self._repos[(repo_type, repo_id)] = repo
        return repo

    def _add_commit(self, repo: _Repo, parents: list[str], files: dict[str, _Blob], title: str, description: str) -> str:
        self._commit_counter += 1
        moment = _now()
        tree = _tree_oid(files, "")
        raw = (
            f"tree {tree}\n"
            + "".join(f"parent {p}\n" for p in parents)
            + f"author {USER} <{USER}@loopback> {time.time_ns()} {self._commit_counter}\n\n{title}\n\n{description}"
        ).encode()
        sha = hashlib.sha1(b"commit %d\0" % len(raw) + raw).hexdigest()
        repo.commits[sha] = _Commit(sha, list(parents), files, title, description, moment, USER)
        return sha

    # ----------------------------------------------------------------- request handling

    def _dispatch(self, method: str, raw_path: str, headers, body: bytes) -> _Response:
        path, _, query = raw_path.partition("?")
        request = _Request(method, raw_path, path, parse_qs(query, keep_blank_values=True), headers, body, None)
        try:
            request.role = self._role(headers)
            with self._lock:
                return self._route(request)
        except _Failure as failure:
            response = self._error_response(failure)
        except Exception:  # a bug in this server: say so loudly
            trace = traceback.format_exc()
            self.server_errors.append(trace)
            response = self._error_response(_Failure(500, "hub_server bug: " + trace.strip().splitlines()[-1]))
        return response

    def _role(self, headers) -> str | None:
        auth = headers.get("Authorization")
        if not auth:
            return None
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token == self.WRITE_TOKEN:
            return "write"
        if scheme.lower() == "bearer" and token == self.READ_TOKEN:
            return "read"
        raise _Failure(401, "Invalid credentials in Authorization header")

    @staticmethod
    def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> _Response:
        body = json.dumps(data, default=str).encode()
        return _Response(status, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}, body)

    @staticmethod
    def _error_response(failure: _Failure) -> _Response:
        message = " ".join(failure.message.split())
        headers = {"X-Error-Message": message.encode("latin-1", "replace").decode("latin-1"), **failure.headers}
        if failure.code:
            headers["X-Error-Code"] = failure.code
        return HubServer._json({"error": failure.message, **failure.extra}, failure.status, headers)

    def _route(self, req: _Request) -> _Response:
        segments = req.path.split("/")[1:]
        if segments and segments[-1] == "" and len(segments) > 1:
            segments = segments[:-1]
        method = req.method
        if segments[:1] == ["api"]:
            rest = segments[1:]
            if rest == ["whoami-v2"] and method == "GET":
                return self._whoami(req)
            if rest == ["repos", "create"] and method == "POST":
                return self._create_repo(req)
            if rest == ["repos", "delete"] and method == "DELETE":
                return self._delete_repo(req)
            if rest == ["repos", "move"] and method == "POST":
                return self._move_repo(req)
            if rest == ["validate-yaml"] and method == "POST":
                return self._validate_yaml(req)
            if len(rest) >= 3 and rest[0] in REPO_TYPES:
                response = self._route_repo_api(req, REPO_TYPES[rest[0]], f"{unquote(rest[1])}/{unquote(rest[2])}", rest[3:])
                if response is not None:
                    return response
        else:
            repo_type = "model"
            rest = segments
            if rest and rest[0] in REPO_TYPES and rest[0] != "models" and len(rest) >= 4 and rest[3] == "resolve":
                repo_type, rest = REPO_TYPES[rest[0]], rest[1:]
            if len(rest) >= 4 and rest[2] == "resolve" and method in ("GET", "HEAD"):
                revision, file_segments = _take_revision(rest[3:])
                return self._resolve(req, repo_type, f"{unquote(rest[0])}/{unquote(rest[1])}", revision, _join(file_segments))
        self.unhandled.append(f"{method} {req.raw_path}")
        raise _Failure(404, f"hub_server: no endpoint for {method} {req.raw_path} (not implemented by tests/hub_server.py)")

    def _route_repo_api(self, req: _Request, repo_type: str, repo_id: str, rest: list[str]) -> _Response | None:
        method = req.method
        action = rest[0] if rest else None
        args = rest[1:]
        if action is None and method == "GET":
            return self._info(req, repo_type, repo_id, "main")
        if action == "revision" and args and method == "GET":
            return self._info(req, repo_type, repo_id, _join(args))
        if action == "tree" and args and method == "GET":
            revision, path_segments = _take_revision(args)
            return self._tree(req, repo_type, repo_id, revision, _join(path_segments).strip("/"))
        if action == "paths-info" and args and method == "POST":
            return self._paths_info(req, repo_type, repo_id, _join(args))
        if action == "refs" and not args and method == "GET":
            return self._refs(req, repo_type, repo_id)
        if action == "commits" and args and method == "GET":
            return self._commits(req, repo_type, repo_id, _join(args))
        if action == "preupload" and args and method == "POST":
            return self._preupload(req, repo_type, repo_id, _join(args))
        if action == "commit" and args and method == "POST":
            return self._commit(req, repo_type, repo_id, _join(args))
        if action == "branch" and args and method in ("POST", "DELETE"):
            return self._branch(req, repo_type, repo_id, _join(args))
        if action == "tag" and args and method in ("POST", "DELETE"):
            return self._tag(req, repo_type, repo_id, _join(args))
        if action == "settings" and not args and method == "PUT":
            return self._settings(req, repo_type, repo_id)
        if action == "discussions":
            if not args and method == "GET":
                return self._list_discussions(req, repo_type, repo_id)
            if not args and method == "POST":
                return self._create_discussion(req, repo_type, repo_id)
            if len(args) == 1 and args[0].isdigit() and method == "GET":
                return self._discussion_details(req, repo_type, repo_id, int(args[0]))
        return None

    # ----------------------------------------------------------------- access control

    def _can_see(self, req: _Request, repo: _Repo) -> bool:
        return not repo.private or (req.role is not None and repo.namespace in (USER, ORG))

    def _not_found(self, req: _Request) -> _Failure:
        # The Hub answers 401 to anonymous requests and 404 to authenticated ones, both with RepoNotFound.
        return _Failure(401 if req.role is None else 404, "Repository not found", "RepoNotFound")

    def _readable(self, req: _Request, repo_type: str, repo_id: str) -> _Repo:
        repo = self._repos.get((repo_type, repo_id))
        if repo is None or not self._can_see(req, repo):
            raise self._not_found(req)
        return repo

    def _writable(self, req: _Request, repo_type: str, repo_id: str, *, pull_request: bool = False) -> _Repo:
        """The repo, if this request may write to it (`pull_request`: opening/pushing to a PR, which read tokens may)."""
        repo = self._readable(req, repo_type, repo_id)
        if req.role is None:
            raise _Failure(401, f"You must be authenticated to write to {repo_id}")
        if pull_request:
            return repo
        if repo.namespace not in (USER, ORG):
            raise _Failure(403, f"You don't have the rights to write to {repo_id}")
        if req.role != "write":
            raise _Failure(403, f"You don't have the rights to write to {repo_id}; your token has read access only")
        return repo

    def _resolve_or_404(self, repo: _Repo, revision: str) -> str:
        sha = repo.resolve(revision)
        if sha is None:
            raise _Failure(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return sha

    # ----------------------------------------------------------------- endpoints: account and repos

    def _whoami(self, req: _Request) -> _Response:
        if req.role is None:
            raise _Failure(401, "Invalid credentials in Authorization header")
        return self._json(
            {
                "type": "user",
                "id": "0" * 24,
                "name": USER,
                "fullname": "Test User",
                "email": f"{USER}@loopback.invalid",
                "emailVerified": True,
                "canPay": False,
                "isPro": False,
                "periodEnd": None,
                "avatarUrl": "",
                "orgs": [
                    {
                        "type": "org",
                        "id": "1" * 24,
                        "name": ORG,
                        "fullname": "Test Org",
                        "roleInOrg": "write",
                        "isEnterprise": False,
                        "avatarUrl": "",
                    }
                ],
                "auth": {
                    "type": "access_token",
                    "accessToken": {"displayName": f"loopback-{req.role}", "role": req.role, "createdAt": "2024-01-01T00:00:00.000Z"},
                },
            }
        )

    def _create_repo(self, req: _Request) -> _Response:
        data = req.json()
        name = data.get("name")
        namespace = data.get("organization") or USER
        repo_type = data.get("type") or "model"
        if repo_type not in URL_PREFIX:
            raise _Failure(400, f"Invalid repo type {repo_type!r}")
        if not isinstance(name, str) or not _NAME_RE.match(name) or "--" in name or ".." in name:
            raise _Failure(400, f"Invalid repo name {name!r}: use letters, digits, '-', '_' and '.' (max 96)")
        repo_id = f"{namespace}/{name}"
        if req.role is None:
            raise _Failure(401, "You must be authenticated to create a repo")
        if namespace not in (USER, ORG):
            raise _Failure(403, f'You don\'t have the rights to create a {repo_type} under the namespace "{namespace}"')
        if req.role != "write":
            raise _Failure(
                403,
                f'You don\'t have the rights to create a {repo_type} under the namespace "{namespace}"; your token has read access only',
            )
        url = f"{self.url}/{URL_PREFIX[repo_type]}{repo_id}"
        if (repo_type, repo_id) in self._repos:
            # The Hub's 409 carries the url too: create_repo(exist_ok=True) reads it from this body.
            raise _Failure(409, f"You already created this {repo_type} repo", extra={"url": url})
        visibility = data.get("visibility")
        private = bool(data.get("private")) if visibility is None else visibility in ("private", "protected")
        repo = self._new_repo(repo_type, repo_id, private, self.INITIAL_FILES)
        repo.sdk = data.get("sdk")
        return self._json({"url": url, "name": repo_id, "id": repo.uid})

    def _delete_repo(self, req: _Request) -> _Response:
        data = req.json()
        repo_type = data.get("type") or "model"
        repo_id = f"{data.get('organization') or USER}/{data.get('name')}"
        self._writable(req, repo_type, repo_id)
        del self._repos[(repo_type, repo_id)]
        return self._json({})

    def _move_repo(self, req: _Request) -> _Response:
        data = req.json()
        repo_type = data.get("type") or "model"
        source, target = data.get("fromRepo"), data.get("toRepo")
        repo = self._writable(req, repo_type, source)
        if not isinstance(target, str) or not _REPO_ID_RE.match(target):
            raise _Failure(400, f"Invalid target repo id {target!r}")
        if target.split("/")[0] not in (USER, ORG):
            raise _Failure(403, f"You don't have the rights to move a repo to {target}")
        if (repo_type, target) in self._repos:
            raise _Failure(409, f"{target} already exists")
        del self._repos[(repo_type, source)]
        repo.id = target
        self._repos[(repo_type, target)] = repo
        return self._json({})

    def _settings(self, req: _Request, repo_type: str, repo_id: str) -> _Response:
        repo = self._writable(req, repo_type, repo_id)
        data = req.json()
        if "private" in data:
            repo.private = bool(data["private"])
        if "visibility" in data:
            repo.private = data["visibility"] in ("private", "protected")
        if "gated" in data:
            repo.gated = data["gated"]
        return self._json({})

    def _validate_yaml(self, req: _Request) -> _Response:
        data = req.json()
        content = data.get("content")
        if not isinstance(content, str):
            raise _Failure(400, '"content" must be a string')
        _, errors, warnings = parse_readme_metadata(content)
        if "text/plain" in (req.headers.get("Accept") or ""):
            text = "\n".join(errors or warnings).encode()
            return _Response(400 if errors else 200, {"Content-Type": "text/plain; charset=utf-8"}, text)
        payload = {"errors": [{"message": e} for e in errors], "warnings": [{"message": w} for w in warnings]}
        return self._json(payload, 400 if errors else 200)

    # ----------------------------------------------------------------- endpoints: reading

    def _card(self, commit: _Commit) -> dict | None:
        readme = commit.files.get("README.md")
        if readme is None:
            return None
        try:
            data, errors, _ = parse_readme_metadata(readme.data.decode("utf-8"))
        except UnicodeDecodeError:
            return None
        return data if isinstance(data, dict) else None

    def _info(self, req: _Request, repo_type: str, repo_id: str, revision: str) -> _Response:
        repo = self._readable(req, repo_type, repo_id)
        sha = self._resolve_or_404(repo, revision)
        commit = repo.commits[sha]
        card = self._card(commit)
        with_blobs = req.flag("blobs")
        siblings = []
        for path, blob in sorted(commit.files.items()):
            sibling: dict[str, Any] = {"rfilename": path}
            if with_blobs:
                sibling.update({"size": len(blob.data), "blobId": blob.oid})
            siblings.append(sibling)
        info: dict[str, Any] = {
            "_id": repo.uid,
            "id": repo.id,
            "author": repo.namespace,
            "sha": sha,
            "lastModified": _iso(commit.date),
            "createdAt": _iso(repo.created),
            "private": repo.private,
            "gated": repo.gated,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": self._tags(card or {}),
            "siblings": siblings,
            "usedStorage": sum(len(b.data) for b in commit.files.values()),
        }
        if card is not None:
            info["cardData"] = card
        if repo_type == "model":
            info["modelId"] = repo.id
            info["spaces"] = []
            if card and isinstance(card.get("library_name"), str):
                info["library_name"] = card["library_name"]
            if card and isinstance(card.get("pipeline_tag"), str):
                info["pipeline_tag"] = card["pipeline_tag"]
        if repo_type == "space":
            info["sdk"] = (card or {}).get("sdk") or repo.sdk
        return self._json(info)

    @staticmethod
    def _tags(card: dict) -> list[str]:
        tags: list[str] = []

        def add(value: Any, prefix: str = "") -> None:
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str) and prefix + item not in tags:
                    tags.append(prefix + item)

        add(card.get("library_name"))
        add(card.get("tags", []))
        add(card.get("pipeline_tag"))
        add(card.get("language", []))
        add(card.get("datasets", []), "dataset:")
        add(card.get("base_model", []), "base_model:")
        add(card.get("license"), "license:")
        tags.append("region:us")
        return tags

    def _last_commits(self, repo: _Repo, sha: str, paths: list[str]) -> dict[str, _Commit]:
        """For each path (file or folder), the newest commit of the history that changed it."""

        def state(commit: _Commit, path: str) -> Any:
            if path in commit.files:
                return commit.files[path].oid
            prefix = path + "/"
            return tuple(sorted((p, b.oid) for p, b in commit.files.items() if p.startswith(prefix)))

        history = repo.history(sha)
        out: dict[str, _Commit] = {}
        for path in paths:
            chosen = history[-1]
            for commit, parent in zip(history, history[1:]):
                if state(commit, path) != state(parent, path):
                    chosen = commit
                    break
            out[path] = chosen
        return out

    def _entries(self, repo: _Repo, sha: str, paths: list[tuple[str, str]], expand: bool) -> list[dict]:
        """Tree entries for (kind, path) pairs, kind "file" or "directory"."""
        commit = repo.commits[sha]
        last = self._last_commits(repo, sha, [p for _, p in paths]) if expand else {}
        out = []
        for kind, path in paths:
            if kind == "file":
                blob = commit.files[path]
                entry: dict[str, Any] = {"type": "file", "oid": blob.oid, "size": len(blob.data), "path": path}
            else:
                entry = {"type": "directory", "oid": _tree_oid(commit.files, path), "size": 0, "path": path}
            if expand:
                c = last[path]
                entry["lastCommit"] = {"id": c.sha, "title": c.title, "date": _iso(c.date)}
            out.append(entry)
        return out

    @staticmethod
    def _directories(files: dict[str, _Blob]) -> set[str]:
        dirs = set()
        for path in files:
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        return dirs

    def _tree(self, req: _Request, repo_type: str, repo_id: str, revision: str, path: str) -> _Response:
        repo = self._readable(req, repo_type, repo_id)
        sha = self._resolve_or_404(repo, revision)
        files = repo.commits[sha].files
        dirs = self._directories(files)
        if path and path not in dirs:
            raise _Failure(404, f"Entry not found: {path} is not a directory at {revision}", "EntryNotFound", {"X-Repo-Commit": sha})
        prefix = path + "/" if path else ""
        recursive = req.flag("recursive")
        wanted: list[tuple[str, str]] = []
        for d in sorted(dirs):
            if d.startswith(prefix) and (recursive or "/" not in d[len(prefix) :]):
                wanted.append(("directory", d))
        for f in sorted(files):
            if f.startswith(prefix) and (recursive or "/" not in f[len(prefix) :]):
                wanted.append(("file", f))
        return self._json(self._entries(repo, sha, wanted, req.flag("expand")))

    def _paths_info(self, req: _Request, repo_type: str, repo_id: str, revision: str) -> _Response:
        repo = self._readable(req, repo_type, repo_id)
        sha = self._resolve_or_404(repo, revision)
        content_type = (req.headers.get("Content-Type") or "").lower()
        if "json" in content_type:
            data = req.json()
            paths = data.get("paths") or []
            expand = bool(data.get("expand"))
        else:
            form = parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True)
            paths = form.get("paths", [])
            expand = (form.get("expand") or ["false"])[-1].lower() in ("1", "true")
        if isinstance(paths, str):
            paths = [paths]
        files = repo.commits[sha].files
        dirs = self._directories(files)
        wanted = []
        for p in paths:
            p = str(p).strip("/")
            if p in files:
                wanted.append(("file", p))
            elif p in dirs:
                wanted.append(("directory", p))
        return self._json(self._entries(repo, sha, wanted, expand))

    def _refs(self, req: _Request, repo_type: str, repo_id: str) -> _Response:
        repo = self._readable(req, repo_type, repo_id)
        data: dict[str, Any] = {
            "branches": [{"name": n, "ref": f"refs/heads/{n}", "targetCommit": s} for n, s in sorted(repo.branches.items())],
            "tags": [{"name": n, "ref": f"refs/tags/{n}", "targetCommit": s} for n, s in sorted(repo.tags.items())],
            "converts": [],
        }
        if req.flag("include_prs"):
            data["pullRequests"] = [{"name": f"refs/pr/{n}", "ref": f"refs/pr/{n}", "targetCommit": s} for n, s in sorted(repo.prs.items())]
        return self._json(data)

    def _commits(self, req: _Request, repo_type: str, repo_id: str, revision: str) -> _Response:
        repo = self._readable(req, repo_type, repo_id)
        sha = self._resolve_or_404(repo, revision)
        return self._json(
            [
                {
                    "id": c.sha,
                    "title": c.title,
                    "message": c.message,
                    "authors": [{"user": c.author, "avatar": ""}],
                    "date": _iso(c.date),
                }
                for c in repo.history(sha)
            ]
        )

    def _resolve(self, req: _Request, repo_type: str, repo_id: str, revision: str, path: str) -> _Response:
        repo = self._readable(req, repo_type, repo_id)
        sha = self._resolve_or_404(repo, revision)
        blob = repo.commits[sha].files.get(path)
        if blob is None:
            raise _Failure(404, "Entry not found", "EntryNotFound", {"X-Repo-Commit": sha})
        size = len(blob.data)
        headers = {
            "X-Repo-Commit": sha,
            "ETag": f'"{blob.oid}"',
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        start, end = 0, size - 1
        status = 200
        match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", req.headers.get("Range") or "")
        if match and (match.group(1) or match.group(2)):
            first, last = match.group(1), match.group(2)
            if first:
                start = int(first)
                end = min(int(last), size - 1) if last else size - 1
            else:
                start = max(size - int(last), 0)
            if start >= size or start > end:
                headers["Content-Range"] = f"bytes */{size}"
                return _Response(416, headers, b"", send_body=False)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        return _Response(status, headers, blob.data[start : end + 1])

    # ----------------------------------------------------------------- endpoints: writing

    def _preupload(self, req: _Request, repo_type: str, repo_id: str, revision: str) -> _Response:
        create_pr = req.flag("create_pr")
        repo = self._writable(req, repo_type, repo_id, pull_request=create_pr or bool(_PR_REF.match(revision)))
        sha = self._resolve_or_404(repo, revision)
        data = req.json()
        entries = data.get("files")
        if not isinstance(entries, list):
            raise _Failure(400, '"files" must be an array')
        files = repo.commits[sha].files
        gitignore = data.get("gitIgnore")
        if gitignore is None and ".gitignore" in files:
            gitignore = files[".gitignore"].data.decode("utf-8", "replace")
        patterns = gitignore.splitlines() if isinstance(gitignore, str) else []
        out = []
        for entry in entries:
            path = entry.get("path") if isinstance(entry, dict) else None
            if not isinstance(path, str):
                raise _Failure(400, "each file needs a path")
            existing = files.get(path)
            out.append(
                {
                    "path": path,
                    "uploadMode": "regular",
                    "shouldIgnore": _gitignore_matches(patterns, path),
                    "oid": existing.oid if existing is not None else None,
                }
            )
        return self._json({"files": out, "commitOid": sha})

    def _commit(self, req: _Request, repo_type: str, repo_id: str, revision: str) -> _Response:
        create_pr = req.flag("create_pr")
        pr_match = _PR_REF.match(revision)
        repo = self._writable(req, repo_type, repo_id, pull_request=create_pr or bool(pr_match))
        if pr_match:
            if int(pr_match.group(1)) not in repo.prs:
                raise _Failure(404, f"Invalid rev id: {revision}", "RevisionNotFound")
            if create_pr:
                raise _Failure(400, "Cannot create a pull request from a pull request ref")
        elif revision.removeprefix("refs/heads/") not in repo.branches:
            raise _Failure(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        branch = None if pr_match else revision.removeprefix("refs/heads/")
        head = repo.prs[int(pr_match.group(1))] if pr_match else repo.branches[branch]

        lines = [line for line in req.body.splitlines() if line.strip()]
        try:
            items = [json.loads(line) for line in lines]
        except ValueError:
            raise _Failure(400, "Invalid NDJSON commit payload") from None
        if not items or items[0].get("key") != "header":
            raise _Failure(400, 'The commit payload must start with a {"key": "header"} line')
        header = items[0].get("value") or {}
        summary = str(header.get("summary") or "").strip()
        if not summary:
            raise _Failure(400, "The commit summary must not be empty")
        description = str(header.get("description") or "")
        parent = header.get("parentCommit")
        base = head
        if parent is not None:
            found = repo.resolve(str(parent)) if _HEXPREFIX.match(str(parent)) else None
            if create_pr:
                if found is None:
                    raise _Failure(404, f"Invalid parent commit: {parent}", "RevisionNotFound")
                base = found
            elif found != head:
                raise _Failure(412, "A commit has happened since. Please refresh and try again.")

        snapshot = dict(repo.commits[base].files)
        for item in items[1:]:
            key, value = item.get("key"), item.get("value") or {}
            path = value.get("path")
            if key == "file":
                _check_repo_path(path)
                encoding = (value.get("encoding") or "utf-8").lower()
                content = value.get("content") or ""
                try:
                    data = base64.b64decode(content, validate=True) if encoding == "base64" else content.encode()
                except ValueError:
                    raise _Failure(400, f"{path}: content is not valid base64") from None
                if path not in snapshot:
                    parents = ["/".join(path.split("/")[:i]) for i in range(1, path.count("/") + 1)]
                    if any(p in snapshot for p in parents) or any(p.startswith(path + "/") for p in snapshot):
                        raise _Failure(400, f"{path}: conflicts with a file or folder of the same name")
                snapshot[path] = _Blob(data, git_blob_sha1(data))
            elif key == "lfsFile":
                raise _Failure(
                    400,
                    f"{path}: LFS files are not supported by the loopback hub (its preupload always answers uploadMode=regular)",
                )
            elif key == "deletedFile":
                if path not in snapshot:
                    raise _Failure(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
                del snapshot[path]
            elif key == "deletedFolder":
                prefix = str(path).rstrip("/") + "/"
                doomed = [p for p in snapshot if p.startswith(prefix)]
                if not doomed:
                    raise _Failure(404, f"A folder with this name doesn't exist: {path}", "EntryNotFound")
                for p in doomed:
                    del snapshot[p]
            else:
                raise _Failure(400, f"Unknown commit operation key {key!r}")

        readme = snapshot.get("README.md")
        if readme is not None and readme is not repo.commits[base].files.get("README.md"):
            try:
                errors = parse_readme_metadata(readme.data.decode("utf-8"))[1]
            except UnicodeDecodeError:
                errors = ["README.md is not valid UTF-8"]
            if errors:
                raise _Failure(400, "Invalid metadata in README.md.\n" + "\n".join(f"- {e}" for e in errors))

        sha = self._add_commit(repo, [base], snapshot, summary, description)
        prefix = f"{self.url}/{URL_PREFIX[repo_type]}{repo.id}"
        answer: dict[str, Any] = {"success": True, "commitOid": sha, "commitUrl": f"{prefix}/commit/{sha}"}
        if create_pr:
            num = repo.next_discussion_num()
            repo.discussions[num] = _Discussion(num, summary, description, True, "open", f"refs/heads/{branch}", USER, _now())
            repo.prs[num] = sha
            answer["pullRequestUrl"] = f"{prefix}/discussions/{num}"
        elif pr_match:
            repo.prs[int(pr_match.group(1))] = sha
        else:
            repo.branches[branch] = sha
        return self._json(answer)

    def _branch(self, req: _Request, repo_type: str, repo_id: str, branch: str) -> _Response:
        repo = self._writable(req, repo_type, repo_id)
        if req.method == "DELETE":
            if branch == "main":
                raise _Failure(403, "Cannot delete the default branch main")
            if branch not in repo.branches:
                raise _Failure(404, f"Invalid rev id: {branch}", "RevisionNotFound")
            del repo.branches[branch]
            return self._json({})
        if not branch or branch.startswith("refs/") or re.search(r"[\s~^:?*\[\\]|\.\.|//|@\{", branch):
            raise _Failure(400, f"Invalid branch name {branch!r}")
        data = req.json()
        if branch in repo.branches:
            raise _Failure(409, "Reference already exists")
        if data.get("emptyBranch"):
            sha = self._add_commit(repo, [], {}, "initial commit", "")
        else:
            sha = self._resolve_or_404(repo, str(data.get("startingPoint") or "main"))
        repo.branches[branch] = sha
        return self._json({})

    def _tag(self, req: _Request, repo_type: str, repo_id: str, name: str) -> _Response:
        repo = self._writable(req, repo_type, repo_id)
        if req.method == "DELETE":
            if name not in repo.tags:
                raise _Failure(404, f"Invalid rev id: {name}", "RevisionNotFound")
            del repo.tags[name]
            return self._json({})
        sha = self._resolve_or_404(repo, name)  # POST tag/{revision} with {"tag": ...}
        tag = req.json().get("tag")
        if not isinstance(tag, str) or not tag or re.search(r"[\s~^:?*\[\\]|\.\.", tag):
            raise _Failure(400, f"Invalid tag name {tag!r}")
        if tag in repo.tags:
            raise _Failure(409, "Tag already exists")
        repo.tags[tag] = sha
        return self._json({})

    # ----------------------------------------------------------------- endpoints: discussions / pull requests

    def _discussion_json(self, repo: _Repo, d: _Discussion) -> dict:
        return {
            "num": d.num,
            "title": d.title,
            "status": d.status,
            "isPullRequest": d.is_pull_request,
            "createdAt": _iso(d.created),
            "author": {"name": d.author, "type": "user"},
            "repo": {"name": repo.id, "type": repo.type},
            "pinned": False,
            "numComments": 1,
            "topReactions": [],
        }

    def _list_discussions(self, req: _Request, repo_type: str, repo_id: str) -> _Response:
        repo = self._readable(req, repo_type, repo_id)
        items = [self._discussion_json(repo, d) for d in sorted(repo.discussions.values(), key=lambda d: -d.num)]
        kind = (req.query.get("type") or ["all"])[-1]
        if kind == "pull_request":
            items = [i for i in items if i["isPullRequest"]]
        elif kind == "discussion":
            items = [i for i in items if not i["isPullRequest"]]
        return self._json({"discussions": items, "count": len(items), "start": 0, "numClosedDiscussions": 0})

    def _create_discussion(self, req: _Request, repo_type: str, repo_id: str) -> _Response:
        repo = self._writable(req, repo_type, repo_id, pull_request=True)
        data = req.json()
        title = str(data.get("title") or "").strip()
        if not 3 <= len(title) <= 200:
            raise _Failure(400, "The title must be between 3 and 200 characters long")
        pull_request = bool(data.get("pullRequest"))
        num = repo.next_discussion_num()
        status = "draft" if pull_request else "open"
        repo.discussions[num] = _Discussion(
            num, title, str(data.get("description") or ""), pull_request, status, "refs/heads/main" if pull_request else None, USER, _now()
        )
        if pull_request:
            repo.prs[num] = repo.branches["main"]
        prefix = f"{self.url}/{URL_PREFIX[repo_type]}{repo.id}"
        return self._json({"num": num, "url": f"{prefix}/discussions/{num}", "pullRequest": pull_request})

    def _discussion_details(self, req: _Request, repo_type: str, repo_id: str, num: int) -> _Response:
        repo = self._readable(req, repo_type, repo_id)
        d = repo.discussions.get(num)
        if d is None:
            raise _Failure(404, f"Discussion {num} not found")
        details = self._discussion_json(repo, d)
        details["events"] = [
            {
                "id": f"{num:024x}",
                "type": "comment",
                "createdAt": _iso(d.created),
                "author": {"name": d.author, "type": "user"},
                "data": {"edited": False, "hidden": False, "latest": {"raw": d.description, "html": d.description}},
            }
        ]
        if d.is_pull_request:
            details["changes"] = {"base": d.base}
            details["filesWithConflicts"] = []
            details["diff"] = ""
        return self._json(details)
