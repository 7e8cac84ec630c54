"""Reading a YAML file node by node, so that every mistake names the file, the line and the reason: the district
calendar file here, and routing's policy and staff files (which is why this is public, not private to the calendar).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode


class FileProblem(ValueError):
    """A file a service reads is wrong: which file, which line, why."""

    def __init__(self, path: Path | str, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path, self.line, self.reason = str(path), line, reason


@dataclass(frozen=True)
class YamlFile:
    """A YAML document's nodes, each with its line, read without YAML's own typing (we parse every scalar)."""

    path: Path | str

    def load(self, text: str) -> Node:
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            raise FileProblem(self.path, mark.line + 1 if mark else 1, f"not valid YAML: {exc.problem}") from None
        if node is None:
            raise FileProblem(self.path, 1, "the file is empty")
        return node

    def fail(self, node: Node, reason: str) -> FileProblem:
        return FileProblem(self.path, node.start_mark.line + 1, reason)

    def mapping(self, node: Node, what: str, *, keys: set[str] | None = None) -> dict[str, Node]:
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        out: dict[str, Node] = {}
        for key, value in node.value:
            name = self.text(key, f"a key of {what}")
            if name in out:
                raise self.fail(key, f"{name!r} is given twice in {what}")
            if keys is not None and name not in keys:
                raise self.fail(key, f"unknown key {name!r} in {what} (expected one of {', '.join(sorted(keys))})")
            out[name] = value
        return out

    def sequence(self, node: Node, what: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            raise self.fail(node, f"{what} must be a list")
        return list(node.value)

    def text(self, node: Node, what: str) -> str:
        if not isinstance(node, ScalarNode) or not str(node.value).strip():
            raise self.fail(node, f"{what} must be a non-empty value")
        return str(node.value).strip()

    def required(self, fields: Mapping[str, Node], name: str, parent: Node, what: str) -> Node:
        if name not in fields:
            raise self.fail(parent, f"{what} has no {name!r}")
        return fields[name]

    def day(self, node: Node, what: str) -> date:
        raw = self.text(node, what)
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise self.fail(node, f"{what} {raw!r} is not a date (YYYY-MM-DD)") from None
