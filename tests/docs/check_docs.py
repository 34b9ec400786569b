#!/usr/bin/env python3
"""Checks README.md and docs/*.md against the repository (python3, standard library only).

* README.md is at most 200 lines and quotes no measured figures (they live in BENCHMARKS.md).
* Every relative link points to an existing file, and every `#anchor` to a heading of its file.
* Every repository path written in backticks exists; `path::name` also names a `fn` in that file.
* A count of functions ("40 functions") is the number of functions in template.yaml.
* docs/handlers.md lists exactly the handlers of functions/handlers/src/registry.rs (plus the
  bootstrap's own outbox relay), each with the template function whose `Handler` it is, and a
  `path::function` that exists; every HTTP route of the template and every Task state of the saga
  is in it with its handler, and every consumer row names exactly the events its rule matches.

Run from anywhere: `python3 tests/docs/check_docs.py`. Prints every failure and a summary
(`N passed, M failed`); exits 1 on any failure.
"""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
HANDLERS_DOC = ROOT / "docs" / "handlers.md"
REGISTRY = ROOT / "functions" / "handlers" / "src" / "registry.rs"
LAMBDA_LIB = ROOT / "functions" / "lambda" / "src" / "lib.rs"
TEMPLATE = ROOT / "template.yaml"
SAGA = ROOT / "infra" / "reservation-saga.asl.json"
MAX_README_LINES = 200

# Directories that builds and runs create: a path into them need not exist in a checkout.
GENERATED = {"target", ".venv", "node_modules", ".reserveplace", ".git", "__pycache__"}


class Checks:
    def __init__(self) -> None:
        self.passed = 0
        self.failures: list[str] = []

    def check(self, ok: bool, where: str, message: str) -> None:
        if ok:
            self.passed += 1
        else:
            self.failures.append(f"{where}: {message}")


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# --- markdown -------------------------------------------------------------------------------


def prose_lines(text: str) -> list[str]:
    """The lines of a markdown file with fenced code blocks blanked (line numbers kept)."""
    out, fenced = [], False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            out.append("")
        else:
            out.append("" if fenced else line)
    return out


