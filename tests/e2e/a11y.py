"""An axe-style accessibility check of a rendered page: structure from the DOM, contrast live."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

FORM_CONTROLS = {"input", "select", "textarea"}
UNLABELLED_INPUTS = {"hidden", "submit", "button", "reset", "image"}
LANDMARKS = {"main", "header", "footer", "nav"}


@dataclass
class _Table:
    caption: bool = False
    headers: int = 0
    headers_without_scope: int = 0


@dataclass
class _Link:
    href: str
    text: str = ""
    label: str = ""


@dataclass
class DomFacts:
    """What the checks need to know about a page."""

    html_lang: str | None = None
    headings: list[int] = field(default_factory=list)
    controls: list[dict[str, str]] = field(default_factory=list)
    label_for: set[str] = field(default_factory=set)
    images_without_alt: int = 0
    tables: list[_Table] = field(default_factory=list)
    links: list[_Link] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    landmarks: list[str] = field(default_factory=list)
    labelled_controls: int = 0


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.facts = DomFacts()
        self._open_labels = 0
        self._link: _Link | None = None
        self._table: _Table | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        facts = self.facts
        if "id" in attributes:
            facts.ids.append(attributes["id"])
        if tag == "html":
            facts.html_lang = attributes.get("lang")
        elif len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
            facts.headings.append(int(tag[1]))
        elif tag in LANDMARKS:
            facts.landmarks.append(tag)
        elif tag == "label":
            self._open_labels += 1
            if attributes.get("for"):
                facts.label_for.add(attributes["for"])
        elif tag in FORM_CONTROLS:
            if attributes.get("type", "text") not in UNLABELLED_INPUTS:
                facts.controls.append({**attributes, "_in_label": str(self._open_labels > 0)})
        elif tag == "img" and "alt" not in attributes:
            facts.images_without_alt += 1
        elif tag == "table":
            self._table = _Table()
            facts.tables.append(self._table)
        elif tag == "caption" and self._table is not None:
            self._table.caption = True
        elif tag == "th" and self._table is not None:
            self._table.headers += 1
            self._table.headers_without_scope += "scope" not in attributes
        elif tag == "a" and "href" in attributes:
            self._link = _Link(attributes["href"], label=attributes.get("aria-label", ""))
            facts.links.append(self._link)

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._open_labels -= 1
        elif tag == "a":
            self._link = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._link is not None:
            self._link.text += data


def _control_labelled(control: dict[str, str], label_for: set[str]) -> bool:
    return (
        control.get("id", "") in label_for
        or control["_in_label"] == "True"
        or bool(control.get("aria-label", "").strip())
        or bool(control.get("aria-labelledby", "").strip())
    )


def structural_violations(html: str) -> list[str]:
    """Violations of the rules axe checks most often: lang, headings, labels, alt, tables."""
    collector = _Collector()
    collector.feed(html)
    facts = collector.facts
    problems: list[str] = []
    if not (facts.html_lang or "").strip():
        problems.append("html has no lang attribute")
    if facts.headings.count(1) != 1:
        problems.append(f"expected exactly one h1, found {facts.headings.count(1)}")
    if facts.headings and facts.headings[0] != 1:
        problems.append("the first heading is not the h1")
    for previous, current in zip(facts.headings, facts.headings[1:], strict=False):
        if current > previous + 1:
            problems.append(f"heading level skipped: h{previous} followed by h{current}")
    for control in facts.controls:
        if not _control_labelled(control, facts.label_for):
            problems.append(f"form control without a label: {control.get('name', '?')}")
    if facts.images_without_alt:
        problems.append(f"{facts.images_without_alt} img without alt")
    for index, table in enumerate(facts.tables):
        if not table.caption:
            problems.append(f"table {index} has no caption")
        if not table.headers or table.headers_without_scope:
            problems.append(f"table {index} lacks th cells with scope")
    problems += _link_and_landmark_violations(facts)
    return problems


def _link_and_landmark_violations(facts: DomFacts) -> list[str]:
    problems = []
    if facts.landmarks.count("main") != 1:
        problems.append("expected exactly one main landmark")
    duplicates = {i for i in facts.ids if facts.ids.count(i) > 1}
    if duplicates:
        problems.append(f"duplicate ids: {sorted(duplicates)}")
    if not facts.links or not facts.links[0].href.startswith("#"):
        problems.append("the first link is not a skip link")
    elif facts.links[0].href[1:] not in facts.ids:
        problems.append("the skip link points nowhere")
    for link in facts.links:
        if not (link.text.strip() or link.label.strip()):
            problems.append(f"link without text: {link.href}")
    return problems


# Text contrast as WCAG 2.1 computes it (1.4.3 AA: 4.5:1, 3:1 for large text), measured on the
# rendered page: every element with its own visible text against its nearest opaque background.
CONTRAST_SCRIPT = """
() => {
  const rgb = (value) => (value.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const lin = (c) => {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const colour = rgb(getComputedStyle(node).backgroundColor);
      if (colour.length === 3 || colour[3] === 1) return colour.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const failures = [];
  for (const el of document.body.querySelectorAll('*')) {
    const ownText = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const style = getComputedStyle(el);
    if (!ownText || style.visibility === 'hidden' || el.getClientRects().length === 0) continue;
    const rect = el.getBoundingClientRect();
    if (rect.bottom < 0 || rect.right < 0) continue;
    const fg = luminance(rgb(style.color)), bg = luminance(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight, 10) >= 700;
    const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < needed) failures.push(`${el.tagName}: ${ratio.toFixed(2)} < ${needed}`);
  }
  return failures;
}
"""


def accessibility_violations(page: Any) -> list[str]:
    """Structural violations of the rendered DOM plus text-contrast failures."""
    contrast: list[str] = page.evaluate(CONTRAST_SCRIPT)
    return structural_violations(page.content()) + [f"contrast {c}" for c in contrast]
