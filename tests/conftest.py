"""Shared fixtures. The environment is set before anything imports huggingface_hub, which reads it once."""

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="stylegan-hub-test-hf-")
os.environ.setdefault("TQDM_DISABLE", "1")
# Hub tests talk to a loopback server speaking the Hub's protocol (tests/hub_server.py); it binds its port now so
# HF_ENDPOINT can name it before huggingface_hub reads it. Short timeouts keep the network-failure tests quick.
from hub_server import HubServer  # noqa: E402

HUB = HubServer()
os.environ["HF_ENDPOINT"] = HUB.url
os.environ["HF_HUB_ETAG_TIMEOUT"] = "2"
os.environ["HF_HUB_DOWNLOAD_TIMEOUT"] = "2"
os.environ.pop("HF_TOKEN", None)
os.environ.pop("HUGGING_FACE_HUB_TOKEN", None)

import pytest  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "train"))


@pytest.fixture(autouse=True)
def fresh_accelerate_state():
    """Accelerate keeps process-wide state; each test starts from a clean one."""
    yield
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(True)
    GradientState._reset_state()


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    """A tiny base model (generator + discriminator) with random weights, saved like a pretrained one."""
    from stylegan_hub import StyleDiscriminator, StyleGenerator

    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("tiny-base")
    StyleGenerator(base_channels=4, num_res_blocks=1).save_pretrained(directory)
    StyleDiscriminator(channels=[8, 8, 8], num_domains=5).save_pretrained(directory / "discriminator")
    return directory


@pytest.fixture(scope="session")
def tiny_any(tmp_path_factory) -> Path:
    """A tiny zero-shot model (style code, encoder, discriminator) with random weights whose code steers the output."""
    from stylegan_hub import StyleDiscriminator, StyleGenerator

    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("tiny-any")
    model = StyleGenerator(base_channels=4, num_res_blocks=1, style_dim=4, encoder_channels=4)
    torch.nn.init.normal_(model.modulation[-1].weight, std=0.5)
    model.save_pretrained(directory)
    StyleDiscriminator(channels=[8, 8, 8], num_domains=5).save_pretrained(directory / "discriminator")
    return directory


@pytest.fixture
def hub(monkeypatch, tmp_path) -> HubServer:
    """The loopback Hub, emptied for this test, with huggingface_hub online against it and a fresh cache.

    HF_TOKEN is the server's write token (user `tester`, who may also write to the `org` namespace).
    """
    from huggingface_hub import constants

    HUB.start()
    HUB.reset()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_TOKEN", HUB.WRITE_TOKEN)
    yield HUB
    HUB.clear_faults()


@pytest.fixture(scope="session")
def app_module(tmp_path_factory):
    """app.py imported with its data (visitor folders) in a temporary directory."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STYLEGAN_HUB_DATA_DIR", str(tmp_path_factory.mktemp("app-data")))
        patch.syspath_prepend(str(REPO))
        import app

        yield app


@pytest.fixture(scope="session")
def served(app_module) -> str:
    """The app, launched in-process on a free loopback port; its URL."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = app_module.build_app().queue(max_size=8)
    _, url, _ = demo.launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, max_file_size="2mb", show_error=True, css=app_module.CSS
    )
    yield url
    demo.close()
