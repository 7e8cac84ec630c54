"""Message templates, one folder per language: ``templates/<lang>/<name>.<subject|email|sms>.txt`` (Jinja2, with
StrictUndefined: a variable the message does not carry is an error, never a blank).

A language is looked up along its fallback chain: ``es-MX`` → ``es`` → ``en``, so a parent always gets a message.
The HTML part of an email is the text part laid out by ``templates/layout.html`` (escaped, paragraphs, the status
link as a link), with ``lang`` and ``dir`` (``rtl`` for Arabic and Urdu) on the ``<html>`` element.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, select_autoescape

from services.notify.domain import Channel, Rendered

TEMPLATES = Path(__file__).parent / "templates"
FALLBACK_LANGUAGE = "en"
RIGHT_TO_LEFT = frozenset({"ar", "ur", "fa", "he"})
PARTS = ("subject", "email", "sms")


def fallback_chain(language: str) -> list[str]:
    """``es-MX`` → ``["es-MX", "es", "en"]``; ``en`` → ``["en"]``."""
    chain: list[str] = []
    parts = language.replace("_", "-").split("-")
    for end in range(len(parts), 0, -1):
        tag = "-".join(parts[:end])
        if tag and tag not in chain:
            chain.append(tag)
    if FALLBACK_LANGUAGE not in chain:
        chain.append(FALLBACK_LANGUAGE)
    return chain


def text_direction(language: str) -> str:
    return "rtl" if language.split("-")[0].lower() in RIGHT_TO_LEFT else "ltr"


class TemplateRenderer:
    def __init__(self, directory: Path = TEMPLATES) -> None:
        # Plain text: nothing to escape; the HTML layout has its own, autoescaping environment.
        self.env = Environment(
            loader=FileSystemLoader(directory),
            undefined=StrictUndefined,
            autoescape=False,  # noqa: S701 - text/plain messages, never rendered as HTML
            keep_trailing_newline=False,
        )
        self._html = Environment(
            loader=FileSystemLoader(directory),
            undefined=StrictUndefined,
            autoescape=select_autoescape(["html"]),
        )

    def languages(self) -> set[str]:
        return {name.split("/")[0] for name in self.env.list_templates() if "/" in name}

    def source_names(self) -> list[str]:
        """Every language's template files, ``<lang>/<name>.<part>.txt``."""
        return [name for name in self.env.list_templates() if "/" in name and name.endswith(".txt")]

    def resolve(self, template: str, part: str, language: str) -> str:
        """The file a part of a template is read from for ``language``, along the fallback chain."""
        for tag in fallback_chain(language):
            name = f"{tag}/{template}.{part}.txt"
            try:
                self.env.get_template(name)
            except TemplateNotFound:
                continue
            return name
        raise TemplateNotFound(f"{template}.{part}")

    def render(self, template: str, *, language: str, channel: Channel, context: dict[str, str | None]) -> Rendered:
        if channel == "sms":
            return Rendered(subject=None, body=self._render(template, "sms", language, context).strip() + "\n")
        subject = " ".join(self._render(template, "subject", language, context).split())
        body = self._render(template, "email", language, context).strip() + "\n"
        html = self._html.get_template("layout.html").render(
            lang=language,
            dir=text_direction(language),
            subject=subject,
            paragraphs=[p.strip() for p in body.split("\n\n") if p.strip()],
            status_url=context.get("status_url"),
        )
        return Rendered(subject=subject, body=body, html=html)

    def _render(self, template: str, part: str, language: str, context: dict[str, str | None]) -> str:
        return self.env.get_template(self.resolve(template, part, language)).render(**context)
