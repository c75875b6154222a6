"""Markdown-lite for comments: paragraphs, line breaks, lists, links and @mentions; nothing else.

Every character of the text is HTML-escaped; the only markup in the result is what this module
writes itself (`<p>`, `<br>`, `<ul>`/`<ol>`/`<li>`, `<a>` to http, https and mailto addresses only,
and `<span class="mention">` around the mentions that were resolved). Pages and the API show the
same rendering.
"""

import re
from collections.abc import Collection

from django.utils.html import escape

# Django usernames are letters, digits and @ . + - _; a mention ends before trailing punctuation
# ("thanks @ana." mentions ana). Not after a word character or "@", so e-mail addresses are not
# mentions.
MENTION = re.compile(r"(?<![\w@])@([\w.@+-]*[\w+-])")
_LINK = re.compile(r"\[([^\[\]\n]{1,300})\]\(((?:https?://|mailto:)[^\s()<>\"']{1,2000})\)")
_URL = re.compile(r"(?<![\w/])(https?://[^\s<>\"']*[^\s<>\"'.,;:!?)\]])")
_INLINE = re.compile(f"{_LINK.pattern}|{_URL.pattern}|{MENTION.pattern}")
_BULLET = re.compile(r"^\s*[-*•]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d{1,3}[.)]\s+(.*)$")


def mentioned_usernames(text: str) -> list[str]:
    """The usernames `text` mentions, in order of first mention, each once."""
    seen: dict[str, None] = {}
    for match in _INLINE.finditer(text or ""):
        name = match.group(4)
        if name:
            seen.setdefault(name, None)
    return list(seen)


def _anchor(href: str, text: str) -> str:
    return f'<a href="{escape(href)}" rel="nofollow noopener noreferrer">{escape(text)}</a>'


def render_inline(text: str, mentions: Collection[str]) -> str:
    parts, position = [], 0
    for match in _INLINE.finditer(text):
        parts.append(escape(text[position : match.start()]))
        label, href, url, name = match.groups()
        if href:
            parts.append(_anchor(href, label))
        elif url:
            parts.append(_anchor(url, url))
        elif name in mentions:
            parts.append(f'<span class="mention">@{escape(name)}</span>')
        else:
            parts.append(escape(match.group(0)))
        position = match.end()
    parts.append(escape(text[position:]))
    return "".join(parts)


def render(text: str, *, mentions: Collection[str] = ()) -> str:
    """`text` as safe HTML: blank lines part paragraphs, lines starting "- " or "1. " make lists,
    `[label](https://…)` and bare web addresses make links, resolved `@mentions` are marked."""
    blocks: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    list_tag = ""

    def close_paragraph():
        if paragraph:
            blocks.append("<p>" + "<br>".join(paragraph) + "</p>")
            paragraph.clear()

    def close_list():
        nonlocal list_tag
        if items:
            blocks.append(f"<{list_tag}>" + "".join(f"<li>{item}</li>" for item in items) + f"</{list_tag}>")
            items.clear()
        list_tag = ""

    for line in (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        bullet, numbered = _BULLET.match(line), _NUMBERED.match(line)
        if bullet or numbered:
            close_paragraph()
            tag = "ul" if bullet else "ol"
            if list_tag and tag != list_tag:
                close_list()
            list_tag = tag
            items.append(render_inline((bullet or numbered).group(1).strip(), mentions))
        elif not line.strip():
            close_paragraph()
            close_list()
        else:
            close_list()
            paragraph.append(render_inline(line.strip(), mentions))
    close_paragraph()
    close_list()
    return "".join(blocks)
