"""Helpers shared by the sandbox tests (imported by module name; conftest holds the fixtures)."""

from __future__ import annotations

import io
import zipfile

import requests

from sandbox import Sandbox

NAMESPACE = "org.bridgeport.ssp"
REFERRALS_Q = f"{NAMESPACE}.referrals.changed_since"
VISITS_Q = f"{NAMESPACE}.visits.changed_since"
CONSENTS_Q = f"{NAMESPACE}.consents.changed_since"
BY_NUMBER_Q = f"{NAMESPACE}.students.dcid_by_number"
EPOCH = "2000-01-01 00:00:00"


def token(sb: Sandbox) -> str:
    reply = requests.post(
        f"{sb.base_url}/oauth/access_token",
        auth=(sb.client_id, sb.client_secret),
        data={"grant_type": "client_credentials"},
        timeout=5,
    )
    reply.raise_for_status()
    return reply.json()["access_token"]


def authorised_session(sb: Sandbox) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token(sb)}"
    return session


def make_zip(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return buffer.getvalue()


def plugin_xml(
    name: str, access: list[tuple[str, str, str]] | tuple = (), *, oauth: bool = True
) -> str:
    fields = "".join(f'<field table="{t}" field="{f}" access="{a}"/>' for t, f, a in access)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<plugin xmlns="http://plugin.powerschool.pearson.com" '
        f'name="{name}" version="1.0.0" description="test">'
        '<publisher name="Test"><contact email="t@example.org"/></publisher>'
        + ("<oauth/>" if oauth else "")
        + (f"<access_request>{fields}</access_request>" if fields else "")
        + "</plugin>"
    )


def build_zip(
    name: str = "Test Plugin",
    *,
    access: list[tuple[str, str, str]] | tuple = (),
    oauth: bool = True,
    schema: str | None = None,
    queries: str | None = None,
    extra: dict[str, str | bytes] | None = None,
) -> bytes:
    files: dict[str, str | bytes] = {"plugin.xml": plugin_xml(name, access, oauth=oauth)}
    if schema is not None:
        files["user_schema_root/U_TEST.xml"] = schema
    if queries is not None:
        files["queries_root/org.test.named_queries.xml"] = queries
    files.update(extra or {})
    return make_zip(files)


def psext(body: str, group: str = "U_TEST") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<psExtension xmlns="http://www.powerschool.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://www.powerschool.com psextension.xsd">'
        f"<extensionname>{group}</extensionname>{body}</psExtension>"
    )


def named_queries(*queries: str) -> str:
    return "<queries>" + "".join(queries) + "</queries>"


def query_xml(
    name: str, sql: str, columns: list[tuple[str, str]], args: str = "", core: str = "students"
) -> str:
    cols = "".join(f'<column column="{c}">{alias}</column>' for c, alias in columns)
    return (
        f'<query name="{name}" coreTable="{core}" flattened="true"><summary>s</summary>'
        f"<args>{args}</args><columns>{cols}</columns><sql><![CDATA[{sql}]]></sql></query>"
    )
