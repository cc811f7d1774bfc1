"""Plugin versions PowerSchool accepts on every upgrade.

PowerSchool rejects a re-upload of a plugin (same `name`) at the same or a lower `version`, and the
way out (delete and reinstall) replaces the connector's client id and secret and, for the DATA
plugin, risks the student records. So every build whose content differs from the previous build
of that plugin gets a strictly higher version, and a build whose content is unchanged keeps the
previous version (so its zip is byte-identical to the previous one).

A version is `<release>.<build>`: the release is `[plugin] version` from ssp.toml (default: the
`ssp` package version) and the build is a counter of four digits. The previous build of each plugin
is remembered in `ssp-plugin-versions.json` beside the zips, or read from an installed zip named
with `ssp plugin build --previous`. The counter has a fixed width because PowerSchool's comparison
is undocumented: ISA's published Alerts plugin went from 1.475 to 1.48, which is an upgrade only in
text (or decimal) order, so a version must increase both part by part and as text; "0.1.0.0010"
after "0.1.0.0009" does, "0.1.0.10" after "0.1.0.9" would not.

"Content" means every file of the zip rendered at a given version: the previous build's files are
rendered again at the previous version and compared with what was recorded, so the version inside
plugin.xml or pagecataloging never makes identical content look changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from foundation.errors import ConfigError

__all__ = [
    "STATE_FILE",
    "COUNTER_WIDTH",
    "MAX_VERSION_LENGTH",
    "PreviousBuild",
    "content_digest",
    "first_version",
    "next_version",
    "choose_version",
    "is_version",
    "version_increases",
    "version_key",
    "read_state",
    "write_state",
    "previous_from_zip",
    "manifest_identity",
    "requires_text",
    "parse_requires",
]

STATE_FILE = "ssp-plugin-versions.json"
COUNTER_WIDTH = 4
MAX_VERSION_LENGTH = 20
"""plugin@version is at most 20 characters (XSD string20)."""
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_REQUIRES = re.compile(
    r"Requires (?P<name>.+?) (?P<version>[0-9]+(?:\.[0-9]+)*) or later \(install it first\)\."
)


@dataclass(frozen=True)
class PreviousBuild:
    """What is known of the last build of one plugin: its name, version and content digest."""

    name: str
    version: str
    digest: str
    source: str


def is_version(text: str) -> bool:
    return bool(_VERSION.match(text))


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def version_increases(old: str, new: str) -> bool:
    """True when `new` is higher than `old` both part by part and in text order."""
    return version_key(new) > version_key(old) and new > old


def content_digest(files: Mapping[str, bytes]) -> str:
    """sha256 over the sorted entry names and their bytes."""
    h = hashlib.sha256()
    for name in sorted(files):
        data = files[name]
        h.update(f"{name}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def first_version(release: str) -> str:
    return _checked(f"{release}.{1:0{COUNTER_WIDTH}d}", release)


def next_version(previous: str, release: str) -> str:
    """The lowest `<release>.<build>` above `previous`; ConfigError if the release is too low."""
    candidate = first_version(release)
    if version_increases(previous, candidate):
        return candidate
    prefix = release + "."
    if previous.startswith(prefix):
        counter = previous[len(prefix):].split(".")[0]
        candidate = _checked(f"{release}.{int(counter) + 1:0{COUNTER_WIDTH}d}", release)
        if version_increases(previous, candidate):
            return candidate
    if version_key(first_version(release)) > version_key(previous):
        raise ConfigError(
            f"release {release} is above the previous build {previous} as numbers but not as "
            "text, and PowerSchool's comparison is undocumented: pick a release that is higher "
            "both ways (for example keep the same number of digits in each part)",
            key="plugin.version",
        )
    raise ConfigError(
        f"release {release} cannot give a version above the previous build {previous}: "
        "PowerSchool rejects an upgrade to the same or a lower version. "
        f"Set [plugin] version above {previous.rsplit('.', 1)[0]} (or remove it)",
        key="plugin.version",
    )


def _checked(version: str, release: str) -> str:
    counter = version.rsplit(".", 1)[1]
    if len(counter) > COUNTER_WIDTH:
        raise ConfigError(
            f"release {release} has used all {10**COUNTER_WIDTH - 1} build numbers: "
            "raise [plugin] version",
            key="plugin.version",
        )
    if len(version) > MAX_VERSION_LENGTH:
        raise ConfigError(
            f"version {version} is longer than PowerSchool's {MAX_VERSION_LENGTH} characters: "
            f"use a release of at most {MAX_VERSION_LENGTH - COUNTER_WIDTH - 1} characters",
            key="plugin.version",
        )
    return version


def choose_version(
    render: Callable[[str], Mapping[str, bytes]], release: str, previous: PreviousBuild | None
) -> tuple[str, Mapping[str, bytes]]:
    """The version of this build and its files: the previous version if the content is unchanged."""
    if previous is not None:
        files = render(previous.version)
        if content_digest(files) == previous.digest:
            return previous.version, files
        version = next_version(previous.version, release)
    else:
        version = first_version(release)
    return version, render(version)


def read_state(out_dir: Path) -> dict[str, PreviousBuild]:
    """The previous builds recorded beside the zips, by plugin name ({} when there is none)."""
    path = out_dir / STATE_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot read the build record ({exc.__class__.__name__}); restore it, or move it "
            "away and pass the installed zips with --previous",
            file=str(path),
        ) from None
    builds: dict[str, PreviousBuild] = {}
    for entry in raw.get("plugins", []) if isinstance(raw, dict) else []:
        try:
            name, version, digest = entry["name"], entry["version"], entry["content_sha256"]
        except (KeyError, TypeError):
            raise ConfigError("a plugins entry lacks name, version or content_sha256",
                              file=str(path)) from None
        if not is_version(str(version)):
            raise ConfigError(f"version {version!r} is not digits and dots", file=str(path))
        builds[name] = PreviousBuild(name, str(version), str(digest), str(path))
    return builds


def write_state(out_dir: Path, builds: Iterable[tuple[str, str, Mapping[str, bytes], str]]) -> Path:
    """Record (name, version, files, zip file name) of each plugin just built, atomically."""
    path = out_dir / STATE_FILE
    entries = [
        {"name": name, "version": version, "content_sha256": content_digest(files), "zip": zip_name}
        for name, version, files, zip_name in builds
    ]
    text = json.dumps({"plugins": sorted(entries, key=lambda e: e["name"])}, indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".part", dir=out_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def previous_from_zip(path: Path) -> PreviousBuild:
    """Name, version and content digest of an earlier (installed) plugin zip."""
    try:
        with zipfile.ZipFile(path) as zf:
            files = {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}
    except (OSError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"cannot read the plugin zip ({exc.__class__.__name__})",
                          file=str(path)) from None
    name, version = manifest_identity(files.get("plugin.xml"), str(path))
    return PreviousBuild(name, version, content_digest(files), str(path))


def manifest_identity(plugin_xml: bytes | None, where: str) -> tuple[str, str]:
    """(name, version) from a plugin.xml; ConfigError when absent or unreadable."""
    if plugin_xml is None:
        raise ConfigError("no plugin.xml at the zip root", file=where)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(plugin_xml, parser)
    except etree.XMLSyntaxError as exc:
        raise ConfigError(f"plugin.xml is not well-formed XML ({exc})", file=where) from None
    name, version = root.get("name") or "", root.get("version") or ""
    if not is_version(version):
        raise ConfigError(f"plugin.xml version {version!r} is not digits and dots", file=where)
    return name, version


def requires_text(data_name: str, data_version: str) -> str:
    """The sentence the UI plugin's description starts with."""
    return f"Requires {data_name} {data_version} or later (install it first)."


def parse_requires(description: str) -> tuple[str, str] | None:
    """(DATA plugin name, version) named by `requires_text` in a description, if any."""
    match = _REQUIRES.search(description)
    return (match["name"], match["version"]) if match else None
