"""Self-tests of the loopback Hub (tests/hub_server.py), driven by the unmodified huggingface_hub client only."""

import threading
import time
from pathlib import Path

import httpx2
import pytest
from hub_server import HubServer, git_blob_sha1
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    BadRequestError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import get_session, hf_raise_for_status

README = """---
license: apache-2.0
library_name: stylegan-hub
pipeline_tag: image-to-image
tags:
- style-transfer
- gan
base_model: org/base
base_model_relation: finetune
datasets:
- org/paintings
---

# A style
"""

WEIGHTS = bytes(range(256)) * 40 + b"tail"  # 10 KiB, no two halves alike


def make_folder(root: Path, weights: bytes = WEIGHTS, readme: str = README) -> dict[str, bytes]:
    files = {
        "README.md": readme.encode(),
        "model.safetensors": weights,
        "config.json": b'{"channels": 4}',
        "discriminator/config.json": b'{"domains": 5}',
        "discriminator/model.safetensors": weights[::-1],
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


def read_tree(directory: str | Path) -> dict[str, bytes]:
    directory = Path(directory)
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


@pytest.fixture
def api(hub) -> HfApi:
    return HfApi()


@pytest.fixture
def pushed(hub, api, tmp_path) -> dict[str, bytes]:
    """tester/style with the standard folder on main; returns the uploaded files."""
    api.create_repo("tester/style")
    folder = tmp_path / "upload"
    folder.mkdir()
    files = make_folder(folder)
    api.upload_folder(folder_path=folder, repo_id="tester/style", commit_message="Add style")
    return files


# ----------------------------------------------------------------------------------------------- repos and uploads


def test_whoami_and_create_repo(hub, api):
    me = api.whoami()
    assert me["name"] == "tester"
    assert [o["name"] for o in me["orgs"]] == ["org"]
    assert me["auth"]["accessToken"]["role"] == "write"
    assert api.whoami(token=hub.READ_TOKEN)["auth"]["accessToken"]["role"] == "read"

    url = api.create_repo("org/made")
    assert url.repo_id == "org/made" and url == f"{hub.url}/org/made"
    with pytest.raises(HfHubHTTPError) as conflict:
        api.create_repo("org/made")
    assert conflict.value.response.status_code == 409
    assert api.create_repo("org/made", exist_ok=True).repo_id == "org/made"

    api.create_repo("tester/secret", private=True)
    assert hub.is_private("tester/secret") and not hub.is_private("org/made")
    assert api.repo_info("tester/secret").private is True
    # A new repo holds the Hub's initial commit with its .gitattributes.
    assert list(hub.repo_files("org/made")) == [".gitattributes"]
    assert [c["title"] for c in hub.commits("org/made")] == ["initial commit"]

    api.delete_repo("org/made")
    assert not hub.repo_exists("org/made")
    with pytest.raises(RepositoryNotFoundError):
        api.delete_repo("org/made")
    api.delete_repo("org/made", missing_ok=True)


def test_upload_folder_then_snapshot_download_round_trip(hub, api, pushed):
    assert hub.repo_files("tester/style") == {".gitattributes": hub.INITIAL_FILES[".gitattributes"], **pushed}
    commits = hub.commits("tester/style")
    assert [c["title"] for c in commits] == ["Add style", "initial commit"]
    assert hub.refs("tester/style") == {"main": commits[0]["id"]}

    local = snapshot_download("tester/style")
    assert Path(local).name == commits[0]["id"]
    downloaded = read_tree(local)
    assert downloaded.pop(".gitattributes")
    assert downloaded == pushed

    # The preupload answer carries each file's blob id, so an identical upload commits nothing.
    before = len(hub.requests)
    info = api.upload_folder(folder_path=Path(local), repo_id="tester/style", ignore_patterns=".gitattributes")
    assert info.oid == commits[0]["id"]
    assert len(hub.commits("tester/style")) == 2
    assert not [r for r in hub.requests[before:] if "/commit/" in r["path"]]

    # upload_file / delete_file through create_commit.
    api.upload_file(path_or_fileobj=b"new", path_in_repo="extra/notes.txt", repo_id="tester/style")
    api.delete_file("config.json", repo_id="tester/style")
    files = hub.repo_files("tester/style")
    assert files["extra/notes.txt"] == b"new" and "config.json" not in files
    api.delete_folder("extra", repo_id="tester/style")
    assert not any(p.startswith("extra/") for p in hub.repo_files("tester/style"))
    with pytest.raises(RemoteEntryNotFoundError):
        api.delete_file("no/such/file.txt", repo_id="tester/style")


def test_listing_endpoints(hub, api, pushed):
    sha = hub.refs("tester/style")["main"]
    info = api.repo_info("tester/style", revision=sha, files_metadata=True)
    assert info.sha == sha and info.id == "tester/style"
    assert info.card_data.license == "apache-2.0" and info.card_data.base_model == "org/base"
    assert info.pipeline_tag == "image-to-image" and info.library_name == "stylegan-hub"
    assert {"style-transfer", "license:apache-2.0", "base_model:org/base"} <= set(info.tags)
    sizes = {s.rfilename: (s.size, s.blob_id) for s in info.siblings}
    assert sizes["model.safetensors"] == (len(WEIGHTS), git_blob_sha1(WEIGHTS))

    top = {(e.path, type(e).__name__) for e in api.list_repo_tree("tester/style")}
    assert ("discriminator", "RepoFolder") in top and ("discriminator/config.json", "RepoFile") not in top
    everything = {e.path for e in api.list_repo_tree("tester/style", recursive=True)}
    assert {"discriminator", "discriminator/config.json", "README.md"} <= everything
    inside = [e.path for e in api.list_repo_tree("tester/style", path_in_repo="discriminator", expand=True)]
    assert inside == ["discriminator/config.json", "discriminator/model.safetensors"]
    assert sorted(api.list_repo_files("tester/style")) == sorted(hub.repo_files("tester/style"))

    paths = api.get_paths_info("tester/style", ["model.safetensors", "discriminator", "missing.bin"], expand=True)
    assert [p.path for p in paths] == ["model.safetensors", "discriminator"]
    assert paths[0].blob_id == git_blob_sha1(WEIGHTS) and paths[0].last_commit.title == "Add style"

    commits = api.list_repo_commits("tester/style")
    assert [c.title for c in commits] == ["Add style", "initial commit"] and commits[0].commit_id == sha
    assert api.file_exists("tester/style", "config.json") and not api.file_exists("tester/style", "nope.json")
    assert api.repo_exists("tester/style") and not api.repo_exists("tester/nope")
    assert api.revision_exists("tester/style", sha[:7])


def test_branch_upload_leaves_main_unchanged(hub, api, pushed):
    main_before = hub.refs("tester/style")["main"]
    api.create_branch("tester/style", branch="dev")
    api.create_branch("tester/style", branch="dev", exist_ok=True)
    with pytest.raises(HfHubHTTPError) as exists:
        api.create_branch("tester/style", branch="dev")
    assert exists.value.response.status_code == 409

    api.upload_file(path_or_fileobj=b"dev weights", path_in_repo="model.safetensors", repo_id="tester/style", revision="dev")
    assert hub.refs("tester/style")["main"] == main_before
    assert hub.repo_files("tester/style")["model.safetensors"] == WEIGHTS
    assert hub.repo_files("tester/style", revision="dev")["model.safetensors"] == b"dev weights"
    assert Path(hf_hub_download("tester/style", "model.safetensors", revision="dev")).read_bytes() == b"dev weights"
    assert Path(hf_hub_download("tester/style", "model.safetensors")).read_bytes() == WEIGHTS

    with pytest.raises(RevisionNotFoundError):
        api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="tester/style", revision="no-such-branch")
    with pytest.raises(HfHubHTTPError) as stale:
        api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="tester/style", parent_commit="0" * 40)
    assert stale.value.response.status_code == 412

    api.create_tag("tester/style", tag="v1", revision="dev")
    assert hub.refs("tester/style")["refs/tags/v1"] == hub.refs("tester/style")["dev"]
    api.delete_branch("tester/style", branch="dev")
    assert "dev" not in hub.refs("tester/style")


