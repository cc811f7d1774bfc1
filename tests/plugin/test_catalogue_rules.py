"""Every catalogue rule, each with a failing example that names the file, the key and the rule."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from foundation.catalogue import load_catalogue
from foundation.errors import CatalogueError, ConfigError
from ssp.cli import main

STAFF_NAME = 'name = "STAFF_NAME",'
STAFF_NAME_KEY = "tables[0] (U_SSP_VISITS).fields[4]"

# (old text, new text, expected key fragment, expected message fragment)
CATALOGUE_CASES = {
    "field name over 30": (
        STAFF_NAME,
        'name = "STAFF_NAME_THAT_IS_FAR_TOO_LONG",',
        f"{STAFF_NAME_KEY}",
        "at most 30",
    ),
    "reserved word": (STAFF_NAME, 'name = "ORDER",', STAFF_NAME_KEY, "Oracle reserved word"),
    "bad name pattern": (STAFF_NAME, 'name = "STAFF-NAME",', STAFF_NAME_KEY, "start with a letter"),
    "name starting with digit": (
        STAFF_NAME,
        'name = "1STAFF",',
        STAFF_NAME_KEY,
        "start with a letter",
    ),
    "String length 0": (
        'length = 80,   label = "Staff member"',
        'length = 0,   label = "Staff member"',
        f"{STAFF_NAME_KEY} (STAFF_NAME).length",
        "between 1 and 4000",
    ),
    "String length 4001": (
        'length = 80,   label = "Staff member"',
        'length = 4001,   label = "Staff member"',
        f"{STAFF_NAME_KEY} (STAFF_NAME).length",
        "between 1 and 4000",
    ),
    "String without length": (
        'length = 80,   label = "Staff member"',
        'label = "Staff member"',
        f"{STAFF_NAME_KEY} (STAFF_NAME).length",
        "between 1 and 4000",
    ),
    "length on a Date": (
        'type = "Date",                     label = "Visit date"',
        'type = "Date", length = 10, label = "Visit date"',
        "fields[1] (VISIT_DATE).length",
        "String fields only",
    ),
    "duplicate table": (
        'name = "U_SSP_REFERRALS"',
        'name = "U_SSP_VISITS"',
        "tables[1] (U_SSP_VISITS).name",
        "duplicate table",
    ),
    "duplicate field": (
        'name = "TIME_OUT",',
        'name = "TIME_IN",',
        "fields[3] (TIME_IN).name",
        "duplicate field",
    ),
    "table name over 30": (
        'name = "U_SSP_PARTNERS"',
        'name = "U_SSP_PARTNER_DIRECTORY_LONG_NAME"',
        "tables[4]",
        "at most 30",
    ),
    "table without U_ prefix": (
        'name = "U_SSP_PARTNERS"',
        'name = "SSP_PARTNERS"',
        "tables[4] (SSP_PARTNERS).name",
        "U_",
    ),
    "WHENMODIFIED defined": (
        STAFF_NAME,
        'name = "WHENMODIFIED",',
        STAFF_NAME_KEY,
        "PowerSchool adds itself",
    ),
    "WHOCREATED defined": (
        STAFF_NAME,
        'name = "WHOCREATED",',
        STAFF_NAME_KEY,
        "PowerSchool adds itself",
    ),
    "ID defined": (STAFF_NAME, 'name = "ID",', STAFF_NAME_KEY, "PowerSchool adds itself"),
    "STUDENTSDCID defined": (
        STAFF_NAME,
        'name = "STUDENTSDCID",',
        STAFF_NAME_KEY,
        "PowerSchool adds itself",
    ),
    "bad packaged code": (
        '{ code = "counselor",',
        '{ code = "coun selor",',
        "choices.staff_role.options[0].code",
        "must match",
    ),
    "duplicate code ignoring case": (
        '{ code = "nurse",',
        '{ code = "COUNSELOR",',
        "choices.staff_role.options[3].code",
        "duplicate code",
    ),
    "unknown choice list on a field": (
        'choice = "staff_role" }',
        'choice = "staff_roles" }',
        "fields[5] (STAFF_ROLE).choice",
        "unknown choice list",
    ),
    "choice field too short for its codes": (
        '{ name = "STAFF_ROLE",       type = "String",  length = 20,',
        '{ name = "STAFF_ROLE",       type = "String",  length = 10,',
        "fields[5] (STAFF_ROLE).length",
        "cannot hold every value of 'staff_role'",
    ),
    "multichoice too short for all codes joined": (
        'length = 400,  label = "Services provided"',
        'length = 100,  label = "Services provided"',
        "fields[7] (SERVICES).length",
        "cannot hold every value of 'service'",
    ),
    "time field shorter than HH:MM": (
        'length = 5,    label = "Time in"',
        'length = 4,    label = "Time in"',
        "fields[2] (TIME_IN).widget",
        "HH:MM",
    ),
    "multi without a choice list": (
        'label = "Staff member" }',
        'label = "Staff member", multi = true }',
        "(STAFF_NAME).multi",
        "multi needs a choice",
    ),
    "dropdown on a non-String": (
        'type = "String",  length = 20,   label = "Tier"',
        'type = "Integer", label = "Tier"',
        "(TIER).type",
        "must be a String",
    ),
    "partner list defined in the catalogue": (
        "[choices.staff_role]",
        '[choices.partner]\nlabel = "Partner"\noptions = [{ code = "x", label = "X" }]\n\n[choices.staff_role]',
        "choices.partner",
        "comes from ssp.toml",
    ),
    "unknown key": (
        'label = "Staff member" }',
        'label = "Staff member", colour = "red" }',
        "tables[0].fields[4].colour",
        'unknown key "colour"',
    ),
}


@pytest.mark.parametrize("case", sorted(CATALOGUE_CASES))
def test_catalogue_rule_rejects_bad_example(
    case: str, catalogue_variant: Callable[[str, str], Path]
) -> None:
    old, new, key, message = CATALOGUE_CASES[case]
    path = catalogue_variant(old, new)
    with pytest.raises(ConfigError) as caught:
        load_catalogue(path)
    err = caught.value
    assert err.exit_code == 2
    assert err.file == str(path)
    assert key in (err.key or "") + str(err), f"{case}: key {key!r} not in {err}"
    assert message in str(err)


def test_packaged_catalogue_is_valid_and_complete(catalogue) -> None:
    assert [t.name for t in catalogue.tables] == [
        "U_SSP_VISITS",
        "U_SSP_REFERRALS",
        "U_SSP_CONSENTS",
        "U_SSP_DISCLOSURES",
        "U_SSP_PARTNERS",
    ]
    assert catalogue.choice("purpose").codes[-1] == "follow_up"
    assert catalogue.table("U_SSP_PARTNERS").kind == "standalone"


# (extra ssp.toml text, key fragment, message fragment, file is the config?)
DISTRICT_CASES = {
    "added code with a space": (
        '[choices.purpose]\nadd = [{ code = "vaping concern", label = "Vaping" }]',
        "choices.purpose.add[0].code",
        "must match",
        True,
    ),
    "added code over 20 characters": (
        '[choices.purpose]\nadd = [{ code = "a_very_long_code_name_x", label = "Long" }]',
        "choices.purpose.add[0].code",
        "must match",
        True,
    ),
    "added code duplicates ignoring case": (
        '[choices.purpose]\nadd = [{ code = "CRISIS", label = "Crisis again" }]',
        "choices.purpose.options[10].code",
        "duplicate code 'CRISIS'",
        True,
    ),
    "remove an unknown code": (
        '[choices.purpose]\nremove = ["not_there"]',
        "choices.purpose.remove",
        "cannot remove",
        True,
    ),
    "unknown choice list": (
        '[choices.moods]\nadd = [{ code = "happy", label = "Happy" }]',
        "choices.moods",
        "unknown choice list",
        True,
    ),
    "edit the partner list": (
        '[choices.partner]\nremove = ["cgc"]',
        "choices.partner",
        "[[partners]]",
        True,
    ),
    "remove every option": (
        '[choices.tier]\nremove = ["1", "2", "3"]',
        "choices.tier",
        "empty dropdown",
        True,
    ),
    "empty label": (
        '[choices.purpose]\nadd = [{ code = "vaping", label = "" }]',
        "choices.purpose.add[0].label",
        "must not be empty",
        True,
    ),
    "codes overflow a multichoice field": (
        "[choices.service]\nadd = ["
        + ", ".join(f'{{ code = "extra_service_{i:02d}", label = "S{i}" }}' for i in range(20))
        + "]",
        "choices.service.add",
        "no longer fits",
        True,
    ),
}


@pytest.mark.parametrize("case", sorted(DISTRICT_CASES))
def test_district_choice_edit_rejected_with_file_and_key(
    case: str,
    write_config: Callable[[str], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    extra, key, message, names_config = DISTRICT_CASES[case]
    path = write_config(extra)
    from foundation.config import load_config

    with pytest.raises(ConfigError) as caught:
        load_config(path)
    err = caught.value
    assert key in str(err), f"{case}: {err}"
    assert message in str(err)
    if names_config:
        assert err.file == str(path)
    else:  # the rule is the catalogue field's: the message names the field and the list
        assert isinstance(err, CatalogueError) and err.file

    code = main(["plugin", "build", "--config", str(path), "--out", str(tmp_path / "dist")])
    assert code == 2
    stderr = capsys.readouterr().err
    assert key in stderr and message in stderr
    assert not (tmp_path / "dist").exists()


def test_district_add_and_remove_change_the_dropdown(make_config) -> None:
    config = make_config(
        '[choices.purpose]\nadd = [{ code = "VAPING", label = "Vaping concern" }]\nremove = ["peer_conflict"]'
    )
    purpose = config.catalogue().choice("purpose")
    assert "peer_conflict" not in purpose.codes
    assert purpose.codes[-1] == "VAPING"  # stored as written, appended after the kept defaults
    assert purpose.label_for("VAPING") == "Vaping concern"


def test_remove_matches_codes_ignoring_case(make_config) -> None:
    config = make_config('[choices.urgency]\nremove = ["CRISIS"]')
    assert config.catalogue().choice("urgency").codes == ("routine", "urgent")
