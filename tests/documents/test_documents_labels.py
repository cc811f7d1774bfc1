"""Partner words in Spanish (`[partners.labels.es]`): the Spanish consent form lists the services
in Spanish; without a translation it keeps the English text, marked as English, and says so."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from lxml import html as lxml_html

from ssp.cli import main
from foundation.config import SSPConfig, load_config
from documents.forms import PART2_ELEMENT, mentions_substance_use, render_document
from foundation.errors import ConfigError

TODAY = dt.date(2026, 9, 1)
PARTNER = """
[district]
name = "Bridgeport Public Schools"
publisher = "BPS"
contact_email = "privacy@district.example.org"
query_namespace = "org.bridgeport.ssp"

[powerschool]
base_url = "https://district.example.org"

[[partners]]
id = "cgc"
name = "Child Guidance Center"
services = "{services}"
feed = {{ kind = "csv", inbox = "in", outbox = "out" }}
mou = {{ effective = 2026-08-01, expires = 2027-07-31, to_partner = ["identity", "referral"], to_school = ["referral_status"] }}
"""


def write_config(tmp_path: Path, services: str, labels: str = "") -> Path:
    path = tmp_path / "ssp.toml"
    path.write_text(PARTNER.format(services=services) + labels, "utf-8")
    return path


def services_span(config: SSPConfig, language: str) -> lxml_html.HtmlElement:
    doc = render_document(config, "cgc", "consent", language=language, today=TODAY)  # type: ignore[arg-type]
    tree = lxml_html.document_fromstring(doc.html)
    (span,) = tree.xpath("//*[@data-element='parties']//*[@data-field='partner_services']")
    return span


def test_spanish_consent_lists_the_services_from_labels_es(tmp_path: Path) -> None:
    config = load_config(
        write_config(
            tmp_path,
            "Outpatient counseling; family therapy",
            '[partners.labels.es]\nservices = "Consejería ambulatoria; terapia familiar"\n',
        )
    )
    spanish = services_span(config, "es")
    assert spanish.text_content() == "Consejería ambulatoria; terapia familiar"
    assert spanish.get("lang") is None, "Spanish text inside a lang=es page needs no lang"
    english = services_span(config, "en")
    assert english.text_content() == "Outpatient counseling; family therapy"


def test_without_a_translation_the_spanish_form_marks_the_english_services_and_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path, "Outpatient counseling")
    span = services_span(load_config(path), "es")
    assert span.text_content() == "Outpatient counseling"
    assert span.get("lang") == "en", "screen readers switch voice for the English words"
    out = tmp_path / "consent_es.html"
    argv = ["documents", "consent", "--partner", "cgc", "--language", "es"]
    assert main([*argv, "--config", str(path), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "partner 'cgc' has no services in 'es'" in err
    assert "[partners.labels.es]" in err and str(path) in err


def test_a_translated_partner_gives_no_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(
        tmp_path, "Outpatient counseling", '[partners.labels.es]\nservices = "Consejería"\n'
    )
    out = tmp_path / "consent_es.html"
    argv = ["documents", "consent", "--partner", "cgc", "--language", "es"]
    assert main([*argv, "--config", str(path), "--out", str(out)]) == 0
    assert "warning" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "labels, key",
    [
        ('[partners.labels.pt]\nservices = "Aconselhamento"\n', "labels"),
        ('[partners.labels.es]\nname = "Centro de Orientación Infantil"\n', "name"),
        (f'[partners.labels.es]\nservices = "{"x" * 401}"\n', "services"),
    ],
)
def test_labels_outside_the_design_are_config_errors(tmp_path: Path, labels: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, "Outpatient counseling", labels))
    assert key in str(caught.value) and "ssp.toml" in str(caught.value)


def test_substance_use_named_only_in_spanish_puts_part2_on_both_forms(tmp_path: Path) -> None:
    config = load_config(
        write_config(
            tmp_path,
            "School-based clinic",
            '[partners.labels.es]\nservices = "Clínica; tratamiento de adicciones"\n',
        )
    )
    assert mentions_substance_use(config.partners[0])
    for language in ("en", "es"):
        doc = render_document(config, "cgc", "consent", language=language, today=TODAY)  # type: ignore[arg-type]
        tree = lxml_html.document_fromstring(doc.html)
        assert tree.xpath(f"//*[@data-element='{PART2_ELEMENT}']"), language


def test_the_example_config_carries_spanish_services_for_every_partner() -> None:
    config = load_config(Path(__file__).parents[2] / "examples" / "ssp.toml")
    for partner in config.partners:
        assert partner.services_in("es")[1] == "es", partner.id


@pytest.mark.parametrize("language, name", [("en", "Allow"), ("es", "Autorizo")])
def test_the_column_of_boxes_is_named_in_the_forms_language(
    tmp_path: Path, language: str, name: str
) -> None:
    config = load_config(write_config(tmp_path, "Outpatient counseling"))
    doc = render_document(config, "cgc", "consent", language=language, today=TODAY)  # type: ignore[arg-type]
    tree = lxml_html.document_fromstring(doc.html)
    assert tree.get("lang") == language
    labels = tree.xpath("//table[@class='categories']//th[@class='tick']/@aria-label")
    assert labels and set(labels) == {name}
