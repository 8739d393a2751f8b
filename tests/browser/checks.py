"""Checks run inside the page: axe-core (WCAG 2.1 AA), reflow, touch-target size, focus."""
from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Also held to: axe's best-practice rules on structure (heading order, landmarks, skip link).
AXE_EXTRA_RULES = {"heading-order", "landmark-one-main", "page-has-heading-one", "region",
                   "landmark-unique", "skip-link", "landmark-no-duplicate-banner",
                   "landmark-no-duplicate-contentinfo", "landmark-no-duplicate-main"}
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": AXE_TAGS + ["best-practice"]},
               "resultTypes": ["violations"]}
MIN_TARGET = 44  # px, links/buttons/fields (WCAG 2.5.5 size; the issue asks for 44 px)

_axe = Axe()


def axe_violations(page) -> list[dict]:
    """axe-core's violations on the page as it is now (axe is injected once per document)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe.axe_script)
    found = page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)["violations"]
    return [v for v in found if set(v["tags"]) & set(AXE_TAGS) or v["id"] in AXE_EXTRA_RULES]


def describe_violations(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"  {v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:6]:
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"      {node['target']}: {summary[:300]}")
    return "\n".join(lines)


_DESCRIBE_JS = """
function describe(el) {
  let s = el.tagName.toLowerCase();
  if (el.id) s += '#' + el.id;
  if (el.classList.length) s += '.' + Array.from(el.classList).join('.');
  const text = (el.innerText || el.value || '').trim().replace(/\\s+/g, ' ').slice(0, 40);
  return text ? s + ' "' + text + '"' : s;
}
"""

REFLOW_JS = "() => {" + _DESCRIBE_JS + """
  const w = window.innerWidth, sw = document.documentElement.scrollWidth;
  const wide = [];
  if (sw > w) {
    for (const el of document.body.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > w + 0.5) wide.push(describe(el) + ' right=' + Math.round(r.right));
      if (wide.length >= 8) break;
    }
  }
  return {scrollWidth: sw, innerWidth: w, wide: wide};
}"""

TARGETS_JS = "(min) => {" + _DESCRIBE_JS + """
  const isBlock = d => !d.startsWith('inline') && d !== 'contents';
  const small = [];
  const sel = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button]';
  for (const el of document.querySelectorAll(sel)) {
    if (el.classList.contains('skip-link')) continue;  // off screen until focused; checked by the keyboard test
    const cs = getComputedStyle(el);
    if (cs.visibility === 'hidden' || cs.display === 'none') continue;
    let r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if ((el.type === 'checkbox' || el.type === 'radio') && el.id) {
      // the label is part of the target: tapping it toggles the box
      const label = document.querySelector('label[for="' + el.id + '"]');
      const row = label && label.parentElement === el.parentElement ? el.parentElement : label;
      if (row) {
        const l = row.getBoundingClientRect();
        r = {width: Math.max(r.right, l.right) - Math.min(r.left, l.left),
             height: Math.max(r.bottom, l.bottom) - Math.min(r.top, l.top)};
      }
    }
    if (r.width >= min - 0.5 && r.height >= min - 0.5) continue;
    if (el.tagName === 'A' && cs.display === 'inline') {
      // WCAG's inline exception: a link inside a sentence is sized by the line of text
      let block = el.parentElement;
      while (block && !isBlock(getComputedStyle(block).display)) block = block.parentElement;
      const own = el.textContent.trim().length;
      if (block && block.textContent.replace(/\\s+/g, ' ').trim().length > own + 1) continue;
    }
    small.push(describe(el) + ' ' + Math.round(r.width) + 'x' + Math.round(r.height));
  }
  return small;
}"""

FOCUS_STYLE_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const cs = getComputedStyle(el);
  const r = el.getBoundingClientRect();
  return {
    tag: el.tagName.toLowerCase(), id: el.id, cls: el.className, text: (el.innerText || '').trim().slice(0, 40),
    outlineStyle: cs.outlineStyle, outlineWidth: parseFloat(cs.outlineWidth) || 0,
    outlineColor: cs.outlineColor, boxShadow: cs.boxShadow,
    inMain: !!el.closest('main'), visible: r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0
      && r.left < window.innerWidth + window.scrollX + 1,
    left: r.left, top: r.top, width: r.width, height: r.height,
  };
}"""


def overflow(page) -> dict:
    return page.evaluate(REFLOW_JS)


def small_targets(page, minimum: int = MIN_TARGET) -> list[str]:
    return page.evaluate(TARGETS_JS, minimum)


def focused(page) -> dict | None:
    return page.evaluate(FOCUS_STYLE_JS)


def has_visible_focus(info: dict) -> bool:
    outline = info["outlineStyle"] not in ("none", "") and info["outlineWidth"] >= 2
    shadow = info["boxShadow"] not in ("none", "")
    return info["visible"] and (outline or shadow)
