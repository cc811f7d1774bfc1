"""`ssp plugin build | preview | diff`: thin command functions over plugin.build and plugin.package.

Each takes the parsed argparse namespace and returns the exit code; errors are SSPErrors that
ssp.cli turns into a message and exit code 2 (bad configuration or input).
"""

from __future__ import annotations

import argparse

from plugin.build import build_plugins, render_preview
from plugin.package import read_schema, schema_changes
from ssp.config import load_config

__all__ = ["build", "preview", "diff"]


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


def diff(args: argparse.Namespace) -> int:
    """Exit 1 with one line per unsafe schema change between two DATA zips, else 0."""
    changes = schema_changes(read_schema(args.old), read_schema(args.new))
    if changes.unsafe:
        for line in changes.unsafe:
            print(f"unsafe: {line}")
        return 1
    print("no unsafe schema changes")
    for line in changes.additions:
        print(f"safe: {line}")
    return 0
