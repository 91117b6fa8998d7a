"""End to end in a real browser: Debian's chromium driven by Playwright (never `playwright install`).

A visitor uploads a photo, picks a style and sees the result; fine-tunes a tiny style and finds it in the gallery;
previews and stylizes a tiny clip. Any request to a non-loopback address fails the test. Screenshots of the three tabs
go to build/screenshots/.
"""

import os
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} missing: `apt-get install chromium` (.ci/run does)")


@pytest.fixture
def page(served):
    from playwright.sync_api import sync_playwright

    outside = []

    def loopback_only(route):
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlparse(url).hostname in ("127.0.0.1", "localhost", "::1"):
            return route.continue_()
        outside.append(url)
        return route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 1100})
        context.route("**/*", loopback_only)
        page = context.new_page()
        page.goto(served, wait_until="load")
        page.wait_for_selector("#go")
        yield page
        browser.close()
    assert outside == [], f"the page tried to reach outside hosts: {outside}"


def test_stylize_and_finetune_in_the_browser(page, tmp_path):
    from playwright.sync_api import expect

    from stylegan_hub import builtin_styles
    from stylegan_hub.artwork import apply_artwork
    from stylegan_hub.data import sample_photos

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    photos = sample_photos("heldout")
    photo = tmp_path / "cat.jpg"
    photos[0].save(photo)

    # Stylize: upload, pick the second style in the gallery, run, see the before/after result.
    page.set_input_files("#photo input[type=file]", str(photo))
    thumbnails = page.locator("#styles button.thumbnail-item")
    expect(thumbnails.first).to_be_visible()
    thumbnails.nth(1).click()
    expect(page.locator("#style textarea, #style input").first).to_have_value(builtin_styles()[1])
    page.click("#go")
    expect(page.locator("#result img[src]").first).to_be_visible(timeout=30_000)
    expect(page.locator("#download")).to_be_enabled()
    page.screenshot(path=str(SCREENSHOTS / "stylize.png"), full_page=True)

    # Fine-tune: two style images and their originals (before/after pairs), 20 steps, watch progress, then the style
    # is in the gallery.
    exemplars, originals = [], []
    for i, picture in enumerate(sample_photos("train")[:2]):
        picture.thumbnail((160, 160))
        exemplars.append(tmp_path / f"style-{i}.png")
        originals.append(tmp_path / f"style-{i}.jpg")
        apply_artwork("sketch", picture).save(exemplars[-1])
        picture.save(originals[-1], quality=95)
    page.get_by_role("tab", name="Fine-tune").click()
    page.set_input_files("#style-files input[type=file]", [str(p) for p in exemplars])
    expect(page.locator("#uploads button.thumbnail-item")).to_have_count(2)
    page.fill("#style-name textarea, #style-name input", "pencil")
    steps = page.locator("#steps input[type=number]")
    texture = page.get_by_text("A texture (one picture")
    texture.click()  # a texture's step costs more: the estimate follows the box
    expect(page.locator("#estimate")).to_contain_text("for a texture", timeout=60_000)
    texture.click()
    page.get_by_text("Before/after pairs: learn one exact edit").click()
    page.set_input_files("#original-files input[type=file]", [str(p) for p in originals])
    expect(steps).to_have_value("600")  # pairs train more, cheaper steps
    expect(page.locator("#estimate")).to_contain_text("a third of the unpaired step", timeout=60_000)
    steps.fill("20")
    steps.press("Enter")
    expect(page.locator("#estimate")).to_contain_text("20 steps")
    page.click("#start")
    expect(page.locator('#progress [data-state="running"]')).to_be_visible(timeout=60_000)
    expect(page.locator('#progress [data-state="done"]')).to_be_visible(timeout=120_000)
    expect(page.locator("#preview img[src]").first).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "finetune.png"), full_page=True)

    page.get_by_role("tab", name="Stylize").click()
    expect(page.locator("#styles")).to_contain_text("pencil (yours)")
    expect(page.locator("#style textarea, #style input").first).to_have_value("pencil (yours)")
    after = page.locator("#result img[src]").last  # the slider's result side; a new result gets a new src
    shown = after.get_attribute("src")
    page.click("#go")
    expect(after).not_to_have_attribute("src", shown, timeout=30_000)

    # Any style from a picture: dropped under the style, it replaces it (the zero-shot model draws it).
    shown = after.get_attribute("src")
    painting = tmp_path / "painting.png"
    apply_artwork("sketch", photos[1]).save(painting)
    page.set_input_files("#style-picture input[type=file]", str(painting))
    expect(page.locator("#style-picture img[src]").first).to_be_visible()
    page.click("#go")
    expect(after).not_to_have_attribute("src", shown, timeout=30_000)
    page.screenshot(path=str(SCREENSHOTS / "stylize-picture.png"), full_page=True)


