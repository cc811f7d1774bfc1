"""Orchestration: configuration + catalogue -> the DATA zip, the UI zip and the preview.

Two plugins because deleting a plugin may drop its schema (reference 7.2): the DATA plugin holds
only `user_schema_root/` and is installed once; the UI plugin (page, fragment, PowerQueries,
access request) can be upgraded or reinstalled freely.
"""

from __future__ import annotations

from pathlib import Path

import ssp
from plugin.catalogue import Catalogue
from plugin.manifest import Manifest, V1Access, plugin_xml
from plugin.package import write_zip
from plugin.pages import page_files
from plugin.preview import write_preview
from plugin.queries import access_request
from plugin.queries_xml import queries_files
from plugin.schema import schema_files
from ssp.config import SSPConfig

__all__ = [
    "plugin_version",
    "data_files",
    "ui_files",
    "build_plugins",
    "render_preview",
    "zip_names",
]


def plugin_version(config: SSPConfig) -> str:
    return config.plugin.version or ssp.__version__


def zip_names(config: SSPConfig) -> tuple[str, str]:
    version = plugin_version(config)
    return f"ssp-data-{version}.zip", f"ssp-ui-{version}.zip"


def _manifest(config: SSPConfig, **kwargs: object) -> Manifest:
    base = dict(
        version=plugin_version(config),
        publisher=config.district.publisher,
        email=config.district.contact_email,
        source=config.source,
    )
    base.update(kwargs)
    return Manifest(**base)  # type: ignore[arg-type]


def data_files(config: SSPConfig, cat: Catalogue) -> dict[str, bytes]:
    """plugin.xml (no oauth, no access request) and the psExtension schema."""
    name = f"{config.plugin.name} DATA"
    description = (
        f"Database extensions ({cat.group}) for {config.plugin.name}. "
        "Install before the UI plugin. "
        "Never delete this plugin: its tables hold the student support records."
    )
    files = {"plugin.xml": plugin_xml(_manifest(config, name=name, description=description[:256]))}
    files.update(schema_files(cat))
    return files


def ui_files(
    config: SSPConfig, cat: Catalogue, *, v1_access: V1Access | None = None
) -> dict[str, bytes]:
    """plugin.xml with <oauth/> and the derived access request, PowerQueries, page, fragment, nav.

    No permissions_root: the page reads disclosures server-side with tlist_sql and calls no
    PowerQuery from the browser, so no permission mapping is needed.
    """
    namespace = config.district.query_namespace
    manifest = _manifest(
        config,
        name=config.plugin.name,
        description=config.plugin.description,
        oauth=True,
        access=access_request(cat, namespace),
        v1_access=v1_access,
    )
    files = {"plugin.xml": plugin_xml(manifest)}
    files.update(queries_files(cat, namespace))
    files.update(page_files(config, cat, plugin_version(config)))
    return files


def build_plugins(config: SSPConfig, out_dir: Path) -> tuple[Path, Path]:
    """Write both zips into `out_dir`; returns (DATA zip, UI zip)."""
    cat = config.catalogue()
    data_name, ui_name = zip_names(config)
    data = write_zip(out_dir / data_name, data_files(config, cat))
    ui = write_zip(out_dir / ui_name, ui_files(config, cat))
    return data, ui


def render_preview(config: SSPConfig, out_dir: Path) -> Path:
    """Write the offline preview pages into `out_dir`; returns the landing page's path."""
    return write_preview(config, config.catalogue(), out_dir)
