"""The Gradio app through its public API (gradio_client over loopback), as a programmatic client uses it."""

import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stylegan_hub import StyleGenerator
from stylegan_hub.training.config import TEXTURE_SETTINGS


@pytest.fixture
def client(served):
    from gradio_client import Client

    return Client(served, verbose=False)


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (60, 90, 3), dtype=np.uint8)).save(path)
    return path


def test_stylize_returns_before_after_and_a_lossless_png_equal_to_the_library(client, photo):
    from gradio_client import handle_file

    from stylegan_hub import StyleGenerator

    (before, after), download = client.predict(handle_file(str(photo)), "builtin:oil", 1.0, False, "Preview (512 px)", api_name="/stylize")
    expected = np.asarray(StyleGenerator.from_pretrained("builtin:oil").stylize(photo))
    assert np.array_equal(np.asarray(Image.open(after["path"] if isinstance(after, dict) else after).convert("RGB")), expected)
    assert np.array_equal(np.asarray(Image.open(download).convert("RGB")), expected)
    assert Image.open(before["path"] if isinstance(before, dict) else before).size == (90, 60)
    assert download.endswith(".png")


def test_a_style_picture_is_drawn_by_the_zero_shot_model_and_a_bad_one_is_named(client, app_module, photo, tmp_path, monkeypatch):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from stylegan_hub import StyleGenerator

    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = StyleGenerator(base_channels=4, num_res_blocks=1, style_dim=4, encoder_channels=4)
    torch.nn.init.normal_(model.modulation[-1].weight, std=2.0)
    model.save_pretrained(tmp_path / "any")
    monkeypatch.setattr(app_module, "ZERO_SHOT_MODEL", str(tmp_path / "any"))
    painting = tmp_path / "painting.png"
    Image.new("RGB", (50, 40), (250, 200, 20)).save(painting)
    (_, after), download = client.predict(
        handle_file(str(photo)), "builtin:oil", 1.0, False, "Preview (512 px)", handle_file(str(painting)), api_name="/stylize"
    )
    expected = np.asarray(StyleGenerator.from_pretrained(tmp_path / "any").stylize(photo, style_image=painting))
    assert np.abs(np.asarray(Image.open(download).convert("RGB"), dtype=np.float32) - expected).max() <= 1
    second = tmp_path / "second.png"
    Image.new("RGB", (30, 30), (20, 40, 200)).save(second)
    mixed_files = []
    for weight in (0.0, 1.0):
        _, download = client.predict(
            handle_file(str(photo)), "", 1.0, False, "Preview (512 px)", handle_file(str(painting)), handle_file(str(second)), weight, api_name="/stylize"
        )
        mixed_files.append(np.asarray(Image.open(download).convert("RGB"), dtype=np.float32))
    assert np.abs(mixed_files[0] - expected).max() <= 1  # none of the second style: the first picture's
    only_second = np.asarray(StyleGenerator.from_pretrained(tmp_path / "any").stylize(photo, style_image=second))
    assert np.abs(mixed_files[1] - only_second).max() <= 1
    with pytest.raises(AppError) as refused:
        client.predict(handle_file(str(photo)), "builtin:oil", 1.0, False, "Preview (512 px)", None, handle_file(str(second)), 0.5, api_name="/stylize")
    assert "builtin:oil cannot be mixed" in str(refused.value)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    with pytest.raises(AppError) as refused:
        client.predict(handle_file(str(photo)), "builtin:oil", 1.0, False, "Preview (512 px)", handle_file(str(notes)), api_name="/stylize")
    message = str(refused.value)
    assert message.startswith("notes.txt: ") and "/tmp" not in message


def test_bad_requests_get_clear_messages(client, photo, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(AppError, match="broken.png"):
        client.predict(handle_file(str(broken)), "builtin:oil", 1.0, False, "Full size", api_name="/stylize")
    with pytest.raises(AppError, match="not in the local cache"):
        client.predict(handle_file(str(photo)), "someone/unknown-style", 1.0, False, "Full size", api_name="/stylize")
    with pytest.raises(AppError, match="Upload between 1 and 20"):
        client.predict([], "builtin:base", 20, "x", api_name="/finetune")
    # Visitors may not reach server folders or models outside the offer.
    server_folder = str(tmp_path)
    with pytest.raises(AppError, match="not a style here"):
        client.predict(handle_file(str(photo)), server_folder, 1.0, False, "Full size", api_name="/stylize")
    with pytest.raises(AppError, match="not in the list of choices"):  # the base dropdown's own check
        client.predict([handle_file(str(photo))], server_folder, 20, "x", api_name="/finetune")
    big = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (1200, 1200, 3), dtype=np.uint8)).save(big)
    with pytest.raises(ValueError, match="(?i)size|large|exceed"):
        client.predict(handle_file(str(big)), "builtin:oil", 1.0, False, "Full size", api_name="/stylize")


