"""Orchestration: configuration + catalogue -> the DATA zip, the UI zip and the preview.

Two plugins because deleting a plugin may drop its schema (reference 7.2): the DATA plugin holds
only `user_schema_root/` and is installed once; the UI plugin (page, fragment, PowerQueries,
access request) is upgraded freely. Each is versioned on its own (plugin.versions): a build whose
content changed gets a higher version, an unchanged one keeps its version and its exact bytes. The
UI plugin's description names the DATA version it needs, because PowerSchool refuses a UI upload
whose access request names a field the installed DATA plugin does not define yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import foundation
from foundation.catalogue import Catalogue
from foundation.config import SSPConfig
from foundation.errors import ConfigError
from plugin.manifest import Manifest, V1Access, plugin_xml
from plugin.package import write_zip
from plugin.pages import page_files
from plugin.preview import write_preview
from plugin.queries import access_request
from plugin.queries_xml import queries_files
from plugin.schema import schema_files
from plugin.versions import (
    PreviousBuild,
    choose_version,
    first_version,
    previous_from_zip,
    read_state,
    requires_text,
    version_key,
    write_state,
)

__all__ = [
    "release_version",
    "data_name",
    "ui_description",
    "data_files",
    "ui_files",
    "build_plugins",
    "render_preview",
    "zip_names",
]


def release_version(config: SSPConfig) -> str:
    """The release part of both versions: `[plugin] version`, else the ssp package version."""
    return config.plugin.version or foundation.__version__


def data_name(config: SSPConfig) -> str:
    return f"{config.plugin.name} DATA"


def zip_names(data_version: str, ui_version: str) -> tuple[str, str]:
    return f"ssp-data-{data_version}.zip", f"ssp-ui-{ui_version}.zip"


def _manifest(config: SSPConfig, version: str, **kwargs: object) -> Manifest:
    base = dict(
        version=version,
        publisher=config.district.publisher,
        email=config.district.contact_email,
        source=config.source,
    )
    base.update(kwargs)
    return Manifest(**base)  # type: ignore[arg-type]


def data_files(
    config: SSPConfig, cat: Catalogue, *, version: str | None = None
) -> dict[str, bytes]:
    """plugin.xml (no oauth, no access request) and the psExtension schema."""
    version = version or first_version(release_version(config))
    name = data_name(config)
    description = (
        f"Database extensions ({cat.group}) for {config.plugin.name}. "
        "Install before the UI plugin. "
        "Never delete this plugin: its tables hold the student support records."
    )
    files = {
        "plugin.xml": plugin_xml(
            _manifest(config, version, name=name, description=description[:256])
        )
    }
    files.update(schema_files(cat))
    return files


def ui_description(config: SSPConfig, data_version: str) -> str:
    """The DATA requirement first (so it is never cut), then the district's text, within 256."""
    text = f"{requires_text(data_name(config), data_version)} {config.plugin.description}".strip()
    return text if len(text) <= 256 else text[:255].rstrip() + "\u2026"


def ui_files(
    config: SSPConfig,
    cat: Catalogue,
    *,
    version: str | None = None,
    data_version: str | None = None,
    v1_access: V1Access | None = None,
) -> dict[str, bytes]:
    """plugin.xml with <oauth/> and the derived access request, PowerQueries, page, fragment, nav.

    No permissions_root: the page reads disclosures server-side with tlist_sql and calls no
    PowerQuery from the browser, so no permission mapping is needed.
    """
    version = version or first_version(release_version(config))
    data_version = data_version or first_version(release_version(config))
    namespace = config.district.query_namespace
    manifest = _manifest(
        config,
        version,
        name=config.plugin.name,
        description=ui_description(config, data_version),
        oauth=True,
        access=access_request(cat, namespace),
        v1_access=v1_access,
    )
    files = {"plugin.xml": plugin_xml(manifest)}
    files.update(queries_files(cat, namespace))
    files.update(page_files(config, cat, version))
    return files


def _previous_builds(
    config: SSPConfig, out_dir: Path, previous: Sequence[Path]
) -> dict[str, PreviousBuild]:
    """The last build of each plugin: the record beside the zips, or a zip named with
    --previous when that one is higher (an installed zip built elsewhere)."""
    builds = read_state(out_dir)
    ours = {data_name(config), config.plugin.name}
    for path in previous:
        build = previous_from_zip(path)
        if build.name not in ours:
            raise ConfigError(
                f"this is the plugin {build.name!r}, not {' or '.join(sorted(map(repr, ours)))}",
                file=str(path),
            )
        known = builds.get(build.name)
        if known is None or version_key(build.version) >= version_key(known.version):
            builds[build.name] = build
    return builds


def build_plugins(
    config: SSPConfig, out_dir: Path, *, previous: Sequence[Path] = ()
) -> tuple[Path, Path]:
    """Write both zips into `out_dir`, record their versions beside them; (DATA zip, UI zip).

    `previous` names earlier zips (typically the installed ones) the new versions must exceed.
    """
    cat = config.catalogue()
    release = release_version(config)
    builds = _previous_builds(config, out_dir, previous)
    try:
        data_version, data = choose_version(
            lambda v: data_files(config, cat, version=v), release, builds.get(data_name(config))
        )
        ui_version, ui = choose_version(
            lambda v: ui_files(config, cat, version=v, data_version=data_version),
            release,
            builds.get(config.plugin.name),
        )
    except ConfigError as exc:
        if exc.file is not None:
            raise
        message = str(exc).removeprefix(f"{exc.key}: ") if exc.key else str(exc)
        raise ConfigError(message, file=config.source, key=exc.key) from None
    data_zip, ui_zip = zip_names(data_version, ui_version)
    data_path = write_zip(out_dir / data_zip, data)
    ui_path = write_zip(out_dir / ui_zip, ui)
    write_state(
        out_dir,
        [
            (data_name(config), data_version, data, data_zip),
            (config.plugin.name, ui_version, ui, ui_zip),
        ],
    )
    return data_path, ui_path


def render_preview(config: SSPConfig, out_dir: Path) -> Path:
    """Write the offline preview pages into `out_dir`; returns the landing page's path."""
    return write_preview(config, config.catalogue(), out_dir)