def test_create_pr_keeps_main_and_shows_in_refs(hub, api, pushed, tmp_path):
    main_before = hub.refs("tester/style")["main"]
    info = api.upload_file(
        path_or_fileobj=b"pr weights",
        path_in_repo="model.safetensors",
        repo_id="tester/style",
        commit_message="Propose new weights",
        create_pr=True,
    )
    assert info.pr_url == f"{hub.url}/tester/style/discussions/1" and info.pr_revision == "refs/pr/1"
    assert hub.refs("tester/style")["main"] == main_before
    assert hub.repo_files("tester/style", revision="refs/pr/1")["model.safetensors"] == b"pr weights"

    refs = api.list_repo_refs("tester/style", include_pull_requests=True)
    assert [(r.ref, r.target_commit) for r in refs.pull_requests] == [("refs/pr/1", info.oid)]
    assert [b.name for b in refs.branches] == ["main"]
    path = hf_hub_download("tester/style", "model.safetensors", revision="refs/pr/1")
    assert Path(path).read_bytes() == b"pr weights"

    # upload_folder(create_pr=True) opens the PR through the discussions API, then commits to its ref.
    copy = tmp_path / "pr-folder"
    copy.mkdir()
    make_folder(copy, weights=b"folder pr")
    info2 = api.upload_folder(folder_path=copy, repo_id="tester/style", create_pr=True, commit_message="Folder PR")
    assert info2.pr_revision == "refs/pr/2"
    assert hub.repo_files("tester/style", revision="refs/pr/2")["model.safetensors"] == b"folder pr"
    assert hub.refs("tester/style")["main"] == main_before
    assert [d["num"] for d in hub.discussions("tester/style")] == [1, 2]


