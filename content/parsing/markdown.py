"""A small Markdown block reader: headings as a tree of blocks (tables, lists, code, quotes)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

HEADING_RE = re.compile(r"^(?P<hashes>#{1,6}) (?P<title>.+?)\s*$")
LIST_RE = re.compile(r"^(?:[-*+]|[0-9]+\.) (?P<text>.*)$")
ORDERED_RE = re.compile(r"^[0-9]+\. ")
TABLE_RULE_RE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")
LABEL_RE = re.compile(r"^\*\*(?P<label>[^*]+?):?\*\*:?$")
BlockKind = Literal["paragraph", "list", "table", "code", "quote"]


@dataclass
class Block:
    """One block of Markdown: its kind, its text or items/rows, and the line it starts on."""

    kind: BlockKind
    line: int
    text: str = ""
    items: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    ordered: bool = False

    @property
    def label(self) -> str | None:
        """Return the label of a bold-only paragraph such as "**Key Points:**", else None."""
        if self.kind != "paragraph":
            return None
        match = LABEL_RE.match(self.text.strip())
        return match["label"].strip() if match else None


@dataclass
class Heading:
    """A heading with the blocks under it and its sub-headings."""

    level: int
    title: str
    line: int
    blocks: list[Block] = field(default_factory=list)
    children: list[Heading] = field(default_factory=list)

    def walk(self) -> Iterator[Heading]:
        """Yield this heading and every heading below it, in document order."""
        yield self
        for child in self.children:
            yield from child.walk()

    def all_blocks(self) -> Iterator[Block]:
        """Yield the blocks under this heading and its sub-headings, in document order."""
        for heading in self.walk():
            yield from heading.blocks

    def find(self, pattern: str) -> Heading | None:
        """Return the first heading at or below this one whose title matches `pattern`."""
        regex = re.compile(pattern, re.IGNORECASE)
        return next((h for h in self.walk() if regex.search(h.title)), None)

    def find_all(self, pattern: str) -> list[Heading]:
        """Return every heading at or below this one whose title matches `pattern`."""
        regex = re.compile(pattern, re.IGNORECASE)
        return [h for h in self.walk() if regex.search(h.title)]

    def labelled(self) -> dict[str, list[Block]]:
        """Group this heading's own blocks under the bold label paragraph that precedes them."""
        groups: dict[str, list[Block]] = {}
        key = ""
        for block in self.blocks:
            label = block.label
            if label is not None:
                key = label
                groups.setdefault(key, [])
                continue
            groups.setdefault(key, []).append(block)
        return groups


def split_row(line: str) -> list[str]:
    """Split a Markdown table row into its trimmed cells."""
    inner = line.strip()
    if inner.startswith("|"):
        inner = inner[1:]
    if inner.endswith("|"):
        inner = inner[:-1]
    return [cell.strip() for cell in inner.split("|")]


def parse_markdown(text: str) -> Heading:
    """Parse Markdown text into a root heading (level 0) holding the whole document."""
    root = Heading(level=0, title="", line=0)
    stack = [root]
    lines = text.splitlines()
    i = 0

    def add(block: Block) -> None:
        stack[-1].blocks.append(block)

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        lineno = i + 1
        if not stripped or re.fullmatch(r"-{3,}|\*{3,}", stripped):
            i += 1
            continue
        heading = HEADING_RE.match(stripped)
        if heading is not None:
            level = len(heading["hashes"])
            while stack[-1].level >= level:
                stack.pop()
            node = Heading(level=level, title=heading["title"], line=lineno)
            stack[-1].children.append(node)
            stack.append(node)
            i += 1
            continue
        if stripped.startswith("```"):
            body: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                body.append(lines[i].rstrip())
                i += 1
            i += 1
            add(Block(kind="code", line=lineno, text="\n".join(body)))
            continue
        if stripped.startswith("|"):
            rows: list[list[str]] = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                if not TABLE_RULE_RE.match(lines[i].strip()):
                    rows.append(split_row(lines[i]))
                i += 1
            add(Block(kind="table", line=lineno, rows=rows))
            continue
        if stripped.startswith(">"):
            quoted: list[str] = []
            while i < len(lines) and lines[i].strip().startswith(">"):
                content = lines[i].strip()[1:]
                quoted.append(content[1:] if content.startswith(" ") else content)
                i += 1
            add(Block(kind="quote", line=lineno, text="\n".join(quoted).strip()))
            continue
        if LIST_RE.match(stripped):
            items: list[str] = []
            ordered = ORDERED_RE.match(stripped) is not None
            while i < len(lines):
                current = lines[i].strip()
                item = LIST_RE.match(current)
                if item is None:
                    break
                items.append(item["text"].strip())
                i += 1
            add(Block(kind="list", line=lineno, items=items, ordered=ordered))
            continue
        paragraph: list[str] = []
        while i < len(lines):
            current = lines[i].strip()
            if not current or HEADING_RE.match(current) or current[0] in "|>`":
                break
            if paragraph and LIST_RE.match(current):
                break
            paragraph.append(current)
            i += 1
        add(Block(kind="paragraph", line=lineno, text=" ".join(paragraph)))
    return root