def style_uploads(tmp_path) -> list:
    from gradio_client import handle_file

    from stylegan_hub.artwork import apply_artwork
    from stylegan_hub.data import sample_photos

    paths = []
    for i, photo in enumerate(sample_photos("train")[:2]):
        photo.thumbnail((160, 160))
        path = tmp_path / f"style-{i}.png"
        apply_artwork("sketch", photo).save(path)
        paths.append(handle_file(str(path)))
    return paths


def test_finetune_streams_progress_and_the_new_style_is_usable(client, photo, tmp_path):
    from gradio_client import handle_file

    job = client.submit(style_uploads(tmp_path), "builtin:base", 20, "pencil", api_name="/finetune")
    updates = list(job)
    assert len(updates) >= 2
    final_progress, final_preview, gallery, chosen = updates[-1]
    assert 'data-state="done"' in final_progress and 'data-step="20"' in final_progress
    assert any('data-state="running"' in update[0] for update in updates[:-1])
    assert Image.open(final_preview if isinstance(final_preview, str) else final_preview["path"]).size == (256, 192)
    assert chosen == "pencil (yours)" and any(item.get("caption") == "pencil (yours)" for item in gallery)
    (_, after), _ = client.predict(handle_file(str(photo)), "pencil (yours)", 1.0, False, "Preview (512 px)", api_name="/stylize")
    assert Image.open(after if isinstance(after, str) else after["path"]).size == (90, 60)


def test_flat_colours_fine_tune_a_style_that_draws_only_a_few_colours(client, photo, tmp_path):
    from gradio_client import handle_file

    *_, (progress, _, _, chosen) = client.submit(style_uploads(tmp_path), "builtin:base", 20, "poster", True, api_name="/finetune")
    assert 'data-state="done"' in progress and chosen == "poster (yours)"
    (before, after), _ = client.predict(handle_file(str(photo)), chosen, 1.0, False, "Preview (512 px)", api_name="/stylize")
    colours = [len(np.unique(np.asarray(Image.open(p if isinstance(p, str) else p["path"]).convert("RGB")).reshape(-1, 3), axis=0)) for p in (before, after)]
    assert colours[1] <= 12 < colours[0]