def test_dataset_and_space_repos(hub, api):
    api.create_repo("tester/data", repo_type="dataset", private=True)
    api.upload_file(path_or_fileobj=b"a,b\n", path_in_repo="data/train.csv", repo_id="tester/data", repo_type="dataset")
    assert hub.repo_files("tester/data", repo_type="dataset")["data/train.csv"] == b"a,b\n"
    assert not hub.repo_exists("tester/data")  # a model of that name is another repo
    path = hf_hub_download("tester/data", "data/train.csv", repo_type="dataset")
    assert Path(path).read_bytes() == b"a,b\n"
    assert any(r["path"].startswith("/datasets/tester/data/resolve/") for r in hub.requests)
    info = api.dataset_info("tester/data")
    assert info.private and "data/train.csv" in [s.rfilename for s in info.siblings]
    api.update_repo_settings("tester/data", repo_type="dataset", private=False)
    assert not hub.is_private("tester/data", repo_type="dataset")
    api.move_repo("tester/data", "org/data", repo_type="dataset")
    assert hub.repo_exists("org/data", repo_type="dataset")
    api.create_repo("tester/demo", repo_type="space", space_sdk="gradio")
    assert api.space_info("tester/demo").sdk == "gradio"


# ----------------------------------------------------------------------------------------------- metadata validation


def test_invalid_metadata_is_rejected(hub, api, tmp_path):
    api.create_repo("tester/cards")
    bad_license = README.replace("apache-2.0", "my-own-license")
    with pytest.raises(ValueError, match="Invalid metadata in README.md"):
        api.upload_file(path_or_fileobj=bad_license.encode(), path_in_repo="README.md", repo_id="tester/cards")
    folder = tmp_path / "bad"
    folder.mkdir()
    make_folder(folder, readme="---\nlicense: mit\ntags: [unclosed\n---\n")
    with pytest.raises(ValueError, match="Invalid YAML"):
        api.upload_folder(folder_path=folder, repo_id="tester/cards")
    assert list(hub.repo_files("tester/cards")) == [".gitattributes"]

    # The commit endpoint checks too (a client that skips validate-yaml still cannot push bad metadata).
    response = get_session().post(
        f"{hub.url}/api/models/tester/cards/commit/main",
        headers={"Authorization": f"Bearer {hub.WRITE_TOKEN}"},
        content=b'{"key":"header","value":{"summary":"s"}}\n'
        b'{"key":"file","value":{"path":"README.md","content":"LS0tCmxpY2Vuc2U6IHgKLS0tCg==","encoding":"base64"}}\n',
    )
    assert response.status_code == 400 and "license" in response.json()["error"]

    assert hub.validation_errors(README) == []
    assert hub.validation_errors("# no metadata at all\n") == []
    cases = {
        "license: nope": "license",
        "pipeline_tag: image-painting": "pipeline_tag",
        "tags: style": "tags",
        "library_name: [a]": "library_name",
        "base_model: not-a-repo-id": "base_model",
        "base_model: [org/a, 3]": "base_model",
        "base_model: org/a\nbase_model_relation: remix": "base_model_relation",
        "datasets: org/data": "datasets",
        "metrics: [1, 2]": "metrics",
        "language: [en, 2]": "language",
    }
    for yaml_text, key in cases.items():
        errors = hub.validation_errors(f"---\n{yaml_text}\n---\n# card\n")
        assert len(errors) == 1 and key in errors[0], (yaml_text, errors)
    assert hub.validation_errors("---\n- a list\n---\n")
    assert hub.validation_errors("---\nlicense: mit\n")  # never closed
    assert hub.validation_errors("---\nlicense: mit\nunknown_key: {any: thing}\nlanguage: en\n---\n") == []
    with pytest.warns(UserWarning, match="missing yaml metadata"):
        api.upload_file(path_or_fileobj=b"# plain\n", path_in_repo="README.md", repo_id="tester/cards")


