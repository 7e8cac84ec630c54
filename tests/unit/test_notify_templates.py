"""Every message in every language, with only the variables its event carries; the fallback chain; right to left;
and what each parent text costs in SMS segments, per language."""

from __future__ import annotations

import re

import jinja2
import pytest
from jinja2 import meta

from services.notify import sms
from services.notify.domain import MESSAGES, PARENT_MESSAGES, REPLIES, STAFF_MESSAGES
from services.notify.templates import PARTS, TemplateRenderer, fallback_chain, text_direction
from shared.contracts.inquiries import Language

RENDERER = TemplateRenderer()
LANGUAGES = [language.value for language in Language]
# The longest a status link gets with intake's token (22 characters) behind a 29-character base URL.
STATUS_URL = "https://parents.district.example/status/PSC-26-000042?token=AbCdEfGhIjKlMnOpQrStUv"
LONG = "Please send a copy of the bus pass and the stop your child uses every morning and afternoon. " * 6
SAMPLE: dict[str, str | None] = {
    "parent_name": "Ana Lopez",
    "reference": "PSC-26-000042",
    "office_name": "Network 4",
    "status_url": STATUS_URL,
    "question": LONG,
    "summary": LONG,
    "staff_name": "Alex A.",
    "tier": "psa",
    "from_tier": "network",
    "clock": "first response",
    "due_at": "Mon 30 Nov 2026 17:00",
    "help_contact": "Parent Support Center, 773-553-1000",
    # The acknowledgment's resources from the catalog (the third slot left empty: two were found).
    "resource_1": "Parent and Educator Partnership (PEP)",
    "resource_1_contact": "(773) 553-1800, https://www.cps.edu/services-and-supports/special-education/",
    "resource_2": "Students in Temporary Living Situations (STLS)",
    "resource_2_contact": "(773) 553-2242",
    "resource_3": None,
    "resource_3_contact": None,
}


def variables_of(name: str) -> set[str]:
    source = RENDERER.env.loader.get_source(RENDERER.env, name)[0]  # type: ignore[union-attr]
    return meta.find_undeclared_variables(RENDERER.env.parse(source))


def context_of(template: str) -> dict[str, str | None]:
    model = MESSAGES[template].context if template in MESSAGES else REPLIES[template]
    return {field: SAMPLE[field] for field in model.model_fields}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", PARENT_MESSAGES)
def test_every_parent_message_has_its_own_subject_email_and_text_in_every_language(
    language: str, template: str
) -> None:
    for part in PARTS:
        assert RENDERER.resolve(template, part, language) == f"{language}/{template}.{part}.txt"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_answer_to_a_text_exists_in_every_language(language: str) -> None:
    for template in REPLIES:
        assert RENDERER.resolve(template, "sms", language) == f"{language}/{template}.sms.txt"


def test_every_template_file_uses_only_the_variables_its_message_carries() -> None:
    checked = 0
    for name in RENDERER.source_names():
        template = name.split("/")[1].split(".")[0]
        model = MESSAGES[template].context if template in MESSAGES else REPLIES[template]
        unknown = variables_of(name) - set(model.model_fields)
        assert not unknown, f"{name} uses {sorted(unknown)}, which {model.__name__} does not carry"
        checked += 1
    assert checked == len(LANGUAGES) * (len(PARENT_MESSAGES) * 3 + len(REPLIES)) + len(STAFF_MESSAGES) * 2


def test_a_variable_the_message_does_not_carry_is_an_error_not_a_blank() -> None:
    with pytest.raises(jinja2.UndefinedError):
        RENDERER.render("inquiry_resolved", language="en", channel="email", context=context_of("inquiry_assigned"))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", PARENT_MESSAGES)
def test_every_parent_message_renders_with_the_reference_and_the_status_link(language: str, template: str) -> None:
    email = RENDERER.render(template, language=language, channel="email", context=context_of(template))
    text = RENDERER.render(template, language=language, channel="sms", context=context_of(template))
    assert "PSC-26-000042" in (email.subject or "") and "PSC-26-000042" in text.body
    assert STATUS_URL in email.body and STATUS_URL in text.body
    assert email.html is not None and f'lang="{language}"' in email.html
    assert f'href="{STATUS_URL.replace("&", "&amp;")}"' in email.html
    assert "{{" not in email.body + text.body


def test_without_a_status_token_the_messages_say_how_to_hear_the_news_instead() -> None:
    context = context_of("inquiry_note_added") | {"status_url": None}
    email = RENDERER.render("inquiry_note_added", language="en", channel="email", context=context)
    assert "Contact us with your reference number" in email.body and "None" not in email.body


