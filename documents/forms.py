"""The MOU and the Consent for Release of Information, from the config the connector enforces.

The documents are rendered from Jinja2 templates with autoescape on, so no partner name or service
text from `ssp.toml` can become markup; `~` is written as `&#126;` so PowerSchool tag syntax (`~[`,
`~(`) stays inert even if a form is ever uploaded to a PowerSchool custom page.

A district may replace any template without touching the package: a file with the same name in
`templates/` next to its ssp.toml (for example `templates/consent_en.html.j2`) wins over the
packaged one, and may `{% extends "default/consent_en.html.j2" %}` to change only some blocks. Every
legal element sits in an element carrying `data-element="<name>"`; after rendering, elements the
form must contain but does not are reported, so an override cannot silently drop one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import hashlib
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jinja2
from lxml import html as lxml_html
from markupsafe import Markup, escape

from documents.plain_language import Language, describe_category, format_date
from foundation.config import Partner, SSPConfig, load_config
from foundation.errors import ConfigError

__all__ = [
    "DocumentKind",
    "RenderedDocument",
    "CONSENT_ELEMENTS",
    "MOU_ELEMENTS",
    "PART2_ELEMENT",
    "OVERRIDE_DIR",
    "PACKAGED_TEMPLATE_VERSION",
    "mentions_substance_use",
    "template_name",
    "document_environment",
    "render_document",
    "write_document",
    "command",
]

DocumentKind = Literal["consent", "mou"]
OVERRIDE_DIR = "templates"
PACKAGED_TEMPLATE_VERSION = "1"
"""Bumped whenever the wording of a packaged template changes: it is part of FORM_VERSION."""

# Sections every consent form must hold: FERPA 34 CFR 99.30(b)-(c), HIPAA 164.508(c)(1)-(2) and
# (c)(4), CGS 52-146e(b)-(c), CGS 19a-14c; plus the two fields of the U_SSP_CONSENTS record.
CONSENT_ELEMENTS: tuple[str, ...] = (
    "parties",
    "information",
    "excluded_information",
    "purpose",
    "expiration",
    "right_to_revoke",
    "revocation_exceptions",
    "no_conditioning",
    "redisclosure",
    "records_copy",
    "minor_self_consent",
    "signature",
    "signer_authority",
    "copy_to_signer",
    "form_version",
    "document_ref",
)
PART2_ELEMENT = "part2"
"""42 CFR 2.31 / 2.32: required only when the partner's services mention substance use."""

# Sections every MOU must hold: roles, both directions of data, 34 CFR 99.33, the CGS 10-234bb
# contract clauses (one element each), term dates and signatures.
MOU_ELEMENTS: tuple[str, ...] = (
    "parties",
    "purpose",
    "term",
    "school_responsibilities",
    "partner_responsibilities",
    "data_elements",
    "consent_required",
    "confidentiality",
    "redisclosure",
    "partner_records",
    "disclosure_record",
    "ct_student_data",
    "ct_property",
    "ct_deletion",
    "ct_purpose_limit",
    "ct_no_advertising",
    "ct_review_correct",
    "ct_security",
    "ct_breach",
    "ct_retention",
    "ct_ferpa",
    "ct_governing_law",
    "ct_severability",
    "termination",
    "signatures",
)

_SUBSTANCE_USE = re.compile(
    r"substance|alcohol|drug|opioid|addiction|\bSUD\b"
    r"|sustancia|droga|opioide|opi[aá]ceo|adicci[oó]n|\bTUS\b",
    re.IGNORECASE,
)
_STUDENT_NUMBER = re.compile(r"^[A-Za-z0-9_-]{1,20}$")


@dataclass(frozen=True)
class RenderedDocument:
    html: str
    template: str
    overridden: bool
    form_version: str
    missing_elements: tuple[str, ...]
    personal: bool = False
    """True when pre-filled with a student number: the file is then written owner-only (0600)."""


def mentions_substance_use(partner: Partner) -> bool:
    """True when the partner's services, in any language given, suggest substance-use records
    (42 CFR Part 2): the English and the Spanish forms then both carry the Part 2 section."""
    texts = [partner.services, *(labels.services for labels in partner.labels.values())]
    return any(_SUBSTANCE_USE.search(text) for text in texts)


def template_name(kind: DocumentKind, language: Language) -> str:
    return f"{kind}_{language}.html.j2"


def _inert(value: Any) -> Markup:
    """Escape for HTML and neutralise PowerSchool's `~[` / `~(` by writing `~` as an entity."""
    return Markup(str(escape(value)).replace("~", "&#126;"))


def document_environment(config: SSPConfig) -> jinja2.Environment:
    """The district's `templates/` folder first, then the packaged ones (also as `default/`)."""
    override = config.resolve(Path(OVERRIDE_DIR))
    return _environment(str(override) if override.is_dir() else None)


