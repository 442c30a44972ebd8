"""A small, safe Markdown renderer for the channels page: the subset the documents
hold (paragraphs, ``- `` lists, fenced code, two-or-more-column tables, code
spans, ``**bold**``), nothing else.

Every piece of text is escaped first (as the pages escape, ``html.escape``); the
only tags in the output are the ones written here, so a description cannot add
markup, a link or a script. Anything else (headings, links, raw HTML) shows as
the escaped text it is.
"""

from __future__ import annotations

import html
import re

from markupsafe import Markup

__all__ = ["markdown_blocks", "markdown_inline"]

_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_SEPARATOR_CELL = re.compile(r"^\s*:?-{3,}:?\s*$")
_LIST_ITEM = re.compile(r"^[-*] ")


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def markdown_inline(text: str) -> Markup:
    """One line's worth of text: code spans and bold, the rest escaped."""
    out: list[str] = []
    last = 0
    for match in _CODE_SPAN.finditer(text):
        out.append(_BOLD.sub(r"<strong>\1</strong>", _escape(text[last : match.start()])))
        out.append(f"<code>{_escape(match.group(2).strip())}</code>")
        last = match.end()
    out.append(_BOLD.sub(r"<strong>\1</strong>", _escape(text[last:])))
    return Markup("".join(out))


def _cells(line: str) -> list[str]:
    line = line.strip().removeprefix("|").removesuffix("|")
    return [cell.strip().replace("\\|", "|") for cell in _CELL_SPLIT.split(line)]


def _table(lines: list[str]) -> Markup | None:
    """A table when the block is one: a head row, a ``---`` row, then rows."""
    if len(lines) < 2 or not all(line.strip().startswith("|") for line in lines):
        return None
    head, separator, rows = _cells(lines[0]), _cells(lines[1]), lines[2:]
    if not all(_SEPARATOR_CELL.match(cell) for cell in separator):
        return None
    parts = ["<table>", "<tr>" + "".join(f"<th>{markdown_inline(c)}</th>" for c in head) + "</tr>"]
    for line in rows:
        cells = _cells(line)
        parts.append("<tr>" + "".join(f"<td>{markdown_inline(c)}</td>" for c in cells) + "</tr>")
    parts.append("</table>")
    return Markup("\n".join(parts))


def _block(text: str) -> Markup:
    lines = [line for line in text.split("\n") if line.strip()]
    table = _table(lines)
    if table is not None:
        return table
    if _LIST_ITEM.match(lines[0].strip()):
        items: list[str] = []
        for line in lines:
            if _LIST_ITEM.match(line.strip()):
                items.append(line.strip()[2:])
            else:  # a continuation line of the item above
                items[-1] += " " + line.strip()
        inner = "".join(f"<li>{markdown_inline(' '.join(item.split()))}</li>" for item in items)
        return Markup(f"<ul>{inner}</ul>")
    return Markup(f"<p>{markdown_inline(' '.join(text.split()))}</p>")


def markdown_blocks(text: str | None) -> list[Markup]:
    """``text`` as HTML blocks (``<p>``, ``<ul>``, ``<table>``, ``<pre>``), escaped."""
    if not text:
        return []
    blocks: list[Markup] = []
    chunk: list[str] = []

    def flush() -> None:
        joined = "\n".join(chunk).strip()
        chunk.clear()
        if joined:
            blocks.append(_block(joined))

    lines = text.strip().split("\n")
    n = 0
    while n < len(lines):
        line = lines[n]
        fence = line.strip()
        if fence.startswith("```"):
            flush()
            code: list[str] = []
            n += 1
            while n < len(lines) and not lines[n].strip().startswith("```"):
                code.append(lines[n])
                n += 1
            blocks.append(Markup(f"<pre>{_escape(chr(10).join(code))}</pre>"))
        elif not fence:
            flush()
        else:
            chunk.append(line)
        n += 1
    flush()
    return blocks
