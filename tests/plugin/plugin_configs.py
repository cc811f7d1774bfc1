"""Configuration snippets and paths shared by the plugin generator tests.

Kept out of conftest.py: several test folders have a conftest, and importing names from
"conftest" picks whichever one pytest loaded last.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

__all__ = ["DATA", "BASE_CONFIG", "PARTNER"]

DATA = Path(__file__).parent / "data"

BASE_CONFIG = textwrap.dedent(
    """
    [district]
    name = "Test District"
    publisher = "Test District"
    contact_email = "sis@district.example.org"
    query_namespace = "org.testdistrict.ssp"

    [powerschool]
    base_url = "https://district.powerschool.example"
    """
)

PARTNER = textwrap.dedent(
    """
    [[partners]]
    id = "cgc"
    name = "{name}"
    feed = {{ kind = "csv", inbox = "in", outbox = "out" }}
    mou = {{ effective = 2026-08-01, expires = 2027-07-31, to_partner = ["identity", "referral"] }}
    """
)