def github_slug(heading: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text
    text = text.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in prose_lines(path.read_text(encoding="utf-8")):
        m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        slug = github_slug(m.group(2))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


LINK = re.compile(r"(?<!\!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def check_links(c: Checks, doc: Path) -> None:
    for n, line in enumerate(prose_lines(doc.read_text(encoding="utf-8")), 1):
        line = CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)
        for m in LINK.finditer(line):
            target = m.group(1)
            where = f"{rel(doc)}:{n}"
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            dest = (doc.parent / file_part).resolve() if file_part else doc
            c.check(dest.exists(), where, f"link to a missing file: {target}")
            if not dest.exists() or not anchor:
                continue
            if dest.suffix == ".md":
                c.check(anchor in anchors(dest), where, f"link to a missing heading: {target}")


# --- paths in backticks ---------------------------------------------------------------------


def top_level_dirs() -> set[str]:
    return {p.name for p in ROOT.iterdir() if p.is_dir() and p.name not in GENERATED}


def defines(path: Path, name: str, public: bool = False) -> bool:
    vis = r"pub(?:\([^)]*\))?\s+" if public else r"(?:pub(?:\([^)]*\))?\s+)?"
    pattern = rf"^\s*{vis}(?:async\s+)?(?:fn|const|struct|enum|static|type)\s+{re.escape(name)}\b"
    return re.search(pattern, path.read_text(encoding="utf-8"), re.M) is not None


def looks_like_path(token: str, tops: set[str]) -> bool:
    if re.search(r"[\s<>{}*$|\"'(),;=?]", token) or token.startswith(("/", "-", ".", "~")) and not token.startswith((".github", ".ci")):
        return False
    parts = token.rstrip("/").split("/")
    if parts[0] in GENERATED or any(p in GENERATED for p in parts):
        return False
    if parts[0] in tops:
        return True
    return "/" in token and re.search(r"\.[A-Za-z0-9]+$", parts[-1]) is not None


def check_paths(c: Checks, doc: Path, tops: set[str]) -> None:
    for n, line in enumerate(prose_lines(doc.read_text(encoding="utf-8")), 1):
        for m in CODE_SPAN.finditer(line):
            token = m.group(2).strip()
            path_part, sep, name = token.partition("::")
            if not looks_like_path(path_part, tops):
                continue
            where = f"{rel(doc)}:{n}"
            target = ROOT / path_part.rstrip("/")
            c.check(target.exists(), where, f"no such path in the repository: {path_part}")
            if sep and target.is_file():
                ident = re.match(r"\w+", name)
                c.check(
                    ident is not None and defines(target, ident.group(0)),
                    where,
                    f"{path_part} defines no `{name}`",
                )


# --- figures --------------------------------------------------------------------------------

# A measured figure: a number with a unit of time, size, rate or money, or a percentage.
FIGURE = re.compile(
    r"(\$\s?\d|\bUSD\b|\d\s?(ms|µs|us|MB|KB|GB|MiB|KiB|%|sagas/s|req/s|reads/s|ops/s)\b|\d+(\.\d+)?\s?s\b(?!\w)|\bp(50|90|99)\b)"
)


def check_readme(c: Checks, template_functions: int) -> None:
    text = README.read_text(encoding="utf-8")
    lines = text.split("\n")
    count = len(lines) - (1 if text.endswith("\n") else 0)
    c.check(count <= MAX_README_LINES, "README.md", f"{count} lines, more than {MAX_README_LINES}")
    for n, line in enumerate(lines, 1):
        m = FIGURE.search(line)
        c.check(
            m is None,
            f"README.md:{n}",
            f"quotes a measured figure ({m.group(0) if m else ''!r}): link to BENCHMARKS.md instead",
        )


def check_function_counts(c: Checks, doc: Path, template_functions: int) -> None:
    for n, line in enumerate(doc.read_text(encoding="utf-8").split("\n"), 1):
        for m in re.finditer(r"\b(\d+) functions\b", line):
            c.check(
                int(m.group(1)) == template_functions,
                f"{rel(doc)}:{n}",
                f"says {m.group(1)} functions; template.yaml has {template_functions}",
            )


# --- the handler table ----------------------------------------------------------------------


def registry_handlers() -> dict[str, str]:
    """Handler name → Rust path of its function (`http::reservation::place`)."""
    text = REGISTRY.read_text(encoding="utf-8")
    # ("name", &[RESOURCES], kind!(path)): the middle column lists what the handler uses.
    rows = re.findall(r'^\s*\("([a-z0-9-]+)",\s*(?:&\[[\w, ]*\],\s*)?\w+!\(([\w:]+)\)\)', text, re.M)
    return dict(rows)


def bootstrap_own_handlers() -> set[str]:
    """Handlers the Lambda bootstrap runs itself, outside the registry (`pub const X: &str = "…"`)."""
    text = LAMBDA_LIB.read_text(encoding="utf-8")
    return set(re.findall(r'^pub const OUTBOX_RELAY: &str = "([a-z0-9-]+)";', text, re.M))


def template_functions() -> dict[str, dict]:
    """Logical id → {handler, routes: ["METHOD /path"], rules: [pattern]} of every function."""
    functions: dict[str, dict] = {}
    current = None
    method = None
    in_resources = False
    for line in TEMPLATE.read_text(encoding="utf-8").split("\n"):
        if re.match(r"^\S", line):
            in_resources = line.startswith("Resources:")
            current = None
            continue
        if not in_resources:
            continue
        m = re.match(r"^  ([A-Za-z0-9]+):\s*$", line)
        if m:
            current = m.group(1)
            continue
        if current is None:
            continue
        if re.match(r"^    Type: AWS::Serverless::Function\s*$", line):
            functions[current] = {"handler": None, "routes": [], "rules": []}
        f = functions.get(current)
        if f is None:
            continue
        if m := re.match(r"^      Handler: ([a-z0-9-]+)\s*$", line):
            f["handler"] = m.group(1)
        elif m := re.match(r"^            Method: (\S+)", line):
            method = m.group(1)
        elif m := re.match(r"^            Path: (\S+)", line):
            f["routes"].append(f"{method} {m.group(1)}")
        elif m := re.match(r"^            Pattern: (\{.*\})\s*$", line):
            f["rules"].append(json.loads(m.group(1)))
    return functions


def table_rows(doc: Path) -> list[tuple[int, dict[str, str]]]:
    """Rows of every table whose header has a `handler` and a `code` column, as column → cell."""
    rows = []
    header: list[str] | None = None
    for n, line in enumerate(doc.read_text(encoding="utf-8").split("\n"), 1):
        if not line.startswith("|"):
            header = None
            continue
        cells = [x.strip() for x in line.strip().strip("|").split("|")]
        if header is None:
            header = [x.lower() for x in cells]
            continue
        if all(re.fullmatch(r":?-+:?", x) for x in cells):
            continue
        if "handler" in header and "code" in header and len(cells) == len(header):
            rows.append((n, dict(zip(header, cells))))
    return rows


def ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def check_handler_table(c: Checks) -> None:
    doc = rel(HANDLERS_DOC)
    registry = registry_handlers()
    own = bootstrap_own_handlers()
    functions = template_functions()
    c.check(len(registry) > 0, rel(REGISTRY), "no (\"name\", handler) rows found")
    c.check(len(own) > 0, rel(LAMBDA_LIB), "no OUTBOX_RELAY constant found")
    c.check(len(functions) > 0, rel(TEMPLATE), "no AWS::Serverless::Function found")
    if not HANDLERS_DOC.exists():
        c.check(False, doc, "missing")
        return
    by_handler = {f["handler"]: logical for logical, f in functions.items()}
    rows = table_rows(HANDLERS_DOC)
    listed: set[str] = set()
    routes_listed: dict[str, str] = {}
    states_listed: dict[str, str] = {}
    for n, row in rows:
        where = f"{doc}:{n}"
        names = ticked(row.get("handler", ""))
        code = ticked(row.get("code", ""))
        if len(names) != 1 or len(code) != 1 or "::" not in code[0]:
            c.check(False, where, "a row needs one `handler` and one `path::function`")
            continue
        name, (path, _, fn) = names[0], code[0].partition("::")
        listed.add(name)
        target = ROOT / path
        c.check(target.is_file(), where, f"no such file: {path}")
        if target.is_file():
            c.check(defines(target, fn, public=True), where, f"{path} has no `pub fn {fn}` / `pub async fn {fn}`")
        if name in registry:
            segments = registry[name].split("::")
            module = "functions/handlers/src/" + "/".join(segments[:-1])
            c.check(fn == segments[-1], where, f"{name} is {registry[name]} in the registry, not {fn}")
            c.check(
                path in (module + ".rs", module + "/mod.rs") or path.startswith(module + "/"),
                where,
                f"{name} is {registry[name]} in the registry, which is not in {path}",
            )
        function = row.get("template function", "")
        logical = by_handler.get(name)
        c.check(
            logical is not None and ticked(function) == [logical],
            where,
            f"{name} is the Handler of {logical}, not {function}",
        )
        trigger = ticked(next(iter(row.values())))
        first = list(row)[0]
        if first == "route" and trigger:
            routes_listed[trigger[0]] = name
        elif first == "state" and trigger:
            states_listed[trigger[0]] = name
        elif first.startswith("events") and logical and functions[logical]["rules"]:
            wanted = {t for rule in functions[logical]["rules"] for t in rule.get("detail-type", [])}
            shown = {t for t in trigger if re.fullmatch(r"[A-Z][a-z]+[A-Za-z]*", t)}
            c.check(shown == wanted, where, f"{name}'s rule matches {sorted(wanted)}, the row says {sorted(shown)}")
    expected = set(registry) | own
    c.check(
        listed == expected,
        doc,
        f"handlers missing: {sorted(expected - listed)}; not in the registry: {sorted(listed - expected)}",
    )
    in_template = {f["handler"] for f in functions.values()}
    c.check(listed == in_template, doc, f"template Handlers not listed: {sorted(in_template - listed)}")
    for logical, f in functions.items():
        for route in f["routes"]:
            c.check(
                routes_listed.get(route) == f["handler"],
                doc,
                f"route {route} ({f['handler']}) is not listed with its handler",
            )
    saga = json.loads(SAGA.read_text(encoding="utf-8"))
    for state, spec in saga["States"].items():
        if spec.get("Type") != "Task":
            continue
        ref = spec.get("Parameters", {}).get("FunctionName", "")
        logical = re.sub(r"^\$\{(\w+?)Arn\}$", r"\1", ref)
        handler = functions.get(logical, {}).get("handler")
        c.check(
            handler is not None and states_listed.get(state) == handler,
            doc,
            f"saga state {state} ({ref} → {handler}) is not listed with its handler",
        )


def main() -> int:
    c = Checks()
    functions = template_functions()
    check_readme(c, len(functions))
    tops = top_level_dirs()
    for doc in [README, *DOCS]:
        check_links(c, doc)
        check_paths(c, doc, tops)
        check_function_counts(c, doc, len(functions))
    check_handler_table(c)
    for failure in c.failures:
        print(f"FAIL {failure}")
    print(f"{c.passed} passed, {len(c.failures)} failed")
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
