"""Message templates, one folder per language: ``templates/<lang>/<name>.<subject|email|sms>.txt`` (Jinja2).

A language without its own template falls back to English, so a parent always gets a message.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from services.notify.domain import Channel, Rendered

TEMPLATES = Path(__file__).parent / "templates"
FALLBACK_LANGUAGE = "en"


class TemplateRenderer:
    def __init__(self, directory: Path = TEMPLATES) -> None:
        # Plain text, not HTML: nothing to escape; StrictUndefined makes a missing variable an error, not a blank.
        self._env = Environment(
            loader=FileSystemLoader(directory),
            undefined=StrictUndefined,
            autoescape=False,  # noqa: S701 - text/plain messages, never rendered as HTML
            keep_trailing_newline=False,
        )

    def languages(self) -> set[str]:
        return {name.split("/")[0] for name in self._env.list_templates()}

    def render(self, template: str, *, language: str, channel: Channel, context: dict[str, str]) -> Rendered:
        subject = self._render(f"{template}.subject.txt", language, context) if channel == "email" else None
        body = self._render(f"{template}.{channel}.txt", language, context)
        return Rendered(subject=subject.strip() if subject else None, body=body.strip() + "\n")

    def _render(self, name: str, language: str, context: dict[str, str]) -> str:
        try:
            template = self._env.get_template(f"{language}/{name}")
        except TemplateNotFound:
            template = self._env.get_template(f"{FALLBACK_LANGUAGE}/{name}")
        return template.render(**context)
