"""GET / in headless Chromium: the page asks /explain (with the key) and draws the answer."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode

from tests.browser import external, needs_chromium, pixels_show_content, render
from tests.serve.conftest import API_KEY, ServerProcess

REVIEW = "The film was fun.<br /><br />The plot was awful."


@needs_chromium
def test_the_page_explains_a_review_from_its_link(keyed_server: ServerProcess, tmp_path: Path):
    link = f"{keyed_server.url}/#" + urlencode({"text": REVIEW, "key": API_KEY})
    shown = render(link, tmp_path / "chromium")
    assert 'data-state="done"' in shown.dom, shown.dom[-3000:]
    assert '<span id="label" class="label">negative</span>' in shown.dom
    assert 'class="sent ' in shown.dom
    assert re.search(r'<mark class="w sup"[^>]*--a: ?0\.[1-9][^>]*>awful</mark>', shown.dom)
    requests = shown.page_requests
    assert f"{keyed_server.url}/explain" in requests and not external(requests), requests
    pixels = pixels_show_content(shown.screenshot)
    assert pixels["ink"] > 0.01 and pixels["green"] > 0, pixels


@needs_chromium
def test_a_wrong_key_is_said_on_the_page(keyed_server: ServerProcess, tmp_path: Path):
    link = f"{keyed_server.url}/#" + urlencode({"text": REVIEW, "key": "wrong"})
    shown = render(link, tmp_path / "chromium")
    assert "wrong API key" in shown.dom and 'data-state="done"' not in shown.dom
