"""plugin.xml rules: the public XSD (with its known newer extras), version, access request.

`plugin.xsd` beside this module is an unmodified copy of `src/plugin.xsd` of
grantholle/powerschool-plugin-xml-builder at 2315eaca9abdd3aaa67811aecbea99f951bd38da (MIT,
licence in `plugin.xsd.LICENSE.md`), a third-party copy of PowerSchool's schema.

The XSD copy (2020) predates `oauth@accessLevelV1Api`, `access_request/cdn_request` and the
`teacher.pro.apps` ui_context; those are checked here by hand and removed from a copy of the
document before it is validated, so a current plugin.xml is not reported for them. The XSD
enforces the limits (name 40, description 256, email 40, access_request names 30, ...).
"""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from importlib import resources

from lxml import etree

from plugin.lint.model import PluginArchive, local, parse_xml

__all__ = ["check_manifest", "PLUGIN_NS"]

PLUGIN_NS = "http://plugin.powerschool.pearson.com"
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_V1_LEVELS = {"NONE", "READ", "FULL"}
_CDN_MAX = 300
_PATH = "plugin.xml"


@lru_cache(maxsize=1)
def _xsd() -> etree.XMLSchema:
    with resources.files("plugin.lint").joinpath("plugin.xsd").open("rb") as fh:
        return etree.XMLSchema(etree.parse(fh))


def _without_known_extras(archive: PluginArchive, root: etree._Element) -> etree._Element:
    """A copy without what the 2020 XSD does not know, after checking those parts here."""
    doc = copy.deepcopy(root)
    for oauth in doc.iter(f"{{{PLUGIN_NS}}}oauth"):
        level = oauth.get("accessLevelV1Api")
        if level is not None:
            if level not in _V1_LEVELS:
                archive.error(
                    _PATH, oauth.sourceline, f"accessLevelV1Api={level!r}: use NONE, READ or FULL"
                )
            del oauth.attrib["accessLevelV1Api"]
    for cdn_request in list(doc.iter(f"{{{PLUGIN_NS}}}cdn_request")):
        for cdn in cdn_request:
            name = cdn.get("name") or ""
            if local(cdn) == "cdn" and not 0 < len(name) <= _CDN_MAX:
                archive.error(_PATH, cdn.sourceline, f"cdn name must be 1-{_CDN_MAX} characters")
        cdn_request.getparent().remove(cdn_request)
    for ctx in doc.iter(f"{{{PLUGIN_NS}}}ui_context"):
        if ctx.get("id") == "teacher.pro.apps":
            ctx.set("id", "teacher.header")
    return doc


def _xsd_message(message: str) -> str:
    return message.replace(f"{{{PLUGIN_NS}}}", "")


def check_manifest(archive: PluginArchive) -> None:
    if _PATH not in archive.files:
        return
    root = parse_xml(archive, _PATH)
    if root is None:
        return
    if root.tag != f"{{{PLUGIN_NS}}}plugin":
        archive.error(
            _PATH, root.sourceline,
            f'the root element must be <plugin xmlns="{PLUGIN_NS}"> (found {root.tag!r})',
        )
        return
    schema = _xsd()
    if not schema.validate(_without_known_extras(archive, root)):
        for err in schema.error_log:
            archive.error(_PATH, err.line, f"plugin.xsd: {_xsd_message(err.message)}")
    version = root.get("version")
    archive.name = root.get("name") or ""
    archive.version = version or ""
    archive.description = root.get("description") or ""
    if version is None:
        archive.warning(
            _PATH, root.sourceline,
            "no version: PowerSchool upgrades a plugin only to a higher version",
        )
    elif not _VERSION.match(version):
        archive.error(
            _PATH, root.sourceline, f"version {version!r} must be digits and dots only (e.g. 1.2.0)"
        )
    archive.has_oauth = root.find(f"{{{PLUGIN_NS}}}oauth") is not None
    _read_access(archive, root)


def _read_access(archive: PluginArchive, root: etree._Element) -> None:
    request = root.find(f"{{{PLUGIN_NS}}}access_request")
    if request is None:
        return
    fields = [f for f in request if local(f) == "field"]
    if fields and not archive.has_oauth:
        archive.warning(
            _PATH, request.sourceline,
            "access_request without <oauth/>: no client credentials are issued, so nothing can "
            "use these grants",
        )
    for f in fields:
        key = ((f.get("table") or "").upper(), (f.get("field") or "").upper())
        if key in archive.access:
            archive.warning(_PATH, f.sourceline, f"{key[0]}.{key[1]} is requested twice")
            if f.get("access") != "FullAccess":
                continue
        archive.access[key] = (f.get("access") or "", f.sourceline or 0)