def test_refused_start_marks_no_unrelated_box_cancel_is_idle_and_every_style_is_named(page, tmp_path):
    from playwright.sync_api import expect

    # Stylize tab: every style in the gallery is visible with its whole name (5 styles: the last one was cut off).
    page.set_viewport_size({"width": 1280, "height": 1100})
    captions = page.locator("#styles .caption-label")
    expect(captions.first).to_be_visible()
    for i in range(captions.count()):
        caption = captions.nth(i)
        expect(caption).to_be_in_viewport()
        assert caption.evaluate("e => e.scrollWidth <= e.clientWidth"), caption.inner_text()  # not truncated

    page.get_by_role("tab", name="Fine-tune").click()
    expect(page.locator("#cancel")).to_be_disabled()  # nothing to cancel yet
    page.click("#start")  # no style images: refused
    expect(page.get_by_text("Upload between 1 and 20")).to_be_visible(timeout=15_000)
    page.wait_for_timeout(500)
    for box in ("#preview", "#token", "#pushed", "#style-files"):
        assert page.locator(f"{box} span.error").count() == 0, f"{box} shows an error badge"
    expect(page.locator("#cancel")).to_be_disabled()


def test_video_preview_then_whole_clip_and_a_non_video_is_named(page, tmp_path):
    """The Video tab as a visitor uses it: a 3 s clip (24 frames at 8 fps, 64x48) previews its first 2 s (16 frames),
    then stylizes whole (24 frames), each result playable in the page; a text file named .mp4 is refused as soon as it is
    uploaded, by its own name, never the server's path to it. Cancel is enabled only while a clip is being stylized,
    as in the Fine-tune tab."""
    from playwright.sync_api import expect

    from stylegan_hub.video.clips import make_clip

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    clip = make_clip("pan", tmp_path / "walk.mp4", size=(64, 48), frames=24, fps=8)
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is a shopping list, not a video\n")
    progress, result = page.locator("#video-progress"), page.locator("#video-result video[src]")

    page.get_by_role("tab", name="Video").click()
    cancel = page.locator("#video-cancel")
    expect(cancel).to_be_disabled()  # idle: nothing to cancel

    # The clip: pick a style other than the default, preview the first 2 s, then the whole clip.
    page.set_input_files("#clip input[type=file]", str(clip))
    expect(page.locator("#clip video[src]")).to_have_count(1)
    page.locator("#video-style input").click()
    page.get_by_role("option", name="builtin:oil").click()
    expect(page.locator("#video-style input")).to_have_value("builtin:oil")
    expect(page.get_by_test_id("toast-body")).to_have_count(0)  # a clip the app takes: no message on upload
    watch_cancel_while_running(page)
    page.click("#video-preview")
    expect(progress.locator('[data-state="done"]')).to_have_attribute("data-done", "16", timeout=30_000)
    assert cancel_while_running(page) == {True}  # enabled whenever the progress said "running"
    expect(cancel).to_be_disabled()  # done: disabled again
    expect(result).to_have_count(1)
    expect(result).to_have_attribute("src", re.compile(r"walk-builtin-oil-preview\.mp4$"))
    assert abs(playable_seconds(result) - 2) < 0.2  # the browser decodes it: the first 2 s

    watch_cancel_while_running(page)
    page.click("#video-go")
    expect(result).to_have_attribute("src", re.compile(r"walk-builtin-oil-full\.mp4$"), timeout=30_000)
    expect(progress.locator('[data-state="done"]')).to_have_attribute("data-done", "24")
    assert cancel_while_running(page) == {True}
    expect(cancel).to_be_disabled()
    expect(progress).to_contain_text("Done: 24 frames")
    assert abs(playable_seconds(result) - 3) < 0.2  # the whole 3 s
    page.screenshot(path=str(SCREENSHOTS / "video.png"), full_page=True)

    # A non-video: refused as soon as it is uploaded (no Preview pressed), by the visitor's file name.
    page.locator("#clip .icon-button-wrapper").get_by_role("button", name="Clear").click()
    page.set_input_files("#clip input[type=file]", str(fake))
    toast = page.get_by_test_id("toast-body")
    expect(toast).to_have_count(1, timeout=15_000)
    expect(toast).to_contain_text("notes.mp4: not a readable video")
    assert "/" not in toast.inner_text(), toast.inner_text()  # no server path (the upload cache, the tmp dir)
    expect(cancel).to_be_disabled()
    expect(progress.locator('[data-state="done"]')).to_have_attribute("data-done", "24")  # nothing was started


def watch_cancel_while_running(page) -> None:
    """Record, at every change of the Video tab's progress while it says "running", whether its Cancel is enabled
    (a short run can end before an `expect` polls)."""
    page.evaluate(
        """() => {
            window.cancelWhileRunning = [];
            window.cancelWatch?.disconnect();
            window.cancelWatch = new MutationObserver(() => {
                if (document.querySelector('#video-progress [data-state="running"]'))
                    window.cancelWhileRunning.push(!document.querySelector('#video-cancel').disabled);
            });
            window.cancelWatch.observe(document.querySelector('#video-progress'), {subtree: true, childList: true, attributes: true, characterData: true});
        }"""
    )


def cancel_while_running(page) -> set:
    return set(page.evaluate("window.cancelWhileRunning"))


def playable_seconds(video) -> float:
    """The duration the browser finds once it has loaded the video element's metadata (it can decode the file)."""
    return video.evaluate(
        """v => new Promise((done, fail) => {
            if (v.readyState >= 1) return done(v.duration);
            v.addEventListener("loadedmetadata", () => done(v.duration), {once: true});
            v.addEventListener("error", () => fail(new Error("cannot play " + v.src)), {once: true});
            v.load();
        })"""
    )