def test_a_texture_is_learned_from_its_one_picture_which_the_style_keeps(client, app_module, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    rows, cols = np.mgrid[:96, :128]
    bricks = np.where((rows % 16 < 3) | ((cols + 12 * (rows // 16 % 2)) % 24 < 3), 220, 120).astype(np.uint8)
    Image.fromarray(np.stack([bricks, bricks // 2, bricks // 3], -1)).save(tmp_path / "wall.png")
    wall = handle_file(str(tmp_path / "wall.png"))
    *_, (progress, _, _, chosen) = client.submit([wall], "builtin:base", 20, "wall", False, [], True, api_name="/finetune")
    assert 'data-state="done"' in progress and chosen == "wall (yours)"
    (config,) = (app_module.DATA_DIR / "visitors").glob("*/styles/wall/config.json")
    assert json.loads(config.read_text())["texture_side"] == TEXTURE_SETTINGS["texture_side"]
    arguments = json.loads((config.parent / "training_args.json").read_text())["arguments"]
    assert {name: arguments[name] for name in TEXTURE_SETTINGS} == TEXTURE_SETTINGS  # the settings the benchmark scored
    assert StyleGenerator.from_pretrained(config.parent).texture.std() > 0.1  # the visitor's picture is in the model
    with pytest.raises(AppError, match="learns from one picture alone"):
        client.predict([wall, wall], "builtin:base", 20, "walls", False, [], True, api_name="/finetune")


def test_before_after_pairs_fine_tune_the_exact_edit_and_unmatched_names_are_refused(client, app_module, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from stylegan_hub.artwork import apply_artwork
    from stylegan_hub.data import sample_photos

    styled, originals = [], []
    for name, photo in zip(("harbour", "rocket"), sample_photos("train")[:2]):
        photo.thumbnail((160, 160))
        photo.save(tmp_path / f"{name}.jpg", quality=95)
        apply_artwork("grade", photo).save(tmp_path / f"{name}.png")
        originals.append(handle_file(str(tmp_path / f"{name}.jpg")))
        styled.append(handle_file(str(tmp_path / f"{name}.png")))
    *_, (progress, _, _, chosen) = client.submit(styled, "builtin:base", 20, "my-edit", False, originals, api_name="/finetune")
    assert 'data-state="done"' in progress and chosen == "my-edit (yours)"
    (card,) = (app_module.DATA_DIR / "visitors").glob("*/styles/my-edit/README.md")
    assert "from 2 before/after pair(s)" in card.read_text()
    with pytest.raises(AppError) as refused:
        client.predict(styled, "builtin:base", 20, "unmatched", False, originals[:1], api_name="/finetune")
    message = str(refused.value)
    assert "no original for rocket.png" in message and str(app_module.DATA_DIR) not in message
    with pytest.raises(AppError, match="at most 20 originals"):
        client.predict(styled, "builtin:base", 20, "too-many", False, originals * 11, api_name="/finetune")


def test_cancel_stops_training_and_keeps_the_style(client, app_module, tmp_path):
    import json

    job = client.submit(style_uploads(tmp_path), "builtin:base", 2000, "stopped", api_name="/finetune")
    deadline = time.time() + 120
    while time.time() < deadline and not any('data-state="running"' in output[0] for output in job.outputs()):
        time.sleep(0.2)
    job.cancel()
    records = []
    while time.time() < deadline and not records:
        time.sleep(0.5)
        records = list(Path(app_module.DATA_DIR).glob("visitors/*/styles/stopped/training_args.json"))
    record = json.loads(records[0].read_text())
    assert 1 <= record["steps"] < record["planned_steps"] == 2000
    assert list(records[0].parent.glob("checkpoints/checkpoint-*"))


def test_cancel_button_ends_the_stream_with_the_saved_style_in_the_gallery(client, photo, tmp_path):
    from gradio_client import handle_file

    job = client.submit(style_uploads(tmp_path), "builtin:base", 2000, "halfway", api_name="/finetune")
    deadline = time.time() + 120
    while time.time() < deadline and not any('data-state="running"' in output[0] for output in job.outputs()):
        time.sleep(0.2)
    client.predict(api_name="/cancel")  # what the Cancel button does: same visitor, a separate event
    final_progress, _, gallery, chosen = job.result(timeout=120)
    assert 'data-state="cancelled"' in final_progress
    assert chosen == "halfway (yours)" and any(item.get("caption") == "halfway (yours)" for item in gallery)
    (_, after), _ = client.predict(handle_file(str(photo)), "halfway (yours)", 1.0, False, "Preview (512 px)", api_name="/stylize")
    assert Image.open(after if isinstance(after, str) else after["path"]).size == (90, 60)


def test_push_publishes_the_visitors_style_and_forgets_the_token(client, hub, tmp_path, capsys, caplog):
    job = client.submit(style_uploads(tmp_path), "builtin:base", 20, "to-share", api_name="/finetune")
    job.result()
    message, token_field = client.predict("org/shared", hub.WRITE_TOKEN, False, "to-share (yours)", api_name="/push")
    assert token_field == ""  # the token box is emptied after the push
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Paste a Hugging Face token"):  # never the server's own HF_TOKEN
        client.predict("org/server-token", "", False, "to-share (yours)", api_name="/push")
    assert not hub.repo_exists("org/server-token")
    assert f"{hub.url}/org/shared" in message
    assert "model.safetensors" in hub.repo_files("org/shared")

    with pytest.raises(AppError, match="403"):
        client.predict("org/other", hub.READ_TOKEN, False, "to-share (yours)", api_name="/push")
    assert hub.WRITE_TOKEN not in str(capsys.readouterr()) + caplog.text


def test_estimate_updates_once_measured_and_retries_a_failed_measurement(app_module, monkeypatch):
    monkeypatch.setattr(app_module, "_calibration", {})
    monkeypatch.setattr(app_module, "_calibration_thread", None)
    tries = []

    def measure(*args, **kwargs):
        tries.append(args)
        if len(tries) == 1:
            raise RuntimeError("out of memory")
        return 0.5

    monkeypatch.setattr(app_module, "measure_seconds_per_step", measure)
    first = list(app_module.estimate(100))
    assert "measuring" in first[0] and "could not be measured (RuntimeError: out of memory)" in first[-1]
    second = list(app_module.estimate(100))  # measured again, and the same stream shows the result
    assert "measuring" in second[0] and "0.50 s per step, measured" in second[-1] and "1.0 min" in second[-1]
    assert list(app_module.estimate(200)) == ["200 steps ≈ **1.8 min** on this machine (0.50 s per step, measured)"]
    assert len(tries) == 2
    # Before/after pairs: the slider goes to their default, and a paired step costs a third of the measured one.
    assert app_module.steps_for_pairs(["beach.jpg"]) == 600 and app_module.steps_for_pairs(None) == 200
    assert list(app_module.estimate(600, ["beach.jpg"]))[-1].startswith("600 steps ≈ **1.8 min**")
    # A texture's step costs more than the measured one (its input and the random bank's style term).
    assert list(app_module.estimate(200, None, True)) == ["200 steps ≈ **2.2 min** on this machine (0.60 s per step, 1.2 times the step measured, for a texture)"]



def test_an_estimate_overtaken_by_a_newer_one_is_not_shown(app_module, monkeypatch):
    """The page's first estimate waits for the machine's speed; if the visitor changes the steps meanwhile (adding
    originals sets 600), the first must not finish last and put back its stale figure."""
    from types import SimpleNamespace

    monkeypatch.setattr(app_module, "_calibration", {})
    monkeypatch.setattr(app_module, "_calibration_thread", None)
    monkeypatch.setattr(app_module, "measure_seconds_per_step", lambda *args, **kwargs: 0.5)
    visitor = SimpleNamespace(session_hash="visitor")
    first = app_module.estimate(200, None, False, visitor)
    assert "measuring" in next(first)
    newer = list(app_module.estimate(600, ["beach.jpg"], False, visitor))
    assert newer[-1].startswith("600 steps ≈") and list(first) == []
    assert list(app_module.estimate(200, None, False, SimpleNamespace(session_hash="someone else")))[-1].startswith("200 steps ≈")


# ---- What a newcomer tripped over (issue 15) -------------------------------------------------------------------


def image_of(output) -> Image.Image:
    return Image.open(output if isinstance(output, str) else output["path"])


def test_transparent_photos_keep_their_alpha(client, tmp_path):
    from gradio_client import handle_file

    rgba = np.random.default_rng(2).integers(0, 255, (40, 64, 4), dtype=np.uint8)
    rgba[:, :32, 3] = 0  # left half transparent
    path = tmp_path / "cutout.png"
    Image.fromarray(rgba, "RGBA").save(path)
    (_, after), download = client.predict(handle_file(str(path)), "builtin:oil", 1.0, False, "Preview (512 px)", api_name="/stylize")
    for output in (image_of(after), Image.open(download)):
        assert output.mode == "RGBA"
        assert np.array_equal(np.asarray(output)[..., 3], rgba[..., 3])


@pytest.mark.parametrize("name,content", [("notes.txt", b"shopping list: eggs, milk\n"), ("empty.png", b"")])
def test_a_non_image_or_empty_upload_gets_one_line_naming_the_visitors_file(client, tmp_path, name, content):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AppError) as refused:
        client.predict(handle_file(str(path)), "builtin:oil", 1.0, False, "Preview (512 px)", api_name="/stylize")
    message = str(refused.value)
    assert message.startswith(f"{name}: ") and "\n" not in message.strip()
    assert "/tmp" not in message and "Could not preprocess" not in message and "Error" not in message.split(":")[0]


def test_an_oversize_photo_says_what_the_visitor_can_do_and_preview_takes_it(client, app_module, tmp_path, monkeypatch):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    monkeypatch.setattr(app_module, "MAX_PHOTO_PIXELS", 2_000_000)  # the server is in this process
    path = tmp_path / "huge.png"
    Image.new("RGB", (2000, 1200), "gray").save(path)
    with pytest.raises(AppError) as refused:
        client.predict(handle_file(str(path)), "builtin:oil", 1.0, False, "Full size", api_name="/stylize")
    message = str(refused.value)
    assert message.startswith("huge.png: 2.4 megapixels is more than the 2.0 this app takes at full size") and "choose Preview or a smaller photo" in message
    assert "/tmp" not in message and "max_pixels" not in message
    (_, after), download = client.predict(handle_file(str(path)), "builtin:oil", 1.0, False, "Preview (512 px)", api_name="/stylize")
    assert image_of(after).size == (512, 307)
    assert app_module.MAX_PREVIEW_PIXELS == 100_000_000


def test_preview_and_full_size_downloads_have_different_names(client, photo):
    from gradio_client import handle_file

    _, preview = client.predict(handle_file(str(photo)), "builtin:oil", 1.0, False, "Preview (512 px)", api_name="/stylize")
    _, full = client.predict(handle_file(str(photo)), "builtin:oil", 1.0, False, "Full size", api_name="/stylize")
    assert Path(preview).name == "photo-preview.png" and Path(full).name == "photo-full.png"


def test_progress_shows_no_raw_losses_and_says_where_the_style_went(app_module):
    from stylegan_hub.training.job import JobStatus

    losses = {"generator": 4321.5, "discriminator": 0.25}
    running = app_module.progress_html(JobStatus("running", step=5, total=20, losses=losses, eta=30))
    assert "4321" not in running and "0.25" not in running and "Step 5 of 20" in running
    for state in ("done", "cancelled"):
        text = app_module.progress_html(JobStatus(state, step=20, total=20, losses=losses, elapsed=12))
        assert "Stylize tab" in text and "4321" not in text


def test_one_uploaded_style_picture_points_to_zero_shot_and_more_do_not(app_module):
    _, one = app_module.show_uploads(["a.png"])
    _, three = app_module.show_uploads(["a.png", "b.png", "c.png"])
    assert "single picture" in one and "Stylize tab" in one
    assert "single picture" not in three and three.startswith("3 image(s).")


def component(demo, elem_id):
    return next(c for c in demo.config["components"] if c["props"].get("elem_id") == elem_id)


def test_layout_fixes(app_module):
    demo = app_module.build_app()
    ids = {name: component(demo, name)["id"] for name in ("cancel", "progress", "pushed", "styles", "to-push")}
    assert component(demo, "cancel")["props"]["interactive"] is False  # idle: nothing to cancel
    gallery = component(demo, "styles")["props"]
    assert gallery["columns"] == 4 and gallery.get("height") == "auto"  # every style shown, not cut off at a fixed height
    assert ".caption-label" in app_module.CSS and "white-space: normal" in app_module.CSS
    by_name = {d["api_name"]: d for d in demo.config["dependencies"] if d.get("api_name")}
    assert by_name["finetune"]["show_progress_on"] == [ids["progress"]]  # an error marks only the failed output
    assert by_name["push"]["show_progress_on"] == [ids["pushed"]]
    assert ids["to-push"] in by_name["push"]["inputs"]
    named = [d["api_name"] for d in demo.config["dependencies"] if d.get("api_name") and d.get("api_visibility", "public") != "private"]
    assert [name for name in named if name in ("stylize", "finetune", "cancel", "push")] == ["stylize", "finetune", "cancel", "push"]


def test_push_without_a_style_points_to_the_style_to_push_box(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Style to push") as refused:
        client.predict("org/x", "hf_token", False, "", api_name="/push")
    assert "Style box" not in str(refused.value)


class Visitor:
    def __init__(self, session_hash):
        self.session_hash = session_hash


def test_a_visitor_who_leaves_mid_finetune_leaves_nothing_behind(client, app_module, tmp_path):
    job = client.submit(style_uploads(tmp_path), "builtin:base", 2000, "abandoned", api_name="/finetune")
    folder = Path(app_module.DATA_DIR) / "visitors" / client.session_hash
    deadline = time.time() + 120
    while time.time() < deadline and not any('data-state="running"' in output[0] for output in job.outputs()):
        time.sleep(0.2)
    assert folder.is_dir()
    app_module.forget_visitor(Visitor(client.session_hash))  # what gradio calls when the tab is closed
    while time.time() < deadline and not job.done():  # the fine-tune stops (it had 2000 steps to go)
        time.sleep(0.2)
    assert job.done()
    while time.time() < deadline and folder.exists():
        time.sleep(0.2)
    time.sleep(1)
    assert not folder.exists()  # and nothing it wrote while stopping recreated the folder
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="visit has ended"):  # a request still queued when they left
        client.predict(handle_file(str(style_uploads(tmp_path)[0]["path"])), "builtin:oil", 1.0, False, "Preview (512 px)", api_name="/stylize")
    assert not folder.exists()


def test_an_expired_session_forgets_the_visitors_styles(app_module):
    folder = Path(app_module.DATA_DIR) / "visitors" / "gone-visitor"
    (folder / "styles" / "mine").mkdir(parents=True)
    app_module.forget_styles({"mine (yours)": str(folder / "styles" / "mine")})
    assert not folder.exists()
    app_module.forget_styles({"x": "/"})  # only ever a visitor folder


def test_every_cancel_button_is_active_only_while_its_run_is_in_progress(app_module):
    """Fine-tune's Start and the Video tab's Preview and Stylize whole clip: Cancel is disabled when idle, enabled by
    the click, then the run, then disabled again whether the run ended (done or cancelled) or failed."""
    demo = app_module.build_app()
    deps = {d["id"]: d for d in demo.config["dependencies"]}
    by_name = {d["api_name"]: d for d in deps.values() if d.get("api_name")}
    ids = {name: component(demo, name)["id"] for name in ("start", "cancel", "video-preview", "video-go", "video-cancel")}

    def sets_interactive(dep) -> bool:
        return demo.fns[dep["id"]].fn().interactive

    for button, cancel, run in (("start", "cancel", "finetune"), ("video-preview", "video-cancel", "video_preview"), ("video-go", "video-cancel", "stylize_video")):
        assert component(demo, cancel)["props"]["interactive"] is False, cancel  # idle: nothing to cancel
        running = by_name[run]
        enable = deps[running["trigger_after"]]
        assert enable["targets"] == [(ids[button], "click")] and enable["outputs"] == [ids[cancel]], run
        assert sets_interactive(enable) is True and enable["queue"] is False, run  # at once, not after a queue wait
        after = sorted((d["trigger_only_on_failure"], d["outputs"], sets_interactive(d)) for d in deps.values() if d["trigger_after"] == running["id"])
        assert after == [(False, [ids[cancel]], False), (True, [ids[cancel]], False)], run  # ended, failed: disabled
    assert by_name["cancel_video"]["targets"] == [(ids["video-cancel"], "click")]


def test_a_clip_the_app_cannot_take_is_named_on_upload(app_module, tmp_path, monkeypatch):
    import gradio as gr

    from stylegan_hub.video.clips import make_clip

    demo = app_module.build_app()
    clip_id = component(demo, "clip")["id"]
    on_upload = [d for d in demo.config["dependencies"] if (clip_id, "upload") in d["targets"]]
    assert [demo.fns[d["id"]].fn for d in on_upload] == [app_module.check_upload]
    assert on_upload[0]["queue"] is not False and demo.fns[on_upload[0]["id"]].concurrency_limit is None  # not behind a clip

    fake = tmp_path / "notes.mp4"
    fake.write_text("this is a shopping list, not a video\n")
    with pytest.raises(gr.Error) as refused:
        app_module.check_upload(str(fake))
    assert refused.value.message.startswith("notes.mp4: not a readable video"), refused.value.message
    assert "/" not in refused.value.message  # the visitor's file name, never the server's path to it
    long = make_clip("pan", tmp_path / "walk.mp4", size=(32, 32), frames=24, fps=8)  # 3 s
    monkeypatch.setattr(app_module, "VIDEO_MAX_SECONDS", 2)
    with pytest.raises(gr.Error) as refused:
        app_module.check_upload(str(long))
    assert refused.value.message.startswith("walk.mp4: 3 s long; clips here are up to 2 s"), refused.value.message
    monkeypatch.undo()
    assert app_module.check_upload(str(long)) is None  # a clip it takes: no message
    assert app_module.check_upload(None) is None  # the clip was cleared
