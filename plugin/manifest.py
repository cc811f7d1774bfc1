"""plugin.xml for the DATA and the UI plugin (shared/reference section 1).

The UI plugin carries `<oauth/>` (PowerSchool then issues the connector's client id and secret)
and an `<access_request>` derived from plugin.queries, never listed by hand. `accessLevelV1Api` is
emitted only when a `/ws/v1` resource is used: the connector uses `/ws/schema` plus
`/ws/v1/metadata`, which needs no v1 access level, so by default it is absent and plugin.xml
validates against the public (2020) XSD copy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from lxml import etree

from foundation.errors import ConfigError
from plugin.escaping import xml_bytes
from plugin.queries import AccessField

__all__ = ["PLUGIN_NS", "Manifest", "plugin_xml"]

PLUGIN_NS = "http://plugin.powerschool.pearson.com"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
V1Access = Literal["READ", "FULL"]
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*$")
# PowerSchool's limits (reference 1.2, 1.4, 1.6): attribute -> (max length, config key).
_LIMITS = {
    "name": (40, "plugin.name"),
    "version": (20, "plugin.version"),
    "description": (256, "plugin.description"),
    "publisher": (100, "district.publisher"),
    "email": (40, "district.contact_email"),
}


@dataclass(frozen=True)
class Manifest:
    """What goes into one plugin.xml. `source` names the config file for error messages."""

    name: str
    version: str
    description: str
    publisher: str
    email: str
    oauth: bool = False
    access: Sequence[AccessField] = ()
    v1_access: V1Access | None = None
    source: str = "ssp.toml"

    def check(self) -> None:
        """Raise ConfigError naming the config key whose value breaks a PowerSchool limit."""
        for attr, (limit, key) in _LIMITS.items():
            value = getattr(self, attr)
            if len(value) > limit or (attr != "description" and not value):
                raise ConfigError(
                    f"must be 1-{limit} characters, got {len(value)}", file=self.source, key=key
                )
        if not _VERSION.match(self.version):
            raise ConfigError(
                "a plugin version holds digits and dots only",
                file=self.source,
                key="plugin.version",
            )
        if self.access and not self.oauth:
            raise ConfigError("an access_request needs <oauth/>", file=self.source, key="plugin")
        for f in self.access:
            if not (0 < len(f.table) <= 30 and 0 < len(f.field) <= 30):
                raise ConfigError(
                    f"{f.table}.{f.field}: access_request names are 1-30 characters",
                    file="plugin/queries.py",
                    key="access_request",
                )


def plugin_xml(manifest: Manifest) -> bytes:
    """The plugin.xml document; attribute values are escaped and PowerSchool tags neutralised."""
    manifest.check()
    root = etree.Element(f"{{{PLUGIN_NS}}}plugin", nsmap={None: PLUGIN_NS, "xsi": _XSI})
    root.set(f"{{{_XSI}}}schemaLocation", f"{PLUGIN_NS} plugin.xsd")
    root.set("name", manifest.name)
    root.set("version", manifest.version)
    root.set("description", manifest.description)
    publisher = etree.SubElement(root, f"{{{PLUGIN_NS}}}publisher", name=manifest.publisher)
    etree.SubElement(publisher, f"{{{PLUGIN_NS}}}contact", email=manifest.email)
    if manifest.oauth:
        oauth = etree.SubElement(root, f"{{{PLUGIN_NS}}}oauth")
        if manifest.v1_access:
            oauth.set("accessLevelV1Api", manifest.v1_access)
    if manifest.access:
        request = etree.SubElement(root, f"{{{PLUGIN_NS}}}access_request")
        for f in manifest.access:
            etree.SubElement(
                request, f"{{{PLUGIN_NS}}}field", table=f.table, field=f.field, access=f.access
            )
    return xml_bytes(root)