# ----------------------------------------------------------------------------------------------- auth


def test_private_repo_needs_a_token(hub, api, tmp_path, monkeypatch):
    api.create_repo("tester/private", private=True)
    api.upload_file(path_or_fileobj=b"secret", path_in_repo="model.safetensors", repo_id="tester/private")
    anonymous_from = len(hub.requests)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("tester/private", "model.safetensors", token=False)
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(RepositoryNotFoundError):
        snapshot_download("tester/private")
    with pytest.raises(RepositoryNotFoundError):
        HfApi().repo_info("tester/private")
    anonymous = hub.requests[anonymous_from:]
    assert anonymous and not [r for r in anonymous if "Authorization" in r["headers"]]
    assert {r["status"] for r in anonymous} == {401}
    path = hf_hub_download("tester/private", "model.safetensors", token=hub.READ_TOKEN)
    assert Path(path).read_bytes() == b"secret"
    last = hub.requests[-1]
    assert last["headers"]["Authorization"] == f"Bearer {hub.READ_TOKEN}"  # headers ignore case


def test_token_rights(hub, api):
    api.create_repo("org/shared")
    with pytest.raises(HfHubHTTPError) as read_only:
        api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="org/shared", token=hub.READ_TOKEN)
    assert read_only.value.response.status_code == 403 and "read access" in str(read_only.value)
    with pytest.raises(HfHubHTTPError) as read_create:
        api.create_repo("org/other", token=hub.READ_TOKEN)
    assert read_create.value.response.status_code == 403
    assert api.create_repo("org/shared", token=hub.READ_TOKEN, exist_ok=True).repo_id == "org/shared"
    with pytest.raises(HfHubHTTPError) as elsewhere:
        api.create_repo("someone-else/repo")
    assert elsewhere.value.response.status_code == 403
    hub.create_repo("someone-else/public", files={"a.txt": "A"})  # seeded directly: visible, not writable
    assert Path(hf_hub_download("someone-else/public", "a.txt")).read_text() == "A"
    with pytest.raises(HfHubHTTPError) as not_mine:
        api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="someone-else/public")
    assert not_mine.value.response.status_code == 403

    with pytest.raises(HfHubHTTPError) as bogus:
        api.repo_info("org/shared", token="hf_not_a_real_token")
    assert bogus.value.response.status_code == 401 and not isinstance(bogus.value, RepositoryNotFoundError)
    assert "Invalid credentials" in str(bogus.value)
    with pytest.raises(HfHubHTTPError, match="Invalid user token"):
        api.whoami(token="hf_not_a_real_token")


