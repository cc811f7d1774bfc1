"""`ssp plugin build | preview | diff | lint`: thin command functions over plugin.build,
plugin.package and plugin.lint.

Each takes the parsed argparse namespace and returns the exit code; errors are SSPErrors that
ssp.cli turns into a message and exit code 2 (bad configuration or input).
"""

from __future__ import annotations

import argparse

from plugin.build import build_plugins, render_preview
from plugin.package import PluginZip, read_plugin_zip, read_schema, schema_changes
from plugin.versions import is_version, parse_requires, version_increases
from foundation.config import load_config
from foundation.errors import ConfigError

__all__ = ["build", "preview", "diff", "lint"]


def build(args: argparse.Namespace) -> int:
    """Write the DATA and UI zips into --out and print their paths, one per line."""
    config = load_config(args.config)
    for path in build_plugins(config, args.out, previous=args.previous):
        print(path)
    return 0


def preview(args: argparse.Namespace) -> int:
    """Write the offline preview of the Student Support Page and print its path."""
    config = load_config(args.config)
    print(render_preview(config, args.out))
    return 0


def _upgrade_problems(old: PluginZip, new: PluginZip) -> list[str]:
    """Why PowerSchool would refuse NEW as an upgrade of OLD (same name, higher version)."""
    problems = []
    if old.name != new.name:
        problems.append(
            f"plugin name changed: {old.name!r} -> {new.name!r} (PowerSchool would install a "
            "second plugin instead of upgrading this one)"
        )
    for label, version in (("old", old.version), ("new", new.version)):
        if not is_version(version):
            problems.append(f"{label} version {version!r} is not digits and dots")
    if problems or old.files == new.files:
        return problems
    if not version_increases(old.version, new.version):
        problems.append(
            f"content changed but the version did not increase: {old.version} -> {new.version} "
            "(PowerSchool rejects a re-upload at the same or a lower version; a version must "
            "rise both part by part and as text)"
        )
    return problems


def _requirement_lines(old: PluginZip, new: PluginZip) -> list[str]:
    required = parse_requires(new.description)
    if required is None:
        return []
    name, version = required
    before = parse_requires(old.description)
    was = f" (was {before[1]})" if before and before[1] != version else ""
    return [f"requires: {name} {version} or later{was}: install or upgrade it before this zip"]


def diff(args: argparse.Namespace) -> int:
    """Exit 1 with one line per problem: a schema change PowerSchool cannot apply or that loses
    data (DATA zips), a renamed plugin, or changed content without a higher version."""
    old, new = read_plugin_zip(args.old), read_plugin_zip(args.new)
    if old.is_data != new.is_data:
        data, other = (old, new) if old.is_data else (new, old)
        raise ConfigError(
            f"no user_schema_root/ in this zip, but {data.path.name} is a DATA plugin: "
            "compare DATA with DATA and UI with UI",
            file=str(other.path),
        )
    unsafe = _upgrade_problems(old, new)
    additions: list[str] = []
    if old.is_data:
        changes = schema_changes(read_schema(args.old), read_schema(args.new))
        unsafe = changes.unsafe + unsafe
        additions = changes.additions
    if unsafe:
        for line in unsafe:
            print(f"unsafe: {line}")
        return 1
    print("no unsafe schema changes" if old.is_data else "no unsafe changes")
    for line in additions:
        print(f"safe: {line}")
    if old.files == new.files:
        print(f"same content, same version {new.version}: nothing to upgrade")
    else:
        print(f"version: {old.version} -> {new.version}")
    for line in _requirement_lines(old, new):
        print(line)
    return 0


def lint(args: argparse.Namespace) -> int:
    """One line per finding (`ZIP:path:LINE: error|warning: message`) and a summary line;
    exit 1 when there is an error."""
    from plugin.lint import lint_zips

    report = lint_zips(args.zips, data=args.data)
    for finding in report.findings:
        print(finding)
    print(report.summary())
    return 1 if report.errors else 0
