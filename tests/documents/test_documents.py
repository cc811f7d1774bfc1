"""Consent form and MOU: every legal element present, categories exactly as configured, escaping."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import html as lxml_html

from documents.forms import (
    CONSENT_ELEMENTS,
    MOU_ELEMENTS,
    PART2_ELEMENT,
    mentions_substance_use,
    render_document,
)
from documents.plain_language import CATEGORY_DESCRIPTIONS, CATEGORY_TITLES, LANGUAGES, format_date
from foundation.config import DATA_CATEGORIES, SSPConfig, parse_config
from foundation.errors import ConfigError
from ssp.cli import main

TODAY = dt.date(2026, 9, 1)

# One sentence (or part of one) per legal element that the form must keep. If a template edit drops
# the element or waters down its key words, the matching test fails.
CONSENT_PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "parties": "I authorize {district} (the district",
        "information": "Check each kind of information you allow",
        "excluded_information": "psychotherapy notes",
        "purpose": "The information is used only to refer the student to {partner}",
        "expiration": "expires on",
        "right_to_revoke": "You may revoke this consent at any time, in writing.",
        "revocation_exceptions": (
            "in reliance on this consent before your revocation was received are not affected"
        ),
        "no_conditioning": "will not be conditioned on whether you sign",
        "redisclosure": "may be redisclosed by the recipient and no longer protected",
        "records_copy": "copy of the records disclosed",
        "minor_self_consent": "19a-14c",
        "signature": "Signature:",
        "signer_authority": "describe your authority to act for the student",
        "copy_to_signer": "You will be given a copy of this signed form.",
        "form_version": "Form version:",
        "document_ref": "document reference",
        PART2_ELEMENT: "42 CFR part 2 prohibits unauthorized disclosure of these records.",
    },
    "es": {
        "parties": "Autorizo a {district} (el distrito",
        "information": "Marque cada tipo de información que usted autoriza",
        "excluded_information": "notas de consejería o de psicoterapia",
        "purpose": "La información se usa únicamente para remitir al estudiante a {partner}",
        "expiration": "vence el",
        "right_to_revoke": (
            "Usted puede revocar este consentimiento en cualquier momento, por escrito."
        ),
        "revocation_exceptions": "antes de que se recibiera su revocación",
        "no_conditioning": "no dependerán de que usted firme",
        "redisclosure": (
            "puede ser divulgada nuevamente por quien la recibe y dejar de estar protegida"
        ),
        "records_copy": "copia de los registros divulgados",
        "minor_self_consent": "19a-14c",
        "signature": "Firma:",
        "signer_authority": "describa la autoridad que tiene para actuar en nombre del estudiante",
        "copy_to_signer": "Usted recibirá una copia de este formulario firmado.",
        "form_version": "Versión del formulario:",
        "document_ref": "referencia del documento",
        PART2_ELEMENT: "42 CFR Parte 2, prohíbe la divulgación no autorizada de estos registros.",
    },
}

MOU_PHRASES: dict[str, str] = {
    "parties": "is made between {district}",
    "purpose": "Information is shared only with the written consent",
    "term": "is effective from {effective} through {expires}",
    "school_responsibilities": "The District will:",
    "partner_responsibilities": "The Partner will:",
    "data_elements": "Only these categories may be exchanged",
    "consent_required": "Each disclosure requires a Consent for Release of Information",
    "confidentiality": "holds the information it receives in confidence",
    "redisclosure": "will not disclose it to any other party without the prior written consent",
    "partner_records": "HIPAA",
    "disclosure_record": "34 CFR 99.32",
    "ct_student_data": "10-234bb",
    "ct_property": "are not the Partner's property or under its control",
    "ct_deletion": "ask the Partner at any time, in writing",
    "ct_purpose_limit": "only for the purposes of this MOU",
    "ct_no_advertising": "targeted advertising",
    "ct_review_correct": "ask for corrections",
    "ct_security": "secure and confidential",
    "ct_breach": "not later than thirty days after discovery",
    "ct_retention": "not retained after this MOU ends",
    "ct_ferpa": "comply with FERPA",
    "ct_governing_law": "laws of the State of Connecticut govern",
    "ct_severability": "held invalid",
    "termination": "written notice",
    "signatures": "For {district}",
}

PARTNER_SHAPES: dict[str, dict[str, Any]] = {
    "four_two": {
        "to_partner": ["identity", "enrollment", "guardian_contact", "referral"],
        "to_school": ["referral_status", "visit_summary"],
    },
    "minimal": {"to_partner": ["identity", "referral"], "to_school": ["referral_status"]},
    "one_way": {"to_partner": ["identity", "referral", "attendance", "screening"], "to_school": []},
    "inbound_only": {"to_partner": [], "to_school": ["visit_summary"]},
    "everything": {"to_partner": list(DATA_CATEGORIES), "to_school": list(DATA_CATEGORIES)},
}


def make_config(
    base_dir: Path,
    *,
    name: str = "Child Guidance Center",
    services: str = "Outpatient counseling",
    to_partner: list[str] | None = None,
    to_school: list[str] | None = None,
    district_name: str = "Bridgeport Public Schools",
) -> SSPConfig:
    raw = {
        "district": {
            "name": district_name,
            "publisher": "BPS",
            "contact_email": "privacy@district.example.org",
            "query_namespace": "org.bridgeport.ssp",
        },
        "powerschool": {"base_url": "https://district.example.org"},
        "partners": [
            {
                "id": "cgc",
                "name": name,
                "services": services,
                "feed": {"kind": "csv", "inbox": "in", "outbox": "out"},
                "mou": {
                    "effective": dt.date(2026, 8, 1),
                    "expires": dt.date(2027, 7, 31),
                    "to_partner": to_partner
                    if to_partner is not None
                    else ["identity", "referral"],
                    "to_school": to_school if to_school is not None else ["referral_status"],
                },
            }
        ],
    }
    return parse_config(raw, source=str(base_dir / "ssp.toml"), base_dir=base_dir)


def render(
    config: SSPConfig, kind: str = "consent", language: str = "en", **kw: Any
) -> lxml_html.HtmlElement:
    doc = render_document(config, "cgc", kind, language=language, today=TODAY, **kw)  # type: ignore[arg-type]
    return lxml_html.document_fromstring(doc.html)


def text_of(el: lxml_html.HtmlElement) -> str:
    return re.sub(r"\s+", " ", el.text_content()).strip()


def element(tree: lxml_html.HtmlElement, name: str) -> str:
    found = tree.xpath(f"//*[@data-element='{name}']")
    assert found, f"section data-element={name!r} is missing"
    return " ".join(text_of(e) for e in found)


def categories(tree: lxml_html.HtmlElement, direction: str) -> list[str]:
    return [
        str(c)
        for c in tree.xpath(f"//*[@data-direction='{direction}']//*[@data-category]/@data-category")
    ]


# ---------------------------------------------------------------------------------- consent form


@pytest.mark.parametrize("language", LANGUAGES)
def test_consent_holds_every_legal_element_with_its_wording(tmp_path: Path, language: str) -> None:
    config = make_config(tmp_path, services="School-based clinic; substance use counseling")
    tree = render(config, language=language)
    names = {"district": config.district.name, "partner": config.partners[0].name}
    for name in (*CONSENT_ELEMENTS, PART2_ELEMENT):
        phrase = CONSENT_PHRASES[language][name].format(**names)
        assert phrase in element(tree, name), f"{language}: {name} lost its wording {phrase!r}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_consent_names_both_parties_in_both_directions(tmp_path: Path, language: str) -> None:
    config = make_config(
        tmp_path, name="Wellmore Behavioral Health", district_name="Waterbury Public Schools"
    )
    parties = element(render(config, language=language), "parties")
    for party in ("Wellmore Behavioral Health", "Waterbury Public Schools"):
        assert parties.count(party) == 2, (
            "each party appears once as discloser and once as recipient"
        )


@pytest.mark.parametrize("language", LANGUAGES)
def test_consent_revocation_goes_to_the_district_contact(tmp_path: Path, language: str) -> None:
    tree = render(make_config(tmp_path), language=language)
    assert "privacy@district.example.org" in element(tree, "right_to_revoke")


@pytest.mark.parametrize("language", LANGUAGES)
def test_consent_expiration_falls_back_to_the_mou_end_date(tmp_path: Path, language: str) -> None:
    tree = render(make_config(tmp_path), language=language)
    assert format_date(dt.date(2027, 7, 31), language) in element(tree, "expiration")  # type: ignore[arg-type]


@pytest.mark.parametrize("language", LANGUAGES)
def test_consent_offers_every_signer_type(tmp_path: Path, language: str) -> None:
    tree = render(make_config(tmp_path), language=language)
    signers = set(tree.xpath("//*[@data-element='signature']//*[@data-signer]/@data-signer"))
    assert signers == {
        "parent_guardian",
        "eligible_student",
        "minor_self",
        "legal_representative",
        "student",
    }


@pytest.mark.parametrize(
    "services, expected",
    [
        ("School-based clinic; substance use counseling", True),
        ("Alcohol and drug treatment", True),
        ("Outpatient counseling; family therapy", False),
        ("", False),
    ],
)
def test_part2_paragraph_only_when_services_mention_substance_use(
    tmp_path: Path, services: str, expected: bool
) -> None:
    config = make_config(tmp_path, services=services)
    assert mentions_substance_use(config.partners[0]) is expected
    for language in LANGUAGES:
        tree = render(config, language=language)
        assert bool(tree.xpath(f"//*[@data-element='{PART2_ELEMENT}']")) is expected


@pytest.mark.parametrize("shape", sorted(PARTNER_SHAPES))
@pytest.mark.parametrize("kind, language", [("consent", "en"), ("consent", "es"), ("mou", "en")])
def test_document_categories_match_the_mou_exactly(
    tmp_path: Path, shape: str, kind: str, language: str
) -> None:
    mou = PARTNER_SHAPES[shape]
    tree = render(make_config(tmp_path, **mou), kind=kind, language=language)
    assert categories(tree, "to_partner") == mou["to_partner"]
    assert categories(tree, "to_school") == mou["to_school"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_category_is_described_in_plain_words(tmp_path: Path, language: str) -> None:
    tree = render(make_config(tmp_path, **PARTNER_SHAPES["everything"]), language=language)
    for code in DATA_CATEGORIES:
        row = text_of(
            tree.xpath(f"//*[@data-direction='to_partner']//*[@data-category='{code}']")[0]
        )
        assert CATEGORY_TITLES[language][code] in row
        assert CATEGORY_DESCRIPTIONS[language][code] in row
        if "_" in code:
            assert code not in row, "a snake_case code is jargon; the form shows words"


def test_every_data_category_has_words_in_every_language() -> None:
    for language in LANGUAGES:
        assert set(CATEGORY_TITLES[language]) == set(DATA_CATEGORIES)
        assert set(CATEGORY_DESCRIPTIONS[language]) == set(DATA_CATEGORIES)


def test_student_number_is_prefilled_and_nothing_else(tmp_path: Path) -> None:
    tree = render(make_config(tmp_path), student_number="204511")
    assert tree.xpath("//*[@data-field='student_number']")[0].text_content() == "204511"
    assert (
        not render(make_config(tmp_path))
        .xpath("//*[@data-field='student_number']")[0]
        .text_content()
    )


@pytest.mark.parametrize("number", ["12 34", "<b>1</b>", "x" * 21, ""])
def test_bad_student_number_is_a_usage_error(tmp_path: Path, number: str) -> None:
    with pytest.raises(ConfigError, match="--student"):
        render_document(make_config(tmp_path), "cgc", "consent", student_number=number)


def test_student_number_does_not_apply_to_the_mou(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="consent form only"):
        render_document(make_config(tmp_path), "cgc", "mou", student_number="1")


def test_unknown_partner_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no partner 'nope'"):
        render_document(make_config(tmp_path), "nope", "consent")


# ------------------------------------------------------------------------------------------ MOU


def test_mou_holds_every_element_with_its_wording(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    tree = render(config, kind="mou")
    names = {
        "district": config.district.name,
        "effective": "August 1, 2026",
        "expires": "July 31, 2027",
    }
    for name in MOU_ELEMENTS:
        phrase = MOU_PHRASES[name].format(**names)
        assert phrase in element(tree, name), f"MOU: {name} lost its wording {phrase!r}"


def test_mou_has_signature_blocks_for_both_parties(tmp_path: Path) -> None:
    tree = render(make_config(tmp_path, name="Clifford Beers"), kind="mou")
    blocks = {
        str(p): text_of(e) for e in tree.xpath("//*[@data-party]") for p in [e.get("data-party")]
    }
    assert set(blocks) == {"district", "partner"}
    assert "Clifford Beers" in blocks["partner"] and "Signature:" in blocks["partner"]


def test_mou_in_spanish_needs_a_district_template(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mou_es.html.j2"):
        render_document(make_config(tmp_path), "cgc", "mou", language="es")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "mou_es.html.j2").write_text(
        '{% extends "default/mou_en.html.j2" %}{% block title %}Memorando{% endblock %}', "utf-8"
    )
    doc = render_document(make_config(tmp_path), "cgc", "mou", language="es")
    assert "<title>Memorando</title>" in doc.html and doc.form_version.startswith("dist-m-es-")


# ------------------------------------------------------------------------------------- escaping

HOSTILE = (
    '<script>alert(1)</script> ~[wc:commonscripts] ~(gpv.x) "q" & <img src=x onerror=alert(2)>'
)


@pytest.mark.parametrize("kind, language", [("consent", "en"), ("consent", "es"), ("mou", "en")])
def test_hostile_partner_text_is_inert(tmp_path: Path, kind: str, language: str) -> None:
    config = make_config(
        tmp_path, name=HOSTILE[:120], services=HOSTILE, district_name=HOSTILE[:120]
    )
    doc = render_document(config, "cgc", kind, language=language, today=TODAY)  # type: ignore[arg-type]
    assert "<script" not in doc.html and "<img" not in doc.html
    assert "~[" not in doc.html and "~(" not in doc.html
    tree = lxml_html.document_fromstring(doc.html)
    assert not tree.xpath("//script | //img | //*[@onerror]")
    assert HOSTILE[:120] in text_of(tree.xpath("//*[@data-element='parties']")[0])


_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=120).filter(
    lambda s: s.strip() == s and s.strip()
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=_TEXT)
def test_any_partner_name_renders_as_text(tmp_path: Path, name: str) -> None:
    config = make_config(tmp_path, name=name)
    tree = render(config)
    assert not tree.xpath("//script")
    assert re.sub(r"\s+", " ", name) in element(tree, "parties")


# ---------------------------------------------------------------------------- district override


def test_district_template_override_wins_and_is_versioned(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "consent_en.html.j2").write_text(
        '{% extends "default/consent_en.html.j2" %}'
        "{% block title %}Bridgeport ROI form{% endblock %}",
        "utf-8",
    )
    doc = render_document(make_config(tmp_path), "cgc", "consent", today=TODAY)
    assert "<title>Bridgeport ROI form</title>" in doc.html
    assert doc.overridden and re.fullmatch(r"dist-c-en-[0-9a-f]{8}", doc.form_version)
    assert len(doc.form_version) <= 20, "FORM_VERSION is a String 20 field"
    assert doc.missing_elements == ()
    packaged = render_document(make_config(tmp_path), "cgc", "consent", language="es")
    assert packaged.form_version == "ssp-c-es-1" and not packaged.overridden


def test_override_that_drops_elements_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "consent_en.html.j2").write_text(
        "<html><body><p data-element='parties'>{{ partner.name }}</p></body></html>", "utf-8"
    )
    config_path = _write_config(tmp_path)
    out = tmp_path / "form.html"
    assert (
        main(
            [
                "documents",
                "consent",
                "--partner",
                "cgc",
                "--config",
                str(config_path),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert 'data-element="right_to_revoke"' in err and 'data-element="parties"' not in err
    assert out.read_text("utf-8").startswith("<html>")


def test_broken_override_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "consent_en.html.j2").write_text("{% if %}", "utf-8")
    with pytest.raises(ConfigError, match="consent_en.html.j2"):
        render_document(make_config(tmp_path), "cgc", "consent")


# ------------------------------------------------------------------------------------------- CLI


def _write_config(tmp_path: Path) -> Path:
    path = tmp_path / "ssp.toml"
    path.write_text(
        Path(__file__).parents[2].joinpath("examples", "ssp.toml").read_text("utf-8"), "utf-8"
    )
    return path


@pytest.mark.parametrize(
    "argv, mode",
    [
        (["consent", "--partner", "bhcare", "--language", "es"], 0o644),
        (["consent", "--partner", "cgc", "--student", "204511"], 0o600),
        (["mou", "--partner", "cgc"], 0o644),
    ],
)
def test_documents_command_writes_the_file(tmp_path: Path, argv: list[str], mode: int) -> None:
    config_path = _write_config(tmp_path)
    out = tmp_path / "docs" / "form.html"
    assert main(["documents", *argv, "--config", str(config_path), "--out", str(out)]) == 0
    assert out.stat().st_mode & 0o777 == mode
    assert "Child Guidance Center" in out.read_text(
        "utf-8"
    ) or "Bridgeport Behavioral" in out.read_text("utf-8")
    assert [p.name for p in out.parent.iterdir()] == ["form.html"], "no temporary file left behind"


def test_documents_command_unknown_partner_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "documents",
            "mou",
            "--partner",
            "zzz",
            "--config",
            str(_write_config(tmp_path)),
            "--out",
            str(tmp_path / "x.html"),
        ]
    )
    assert code == 2 and "no partner 'zzz'" in capsys.readouterr().err