def test_missing_repo_revision_and_file(hub, api, pushed):
    with pytest.raises(RepositoryNotFoundError):
        api.repo_info("tester/nope")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("tester/nope", "config.json")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download("tester/style", "config.json", revision="v9")
    with pytest.raises(RevisionNotFoundError):
        snapshot_download("tester/style", revision="v9")
    with pytest.raises(RevisionNotFoundError):
        api.repo_info("tester/style", revision="f" * 40)
    with pytest.raises(RemoteEntryNotFoundError):
        hf_hub_download("tester/style", "nope.json")
    sha = hub.refs("tester/style")["main"]
    assert Path(hf_hub_download("tester/style", "config.json", revision=sha)).read_bytes() == pushed["config.json"]

    response = get_session().get(f"{hub.url}/api/models/tester/style/no-such-endpoint")
    assert response.status_code == 404 and "GET /api/models/tester/style/no-such-endpoint" in response.json()["error"]
    assert hub.unhandled == ["GET /api/models/tester/style/no-such-endpoint"]
    lfs = get_session().post(
        f"{hub.url}/api/models/tester/style/commit/main",
        headers={"Authorization": f"Bearer {hub.WRITE_TOKEN}"},
        content=b'{"key":"header","value":{"summary":"s"}}\n{"key":"lfsFile","value":{"path":"a.bin","oid":"00"}}\n',
    )
    with pytest.raises(BadRequestError, match="LFS"):
        hf_raise_for_status(lfs)
    assert not hub.server_errors


def test_range_requests(hub, pushed):
    url = f"{hub.url}/tester/style/resolve/main/model.safetensors"
    full = get_session().get(url)
    assert full.content == WEIGHTS and full.headers["ETag"] == f'"{git_blob_sha1(WEIGHTS)}"'
    assert full.headers["X-Repo-Commit"] == hub.refs("tester/style")["main"]
    part = get_session().get(url, headers={"Range": "bytes=100-"})
    assert part.status_code == 206 and part.content == WEIGHTS[100:]
    assert part.headers["Content-Range"] == f"bytes 100-{len(WEIGHTS) - 1}/{len(WEIGHTS)}"
    assert get_session().get(url, headers={"Range": "bytes=-4"}).content == b"tail"
    assert get_session().get(url, headers={"Range": f"bytes={len(WEIGHTS)}-"}).status_code == 416


# ----------------------------------------------------------------------------------------------- checksums and faults


def test_verify_repo_checksums_on_clean_download(hub, api, pushed):
    local = snapshot_download("tester/style")
    report = api.verify_repo_checksums("tester/style", revision=Path(local).name)
    assert report.mismatches == [] and report.missing_paths == [] and report.checked_count == len(pushed) + 1


def test_corrupt_fault_is_only_seen_by_checksums(hub, api, pushed):
    fault = hub.inject("corrupt", path=r"/resolve/[^/]+/model\.safetensors$")
    local = Path(snapshot_download("tester/style"))
    assert fault.hits == 1
    assert (local / "model.safetensors").stat().st_size == len(WEIGHTS)
    report = api.verify_repo_checksums("tester/style", revision=local.name)
    assert [m["path"] for m in report.mismatches] == ["model.safetensors"]
    assert report.mismatches[0]["expected"] == git_blob_sha1(WEIGHTS)


def test_truncate_fault_is_resumed_with_a_range_request(hub, pushed, monkeypatch):
    from huggingface_hub import constants

    # The client only keeps whole DOWNLOAD_CHUNK_SIZE chunks (10 MiB) of a cut-off body: shrink them so that this
    # small file is resumed from where it stopped, as a large one would be.
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 1024)
    hub.inject("truncate", path=r"/resolve/main/model\.safetensors$")
    path = hf_hub_download("tester/style", "model.safetensors")
    assert Path(path).read_bytes() == WEIGHTS
    gets = [r for r in hub.requests if r["method"] == "GET" and r["path"].endswith("/model.safetensors")]
    assert [(r.get("fault"), r["status"]) for r in gets] == [("truncate", 200), (None, 206)]
    kept = len(WEIGHTS) // 2 // 1024 * 1024
    assert gets[1]["headers"]["Range"] == f"bytes={kept}-"


def test_truncate_fault_on_a_small_file_downloads_it_again(hub, pushed):
    # Below one 10 MiB chunk nothing of the cut-off body was kept: the retry asks for the whole file again.
    hub.inject("truncate", path=r"/resolve/main/config\.json$")
    assert Path(hf_hub_download("tester/style", "config.json")).read_bytes() == pushed["config.json"]
    gets = [r for r in hub.requests if r["method"] == "GET" and r["path"].endswith("/config.json")]
    assert [(r.get("fault"), r["status"], "Range" in r["headers"]) for r in gets] == [("truncate", 200, False), (None, 200, False)]