@functools.lru_cache(maxsize=8)
def _environment(override: str | None) -> jinja2.Environment:
    # Cached so templates compile once per process; FileSystemLoader still notices edited files.
    packaged = jinja2.PackageLoader("page_templates", "documents")
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(override)] if override else []
    loaders += [packaged, jinja2.PrefixLoader({"default": packaged})]
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=_inert,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _form_version(config: SSPConfig, kind: DocumentKind, language: Language) -> tuple[str, bool]:
    """FORM_VERSION (<= 20 chars): packaged `ssp-c-en-1`, district override `dist-c-en-<hash8>`."""
    override = config.resolve(Path(OVERRIDE_DIR)) / template_name(kind, language)
    if override.is_file():
        digest = hashlib.sha256(override.read_bytes()).hexdigest()[:8]
        return f"dist-{kind[0]}-{language}-{digest}", True
    return f"ssp-{kind[0]}-{language}-{PACKAGED_TEMPLATE_VERSION}", False


def _context(
    config: SSPConfig,
    partner: Partner,
    language: Language,
    student_number: str | None,
    form_version: str,
    today: dt.date,
) -> dict[str, Any]:
    mou = partner.mou
    services, services_language = partner.services_in(language)
    return {
        "language": language,
        "district": config.district,
        "partner": partner,
        "partner_services": services,
        "partner_services_lang": services_language,
        "mou_effective": format_date(mou.effective, language),
        "mou_expires": format_date(mou.expires, language),
        "to_partner": [describe_category(c, language) for c in mou.to_partner],
        "to_school": [describe_category(c, language) for c in mou.to_school],
        "substance_use": mentions_substance_use(partner),
        "student_number": student_number or "",
        "form_version": form_version,
        "generated_on": format_date(today, language),
    }


def _missing_elements(page: str, required: tuple[str, ...]) -> tuple[str, ...]:
    tree = lxml_html.document_fromstring(page)
    present = {str(v) for v in tree.xpath("//*[@data-element]/@data-element")}
    return tuple(e for e in required if e not in present)


def _required(kind: DocumentKind, partner: Partner) -> tuple[str, ...]:
    if kind == "mou":
        return MOU_ELEMENTS
    return CONSENT_ELEMENTS + ((PART2_ELEMENT,) if mentions_substance_use(partner) else ())


def render_document(
    config: SSPConfig,
    partner_id: str,
    kind: DocumentKind,
    *,
    language: Language = "en",
    student_number: str | None = None,
    today: dt.date | None = None,
) -> RenderedDocument:
    """Render one document for one partner. ConfigError for an unknown partner or template."""
    partner = config.partner(partner_id)
    if student_number is not None:
        if kind != "consent":
            raise ConfigError("--student applies to the consent form only", key="--student")
        if not _STUDENT_NUMBER.match(student_number):
            raise ConfigError(
                "a student number is 1-20 letters, digits, '-' or '_'", key="--student"
            )
    name = template_name(kind, language)
    form_version, overridden = _form_version(config, kind, language)
    env = document_environment(config)
    context = _context(
        config, partner, language, student_number, form_version, today or dt.date.today()
    )
    try:
        page = env.get_template(name).render(context)
    except jinja2.TemplateNotFound as exc:
        raise ConfigError(
            f"no template '{exc.name}': the packaged templates are consent_en, consent_es and "
            "mou_en; "
            f"add {OVERRIDE_DIR}/{name} next to the configuration for another language",
            file=config.source,
        ) from None
    except jinja2.TemplateError as exc:
        where = getattr(exc, "filename", None) or name
        raise ConfigError(f"template error: {exc}", file=str(where)) from None
    missing = _missing_elements(page, _required(kind, partner))
    return RenderedDocument(
        page, name, overridden, form_version, missing, personal=bool(student_number)
    )


def write_document(out: Path, document: RenderedDocument) -> Path:
    """Write atomically, so a half-written form is never printed or filed."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(document.html)
        os.chmod(tmp, 0o600 if document.personal else 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def command(args: argparse.Namespace) -> int:
    """`ssp documents mou|consent --partner ID [--config F] --out FILE.html [--student N]
    [--language en|es]`."""
    config = load_config(args.config)
    document = render_document(
        config,
        args.partner,
        args.kind,
        language=getattr(args, "language", "en") or "en",
        student_number=getattr(args, "student", None),
    )
    for element in document.missing_elements:
        print(
            f'ssp: warning: template {document.template} has no data-element="{element}" '
            "section: check that the form still holds every required element",
            file=sys.stderr,
        )
    language = getattr(args, "language", "en") or "en"
    if args.kind == "consent" and language != "en":
        partner = config.partner(args.partner)
        if partner.services and partner.services_in(language)[1] != language:
            print(
                f"ssp: warning: partner '{partner.id}' has no services in '{language}': the form "
                f"lists them in English; add [partners.labels.{language}] services = \"...\" "
                f"under that partner in {config.source}",
                file=sys.stderr,
            )
    print(write_document(args.out, document))
    return 0