@pytest.mark.parametrize(("language", "direction"), [("ar", "rtl"), ("ur", "rtl"), ("en", "ltr"), ("zh", "ltr")])
def test_arabic_and_urdu_mail_is_laid_out_right_to_left(language: str, direction: str) -> None:
    html = RENDERER.render(
        "inquiry_received", language=language, channel="email", context=context_of("inquiry_received")
    ).html
    assert html is not None and f'<html lang="{language}" dir="{direction}">' in html
    assert text_direction(language) == direction


def test_the_html_part_escapes_what_staff_wrote() -> None:
    context = context_of("inquiry_resolved") | {"summary": "<script>alert(1)</script> & more"}
    html = RENDERER.render("inquiry_resolved", language="en", channel="email", context=context).html
    assert html is not None and "<script>" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize(
    ("language", "chain"),
    [
        ("es-MX", ["es-MX", "es", "en"]),
        ("es", ["es", "en"]),
        ("en", ["en"]),
        ("zh_Hans_CN", ["zh-Hans-CN", "zh-Hans", "zh", "en"]),
    ],
)
def test_the_fallback_chain(language: str, chain: list[str]) -> None:
    assert fallback_chain(language) == chain


def test_a_regional_language_falls_back_to_its_language_then_english() -> None:
    assert RENDERER.resolve("inquiry_received", "subject", "es-MX") == "es/inquiry_received.subject.txt"
    assert RENDERER.resolve("inquiry_received", "subject", "fr-CA") == "en/inquiry_received.subject.txt"
    assert RENDERER.resolve("staff_assigned", "subject", "es") == "en/staff_assigned.subject.txt"


# Two segments in every language with the sample link; the question and summary are cut to fit ('...'), the
# whole text is in the email and on the status page.
MAX_SEGMENTS = 2


@pytest.mark.parametrize("language", LANGUAGES)
def test_parent_texts_fit_in_two_segments(language: str, capsys: pytest.CaptureFixture[str]) -> None:
    counts = {}
    for template in PARENT_MESSAGES:
        body = RENDERER.render(template, language=language, channel="sms", context=context_of(template)).body
        counts[template] = sms.segments(body.rstrip("\n"))
    with capsys.disabled():
        report = ", ".join(f"{t.removeprefix('inquiry_')}={c.count}({c.encoding} {c.units})" for t, c in counts.items())
        print(f"\n  SMS segments [{language}]: {report}")
    assert all(c.count <= MAX_SEGMENTS for c in counts.values()), counts
    if language == "en":
        assert {c.encoding for c in counts.values()} == {"GSM-7"}, "English texts stay in GSM-7"


def test_no_template_uses_a_character_that_forces_ucs2_in_an_english_or_spanish_text_by_accident() -> None:
    for language in ("en", "es"):
        for template in PARENT_MESSAGES:
            source = RENDERER.env.loader.get_source(RENDERER.env, f"{language}/{template}.sms.txt")[0]  # type: ignore[union-attr]
            literal = re.sub(r"{[{%].*?[}%]}", "", source)
            assert sms.segments(literal).encoding == "GSM-7", f"{language}/{template}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_acknowledgment_email_lists_the_resources_as_text_and_as_an_html_list(language: str) -> None:
    email = RENDERER.render(
        "inquiry_received", language=language, channel="email", context=context_of("inquiry_received")
    )
    assert "- Parent and Educator Partnership (PEP): (773) 553-1800, https://www.cps.edu/" in email.body
    assert "- Students in Temporary Living Situations (STLS): (773) 553-2242\n" in email.body
    assert email.body.count("\n- ") == 2, "the empty third slot adds no line"
    assert email.html is not None
    assert "<li>Parent and Educator Partnership (PEP): (773) 553-1800, https://www.cps.edu/" in email.html
    assert email.html.count("<li>") == 2 and email.html.count("<ul>") == 1
    text = RENDERER.render("inquiry_received", language=language, channel="sms", context=context_of("inquiry_received"))
    assert "PEP" not in text.body, "texts name no resource: they keep their two segments"


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_acknowledgment_without_resources_has_no_empty_list(language: str) -> None:
    empty = {name: None for name in SAMPLE if name.startswith("resource_")}
    with_none = RENDERER.render(
        "inquiry_received", language=language, channel="email", context=context_of("inquiry_received") | empty
    )
    # An acknowledgment stored before resources existed (a resend, a fallback) renders without the variables too.
    stored_before = {k: v for k, v in context_of("inquiry_received").items() if not k.startswith("resource_")}
    without = RENDERER.render("inquiry_received", language=language, channel="email", context=stored_before)
    for email in (with_none, without):
        assert "\n- " not in email.body and "None" not in email.body
        assert email.html is not None and "<ul>" not in email.html
    assert with_none.body == without.body
