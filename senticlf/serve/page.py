"""``GET /``: one small page where a person pastes a review and sees why it got its label.

Self-contained (inline CSS and script, no font, no image, no URL but the server's own
``explain``), so it works offline and behind any proxy; its Content-Security-Policy allows
requests to this server only. It calls ``POST /explain`` and draws the answer with the CSS and
the shading rule of ``senticlf explain --format html`` (runtime/explain_html.py).

The page itself holds no data, so it is served without the API key; with ``--api-key`` a
person types the key into the page's key field and the page sends it as ``Authorization:
Bearer KEY`` on each request (it is kept in the page only, never stored). A link may carry
the review and the key in its fragment, ``/#text=...&key=...``: a fragment never leaves the
browser, so neither reaches a server log.
"""

from __future__ import annotations

from senticlf.runtime import explain_html

CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; form-action 'none'; base-uri 'none'"
)

_EXTRA_CSS = """
form{display:grid;gap:.5rem}
textarea{width:100%;min-height:9rem;font:inherit;padding:.5rem;box-sizing:border-box}
.row{display:flex;gap:.75rem;align-items:center;flex-wrap:wrap}
input{font:inherit;padding:.3rem .5rem}
button{font:inherit;padding:.4rem 1rem;border-radius:6px;border:1px solid #1f883d;background:#1f883d;color:#fff;cursor:pointer}
#status{color:#57606a;min-height:1.5rem}
#status.error{color:#cf222e}
table{border-collapse:collapse}
td{padding:.1rem .75rem .1rem 0}
.bar{display:inline-block;height:.6rem;background:#8c959f;border-radius:3px;vertical-align:middle}
"""

_BODY = """
<header><h1>Why this label</h1>
<p class="meta">Paste a review: the model's label, its probabilities, and the sentences and
words that moved it (each dropped in turn and the review scored again).</p>
<p class="legend">__LEGEND__</p></header>
<form id="form">
<textarea id="text" aria-label="Review" placeholder="A moving, beautifully shot film. The ending drags, though."></textarea>
<div class="row"><button type="submit">Explain</button>
<label>API key <input id="key" type="password" autocomplete="off" placeholder="only if the server needs one"></label></div>
</form>
<p id="status" role="status"></p>
<section id="result" class="review" hidden>
<h2>Label <span id="label" class="label"></span> <span id="score" class="score"></span></h2>
<table id="probabilities"></table>
<p class="meta" id="calls"></p>
<div id="highlight"></div>
<p class="meta" id="quiet" hidden>__QUIET_NOTE__</p>
<h3>Most decisive sentences</h3><ol id="top" class="top"></ol>
</section>
<script>
"use strict";
const FULL = __SHADE_FULL__, MAX = __SHADE_MAX__, TOP = __TOP__, QUIET = __QUIET__;
const BREAK = /<br\\s*\\/?>|\\r?\\n/i;
const $ = (id) => document.getElementById(id);

function status(message, error) {
  $("status").textContent = message;
  $("status").className = error ? "error" : "";
}
function shade(c) {
  return [c > 0 ? "sup" : "opp", Math.round(MAX * Math.min(1, Math.sqrt(Math.abs(c) / FULL)) * 1000) / 1000];
}
function signed(c) { return (c >= 0 ? "+" : "") + c.toFixed(3); }
function plain(parent, text) {
  text.split(BREAK).forEach((part, i) => {
    if (i) parent.append(document.createElement("br"));
    parent.append(part);
  });
}
function shaded(tag, kind, c, what) {
  const el = document.createElement(tag);
  const [cls, alpha] = shade(c);
  el.className = kind + " " + cls;
  el.style.setProperty("--a", alpha);
  el.title = what + " " + signed(c);
  return el;
}
// Offsets count Unicode code points (Python's str indices), not JavaScript's UTF-16 units.
function highlighted(text, e) {
  const chars = Array.from(text);
  const cut = (a, b) => chars.slice(a, b).join("");
  const out = document.createElement("p");
  out.className = "text";
  let position = 0;
  e.sentences.forEach((s, i) => {
    plain(out, cut(position, s.start));
    const sentence = shaded("span", "sent", s.contribution, "sentence");
    let cursor = s.start;
    e.words.filter((w) => w.sentence === i).forEach((w) => {
      plain(sentence, cut(cursor, w.start));
      const mark = shaded("mark", "w", w.contribution, "word");
      plain(mark, cut(w.start, w.end));
      sentence.append(mark);
      cursor = w.end;
    });
    plain(sentence, cut(cursor, s.end));
    out.append(sentence);
    position = s.end;
  });
  plain(out, cut(position, chars.length));
  return out;
}
function show(text, e) {
  $("label").textContent = e.label;
  $("score").textContent = e.score.toFixed(3);
  $("probabilities").replaceChildren(...Object.entries(e.probabilities).map(([label, p]) => {
    const row = document.createElement("tr");
    const name = document.createElement("td"), value = document.createElement("td");
    const bar = document.createElement("span");
    name.textContent = label;
    bar.className = "bar";
    bar.style.width = (p * 12).toFixed(2) + "rem";
    value.append(bar, " " + p.toFixed(3));
    row.append(name, value);
    return row;
  }));
  $("calls").textContent = e.model_calls + " model calls";
  $("highlight").replaceChildren(highlighted(text, e));
  const spans = e.sentences.concat(e.words).map((s) => Math.abs(s.contribution));
  $("quiet").hidden = Math.max(0, ...spans) >= QUIET;
  const top = e.sentences.filter((s) => s.contribution > 0)
    .sort((a, b) => b.contribution - a.contribution).slice(0, TOP);
  $("top").replaceChildren(...top.map((s) => {
    const item = document.createElement("li"), value = document.createElement("span");
    value.className = "c " + shade(s.contribution)[0];
    value.textContent = signed(s.contribution);
    item.append(value);
    plain(item, s.text);
    return item;
  }));
  $("result").hidden = false;
}
async function explain() {
  const text = $("text").value;
  if (!text.trim()) { status("Paste a review first.", true); return; }
  const headers = {"content-type": "application/json"};
  const key = $("key").value.trim();
  if (key) headers.authorization = "Bearer " + key;
  status("Explaining…");
  try {
    const response = await fetch("explain", {method: "POST", headers, body: JSON.stringify({inputs: text})});
    const body = await response.json();
    if (!response.ok) { status(body.error || ("HTTP " + response.status), true); return; }
    show(text, body[0]);
    status("");
    document.body.dataset.state = "done";
  } catch (error) {
    status("The server could not be reached: " + error, true);
  }
}
$("form").addEventListener("submit", (event) => { event.preventDefault(); explain(); });
const given = new URLSearchParams(location.hash.slice(1));
if (given.has("key")) $("key").value = given.get("key");
if (given.has("text")) { $("text").value = given.get("text"); explain(); }
</script>
"""


def _page() -> str:
    body = (
        _BODY.replace("__LEGEND__", explain_html.legend())
        .replace("__SHADE_FULL__", repr(explain_html.SHADE_FULL))
        .replace("__SHADE_MAX__", repr(explain_html.SHADE_MAX))
        .replace("__TOP__", str(explain_html.TOP_SENTENCES))
        .replace("__QUIET__", repr(explain_html.QUIET))
        .replace("__QUIET_NOTE__", explain_html.quiet_note())
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Why this label · senticlf</title>"
        f"<style>{explain_html.CSS}{_EXTRA_CSS}</style></head><body>{body}</body></html>\n"
    )


PAGE = _page()
