"""ssp.toml validation: errors name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.config import demo_config_text, parse_config_text


def test_duplicate_partner_id_is_a_config_error_naming_the_partners_key(tmp_path: Path):
    from foundation.errors import ConfigError

    text = demo_config_text().replace('id = "bhcare"', 'id = "cgc"')
    with pytest.raises(ConfigError, match=r"ssp.toml: partners: partner id 'cgc' appears twice"):
        parse_config_text(text, source="ssp.toml", base_dir=tmp_path)
