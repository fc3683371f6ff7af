"""No import cycle between the files of src/.

A file imports another when it names it by a `crate::`, `super::` or `self::` path (in a `use`
or inline). A path that names an item re-exported by a module's `pub use` is followed to the file
that defines the item, so `use crate::graphql_http::Refusal` points at graphql_http/refusal.rs,
not at graphql_http/mod.rs. `pub use` lines themselves are not imports (a module showing its
children's items is not a dependency on them), nor are `mod` lines, nor a file's own
`#[cfg(test)] mod tests { .. }`.

Prints every strongly connected set of files (Tarjan) and exits 1 if there is one; checks first
that a planted two-file cycle is caught.
"""
import glob
import os
import re
import sys

USE = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?use\s+([^;]+);", re.M | re.S)
INLINE = re.compile(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)")


def module_of(path):
    rel = path[len("src/"):].removesuffix(".rs").split("/")
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return tuple(rel)


def strip_comments(text):
    # A file's own test module (at its end) is not part of what the file imports.
    text = re.split(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text)[0]
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//")[0] if "//" in line and '"' not in line else line
                     for line in text.splitlines() if not line.strip().startswith("//"))


def expand(tree):
    """`a::{b, c::{d, e}}` -> [a::b, a::c::d, a::c::e]."""
    tree = re.sub(r"\s+", "", re.sub(r"\s+as\s+[A-Za-z_][A-Za-z0-9_]*", "", tree))
    if "{" not in tree:
        return [tree]
    head, rest = tree.split("{", 1)
    body = rest[: rest.rfind("}")]
    parts, depth, cur = [], 0, ""
    for ch in body:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    out = []
    for part in filter(None, parts):
        for sub in expand(part):
            out.append(head + sub if sub != "self" else head.rstrip(":"))
    return out


def parse(files):
    """files: {path: text} -> (modules {modpath: path}, uses {path: [abs paths]}, reexports)."""
    modules = {module_of(p): p for p in files}
    uses, reexports = {}, {}
    for path, raw in files.items():
        text = strip_comments(raw)
        here = module_of(path)
        found, exported = [], {}
        for m in USE.finditer(text):
            for p in expand(m.group(3)):
                absolute = absolutize(p.split("::"), here)
                if absolute is None:
                    continue
                if m.group(1):
                    exported[absolute[-1]] = absolute
                else:
                    found.append(absolute)
        body = USE.sub("", text)
        for m in INLINE.finditer(body):
            absolute = absolutize(m.group(1).split("::"), here)
            if absolute is not None:
                found.append(absolute)
        uses[path] = found
        reexports[here] = exported
    return modules, uses, reexports


def absolutize(segments, here):
    if segments[0] == "crate":
        return tuple(segments[1:])
    base = list(here)
    while segments and segments[0] in ("super", "self"):
        if segments[0] == "super":
            if not base:
                return None
            base.pop()
        segments = segments[1:]
    if not segments:
        return tuple(base)
    return tuple(base) + tuple(segments)


def resolve(path, modules, reexports, depth=0):
    """The file an absolute path lands in, following `pub use` re-exports."""
    prefix = ()
    for i in range(len(path), -1, -1):
        if path[:i] in modules:
            prefix = path[:i]
            break
    rest = path[len(prefix):]
    if rest and depth < 8:
        target = reexports.get(prefix, {}).get(rest[0])
        if target is not None and target != prefix + (rest[0],):
            return resolve(target + rest[1:], modules, reexports, depth + 1)
    return modules.get(prefix)


def cycles(files):
    modules, uses, reexports = parse(files)
    edges = {p: set() for p in files}
    for path, found in uses.items():
        for absolute in found:
            target = resolve(absolute, modules, reexports)
            if target and target != path:
                edges[path].add(target)
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in sorted(files):
        if v not in index:
            visit(v)
    return out


def main():
    os.chdir(os.path.join(os.path.dirname(__file__), ".."))
    planted = {
        "src/lib.rs": "mod a;\n",
        "src/a/mod.rs": "mod b;\nmod c;\npub use b::Thing;\n",
        "src/a/b.rs": "use super::c::other;\npub struct Thing;\n",
        "src/a/c.rs": "pub fn other() -> crate::a::Thing { todo!() }\n",
    }
    if cycles(planted) != [["src/a/b.rs", "src/a/c.rs"]]:
        sys.exit("FAIL: the cycle check missed a planted cycle through a re-export (a/b.rs <-> a/c.rs)")
    files = {p: open(p).read() for p in sorted(glob.glob("src/**/*.rs", recursive=True))}
    found = cycles(files)
    if found:
        print("FAIL: files that import each other (directly or through others):", file=sys.stderr)
        for group in found:
            print("  " + " <-> ".join(group), file=sys.stderr)
        sys.exit(1)
    print(f"ok: no import cycle among {len(files)} files; a planted cycle is caught")


if __name__ == "__main__":
    main()
