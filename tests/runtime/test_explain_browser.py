"""The `explain --format html` page in headless Chromium: shaded, labelled, and offline."""

from __future__ import annotations

import re
from pathlib import Path

from tests.browser import external, needs_chromium, pixels_show_content, render
from tests.helpers import invoke

REVIEWS = [
    "A wonderful, brilliant film. The music was great!<br /><br />I loved it.",
    "The film was fun.<br /><br />The plot was awful.",
]


@needs_chromium
def test_the_page_renders_offline_with_labels_and_shaded_words(bundle: Path, tmp_path: Path):
    source, page = tmp_path / "reviews.txt", tmp_path / "why.html"
    source.write_text("\n".join(REVIEWS) + "\n", encoding="utf-8")
    result = invoke("explain", source, "--model", bundle, "--format", "html", "--output", page)
    assert result.exit_code == 0, result.output
    shown = render(page.as_uri(), tmp_path / "chromium")
    assert shown.dom.count('<section class="review">') == 2
    assert '<span class="label">positive</span>' in shown.dom
    assert '<span class="label">negative</span>' in shown.dom
    assert re.search(r'<mark class="w sup"[^>]*--a: ?0\.[1-9][^>]*>awful</mark>', shown.dom)
    assert not external(shown.page_requests), shown.page_requests
    pixels = pixels_show_content(shown.screenshot)
    assert pixels["ink"] > 0.01 and pixels["green"] > 0 and pixels["red"] > 0, pixels


@needs_chromium
def test_the_check_sees_a_page_that_calls_out(tmp_path: Path):
    """The net-log check is not vacuous: an image from elsewhere is caught (and, with every
    host but 127.0.0.1 resolving to nothing, never fetched)."""
    page = tmp_path / "leaky.html"
    page.write_text('<!DOCTYPE html><p>hi</p><img src="http://example.invalid/x.png">')
    shown = render(page.as_uri(), tmp_path / "chromium", wait_ms=2000)
    assert external(shown.page_requests) == ["http://example.invalid/x.png"]
