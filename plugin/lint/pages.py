"""web_root rules: PowerSchool tag balance, tlist tags, and navigation links behind `pagenone`.

PowerSchool expands `~[if.cond]...[else]...[/if]` (labelled `~[if#x.cond]...[/if#x]` when nested)
and `~[tlist_sql;...]...[/tlist_sql]` on the server; an opener without its closer (or the reverse)
swallows or prints the rest of the page. `~[tlist_child:CORE.GROUP.TABLE;displaycols:...;
fieldNames:...;type:html]` must name a child table and pair each column with a heading. A link a
navigation fragment adds must sit in the `[else]` branch of `~[if.security.pagenone=<page>]`, so
staff without access to the page do not see it (the page permission still protects the data; the
guard keeps the menu honest), as published plugins do.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from plugin.lint.model import FieldUse, PluginArchive, decode, line_of
from plugin.lint.sqlrefs import column_refs

__all__ = ["check_pages", "Block", "blocks"]

_PAGE_SUFFIXES = (".html", ".htm", ".txt", ".json")
_TAG = re.compile(
    r"~\[(?P<open>if|tlist_sql)(?P<olabel>#\w+)?(?=[.;])"
    r"|\[(?P<else>else)(?P<elabel>#\w+)?\]"
    r"|\[/(?P<close>if|tlist_sql)(?P<clabel>#\w+)?\]"
)
_IF_COND = re.compile(r"~\[if(?:#\w+)?\.([^\]]*)\]")
_TLIST = re.compile(r"~\[(tlist_child|tlist_standalone):([^\]]*)\]", re.S)
_TLIST_SQL = re.compile(r"~\[tlist_sql;")
_ONE_TO_ONE = re.compile(r"\[\s*(\w+)\.(U_\w+)\s*\](\w+)", re.I)
_HREF = re.compile(
    r"""(?:\bhref\s*=\s*\\?["']|\.attr\(\s*["']href["']\s*,\s*["'])([^"'\\]+)""", re.I
)
_TLIST_OPTIONS = {"displaycols", "fieldnames", "type"}


@dataclass
class Block:
    kind: str
    label: str
    start: int
    line: int
    condition: str = ""
    else_at: int | None = None
    end: int | None = None
    children: list[Block] = field(default_factory=list)


def blocks(archive: PluginArchive | None, path: str, text: str) -> list[Block]:
    """Every if/tlist_sql block with its [else] and closer; unbalanced tags become errors."""
    stack: list[Block] = []
    done: list[Block] = []
    for m in _TAG.finditer(text):
        line = line_of(text, m.start())
        if m.group("open"):
            cond = _IF_COND.match(text, m.start())
            stack.append(Block(m.group("open"), m.group("olabel") or "", m.start(), line,
                               cond.group(1) if cond else ""))
        elif m.group("else"):
            label = m.group("elabel") or ""
            target = next((b for b in reversed(stack) if b.kind == "if" and b.label == label), None)
            if target is None:
                if archive:
                    archive.error(path, line, f"[else{label}] outside any ~[if{label}...]")
            else:
                target.else_at = m.start()
        else:
            kind, label = m.group("close"), m.group("clabel") or ""
            if not stack or (stack[-1].kind, stack[-1].label) != (kind, label):
                if archive:
                    opened = f" (the open block is ~[{stack[-1].kind}{stack[-1].label} from line " \
                             f"{stack[-1].line})" if stack else ""
                    archive.error(path, line, f"[/{kind}{label}] closes nothing{opened}")
                continue
            block = stack.pop()
            block.end = m.end()
            done.append(block)
    for block in stack:
        if archive:
            archive.error(path, block.line, f"~[{block.kind}{block.label}...] is never closed "
                          f"with [/{block.kind}{block.label}]")
    return done


def check_pages(archive: PluginArchive) -> None:
    for path in archive.under("web_root"):
        archive.pages.add("/" + path.split("/", 1)[1].lower())
    for path in archive.under("web_root", *_PAGE_SUFFIXES):
        text = decode(archive.files[path])
        found = blocks(archive, path, text)
        _tlists(archive, path, text)
        _tlist_sql(archive, path, text)
        for m in _ONE_TO_ONE.finditer(text):
            archive.page_uses.append(FieldUse(m.group(2).upper(), m.group(3).upper(), path,
                                              line_of(text, m.start()), "page"))
        if _is_nav_fragment(path):
            _nav_guards(archive, path, text, found)


def _tlists(archive: PluginArchive, path: str, text: str) -> None:
    for m in _TLIST.finditer(text):
        kind, body = m.group(1), m.group(2)
        line = line_of(text, m.start())
        target, *options = body.split(";")
        parts = target.strip().split(".")
        want = 3 if kind == "tlist_child" else 2
        if len(parts) != want or not all(parts):
            shape = "CORE.GROUP.TABLE" if want == 3 else "GROUP.TABLE"
            archive.error(path, line, f"~[{kind}:{target.strip()}] must name {shape}")
            continue
        values: dict[str, str] = {}
        for opt in options:
            key, _, value = opt.partition(":")
            if key.strip().lower() not in _TLIST_OPTIONS:
                archive.warning(path, line, f"~[{kind}]: unknown option {key.strip()!r} "
                                "(displaycols, fieldNames, type)")
            values[key.strip().lower()] = value
        cols = [c.strip() for c in values.get("displaycols", "").split(",") if c.strip()]
        if not cols:
            archive.error(path, line, f"~[{kind}:{target.strip()}] has no displaycols")
        names = values.get("fieldnames")
        if names is not None and len(names.split(",")) != len(cols):
            archive.warning(path, line, f"~[{kind}]: {len(cols)} displaycols but "
                            f"{len(names.split(','))} fieldNames (headings shift)")
        if values.get("type", "html").strip().lower() not in ("html", "json"):
            archive.error(path, line, f"~[{kind}]: type must be html or json")
        table = parts[-1].upper()
        for col in cols:
            archive.page_uses.append(FieldUse(table, col.upper(), path, line, f"~[{kind}]"))


def _tag_body_end(text: str, start: int) -> int:
    """Index of the `]` closing a tag whose body starts at `start`, skipping `~(...)` values
    (which may hold `[...]`) and SQL string literals; -1 when the tag never closes."""
    i, depth = start, 0
    while i < len(text):
        if text.startswith("~(", i):
            depth, i = depth + 1, i + 2
            continue
        ch = text[i]
        if ch == "'" and not depth:
            close = text.find("'", i + 1)
            i = len(text) if close < 0 else close + 1
            continue
        if depth and ch == ")":
            depth -= 1
        elif not depth and ch == "]":
            return i
        i += 1
    return -1


def _tlist_sql(archive: PluginArchive, path: str, text: str) -> None:
    """Fields the read-only lists read (used only to judge over-privilege, never as missing)."""
    for m in _TLIST_SQL.finditer(text):
        end = _tag_body_end(text, m.end())
        if end < 0:
            continue
        sql = re.sub(r"~\([^)]*\)", "0", text[m.end():end].split(";")[0])
        for table, col in column_refs(sql, loose=True):
            archive.page_uses.append(FieldUse(table, col, path, line_of(text, m.start()),
                                              "~[tlist_sql]"))


def _is_nav_fragment(path: str) -> bool:
    name = path.rsplit("/", 1)[-1].lower()
    return name.endswith(".txt") and ".leftnav." in name


def _nav_guards(archive: PluginArchive, path: str, text: str, found: list[Block]) -> None:
    folder = "/" + posixpath.dirname(path.split("/", 1)[1])
    for m in _HREF.finditer(text):
        href = m.group(1)
        if href.startswith(("#", "javascript:", "http:", "https:", "mailto:")):
            continue
        page = re.split(r"[?#]", href)[0]
        page = posixpath.normpath(page if page.startswith("/") else posixpath.join(folder, page))
        guards = [
            b for b in found
            if b.kind == "if" and b.else_at is not None and b.end is not None
            and b.else_at < m.start() < b.end
            and b.condition.replace(" ", "").lower().startswith("security.pagenone=")
        ]
        line = line_of(text, m.start())
        if not guards:
            archive.warning(
                path, line, f"navigation link to {page} is not inside "
                f"~[if.security.pagenone={page}] [else]...[/if]: staff without access to the "
                "page still see it",
            )
        elif not any(g.condition.split("=", 1)[1].strip().lower() == page.lower() for g in guards):
            checked = guards[-1].condition.split("=", 1)[1].strip()
            archive.warning(path, line, f"navigation link to {page} is guarded by the permission "
                            f"of {checked}, not of the page it opens")