def test_500_fault(hub, api, pushed):
    hub.inject("500", path=r"^/api/models/tester/style", method="GET")
    with pytest.raises(HfHubHTTPError) as failure:
        api.repo_info("tester/style")
    assert failure.value.response.status_code == 500
    assert api.repo_info("tester/style").sha  # only the next request failed

    # snapshot_download treats a 5xx on repo_info as "Hub unreachable": the cache is its fallback.
    hub.inject("500", path=r"^/api/models/tester/style/revision/main")
    with pytest.raises(LocalEntryNotFoundError):
        snapshot_download("tester/style")
    local = snapshot_download("tester/style")
    hub.inject("500", path=r"^/api/models/tester/style/revision/main")
    assert snapshot_download("tester/style") == local


def test_401_and_403_faults(hub, api, pushed):
    hub.inject("401", path="/api/models/tester/style")
    with pytest.raises(HfHubHTTPError) as unauthorized:
        api.repo_info("tester/style")
    assert unauthorized.value.response.status_code == 401
    hub.inject("403", path="/preupload/")
    with pytest.raises(HfHubHTTPError) as forbidden:
        api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="tester/style")
    assert forbidden.value.response.status_code == 403


def test_timeout_fault_on_head_falls_back_to_the_cache(hub, pushed):
    cached = hf_hub_download("tester/style", "config.json")
    # The HEAD times out after HF_HUB_ETAG_TIMEOUT (2 s) and the client returns the cached file.
    hub.inject("timeout", path=r"/resolve/main/config\.json$", method="HEAD", delay=5)
    start = time.monotonic()
    assert hf_hub_download("tester/style", "config.json") == cached
    assert time.monotonic() - start < 15


def test_timeout_fault_on_head_of_an_uncached_file_is_retried(hub, pushed):
    # Nothing cached: after the 2 s timeout the client tries the HEAD once more (with a 60 s timeout), so one
    # fault is survived; persistent ones would take it about a minute of retries to give up.
    hub.inject("timeout", path=r"/resolve/main/README\.md$", method="HEAD", delay=5)
    start = time.monotonic()
    assert Path(hf_hub_download("tester/style", "README.md")).read_bytes() == README.encode()
    assert time.monotonic() - start < 15
    heads = [r for r in hub.requests if r["method"] == "HEAD" and r["path"].endswith("/README.md")]
    assert [r.get("fault") for r in heads] == ["timeout", None]


def test_reset_fault(hub, api, pushed):
    hub.inject("reset", path="^/api/models/tester/style")
    with pytest.raises(httpx2.ReadError):  # "Connection reset by peer": repo_info does not retry
        api.repo_info("tester/style")
    assert api.repo_info("tester/style").sha
    # A reset is not a "connection problem" to hf_hub_download: it surfaces as is, even with the file cached.
    hf_hub_download("tester/style", "config.json")
    hub.inject("reset", path=r"/resolve/main/config\.json$", method="HEAD")
    with pytest.raises(httpx2.ReadError):
        hf_hub_download("tester/style", "config.json")


def test_faults_are_scoped(hub, api, pushed):
    with pytest.raises(ValueError):
        hub.inject("explode")
    forever = hub.inject("500", path="^/api/models/tester/style$", times=None)
    for _ in range(3):
        with pytest.raises(HfHubHTTPError):
            api.repo_info("tester/style")
    assert forever.hits == 3
    hub.clear_faults()
    assert api.repo_info("tester/style").sha
    hub.inject("500", path="")
    hub.reset()
    assert hub.requests == [] and not hub.repo_exists("tester/style")
    api.create_repo("tester/after-reset")  # no fault left over


def test_stop_does_not_wait_for_held_requests():
    server = HubServer().start()
    server.inject("timeout", path="", delay=60)
    outcome = []

    def call():
        try:
            httpx2.get(f"{server.url}/api/whoami-v2", timeout=30)
        except httpx2.HTTPError as error:
            outcome.append(error)

    caller = threading.Thread(target=call)
    caller.start()
    while not server.requests:
        time.sleep(0.01)
    start = time.monotonic()
    server.stop()
    caller.join(5)
    assert time.monotonic() - start < 3 and not caller.is_alive()
    assert outcome and isinstance(outcome[0], httpx2.TransportError)
    server.start()  # the same port again
    try:
        assert httpx2.get(f"{server.url}/api/models/tester/x").status_code == 401
    finally:
        server.stop()
