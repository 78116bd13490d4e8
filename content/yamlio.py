"""Deterministic YAML writing and YAML reading that remembers where each value came from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from content.errors import ContentError

# The C implementations are ten times faster on the 300 KB bank and emit the same bytes as the
# pure-Python ones; fall back to those where libyaml is missing.
try:
    from yaml import CSafeDumper as _SafeDumper
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeDumper as _SafeDumper  # type: ignore[assignment]
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


class _ContentDumper(_SafeDumper):
    """A safe dumper that writes multi-line text (diagrams, answers) as literal blocks."""


def _represent_str(dumper: _ContentDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value and not any(line != line.rstrip() for line in value.splitlines()):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_ContentDumper.add_representer(str, _represent_str)


def dump_yaml(data: Any) -> str:
    """Return `data` as YAML text that is byte-identical for equal input."""
    text = yaml.dump(
        data,
        Dumper=_ContentDumper,
        allow_unicode=True,
        sort_keys=False,
        width=100,
        indent=2,
        default_flow_style=False,
    )
    return str(text)


def write_yaml(path: Path, data: Any, header: str | None = None) -> None:
    """Write `data` to `path` as UTF-8 YAML with LF line ends, after an optional comment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = dump_yaml(data)
    if header:
        text = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()) + text
    path.write_bytes(text.encode("utf-8"))


@dataclass
class YamlDocument:
    """A parsed YAML file: its data plus the node tree that knows every value's line."""

    path: Path
    data: Any
    root: yaml.Node | None

    def line_of(self, loc: Sequence[int | str]) -> int:
        """Return the 1-based line of the value at `loc` (keys and list indexes), or nearest."""
        node = self.root
        line = int(node.start_mark.line) + 1 if node is not None else 1
        for key in loc:
            if isinstance(node, yaml.MappingNode):
                found = None
                for key_node, value_node in node.value:
                    if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(key):
                        found = (key_node, value_node)
                        break
                if found is None:
                    return line
                key_node, node = found
                line = int(key_node.start_mark.line) + 1
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
                if not 0 <= key < len(node.value):
                    return line
                node = node.value[key]
                line = int(node.start_mark.line) + 1
            else:
                return line
        return line

    def line_of_scalar(self, value: str) -> int | None:
        """Return the 1-based line of the first scalar equal to `value`, or None."""
        stack = [self.root] if self.root is not None else []
        while stack:
            node = stack.pop(0)
            if isinstance(node, yaml.ScalarNode):
                if node.value == value:
                    return int(node.start_mark.line) + 1
            elif isinstance(node, yaml.MappingNode):
                stack[:0] = [n for pair in node.value for n in pair]
            elif isinstance(node, yaml.SequenceNode):
                stack[:0] = list(node.value)
        return None


def read_yaml(path: Path) -> YamlDocument:
    """Read one YAML file; raise ContentError with the file and line of a syntax error."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContentError(f"{path}: cannot read the file ({exc})") from exc
    loader = _SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ContentError(f"{where}: invalid YAML: {problem}") from exc
    finally:
        loader.dispose()
    return YamlDocument(path=path, data=data, root=root)
