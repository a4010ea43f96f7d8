#!/usr/bin/env python3
"""Import circles between a crate's top-level modules.

Usage: scripts/module-cycles.py CRATE_SRC_DIR [...]

For each crate source directory, every `.rs` file is attributed to its top-level module
(`src/dev/workers.rs` -> `dev`, `src/function.rs` -> `function`; `lib.rs`/`main.rs` are the root,
which may use anything) and every path it names -- `crate::x::...`, `super::...` resolved from
the file's place, and `use` trees -- is an edge to the top-level module it starts in. Prints the
edges and each strongly connected component of more than one module; exits 1 when there is one.

The check is at the architecture's granularity (the issue names circles like function <-> roles
and runtime <-> capabilities): a child module using its parent's items is not a circle here.
Comments and string literals are stripped first, so a path in a doc comment is no edge.
"""
import re
import sys
from pathlib import Path

# Comments, raw strings, strings and char literals, left to right in one pass (so a quote in a
# char literal or a `//` in a string is not taken for the start of something else).
NOISE = re.compile(r"""//[^\n]*|/\*.*?\*/|\br(#*)".*?"\1|"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])'""", re.S)
USE = re.compile(r"\buse\s+([^;]+);")
PATH = re.compile(r"\b(crate|super)((?:::\w+)+)")


def module_of(src: Path, file: Path) -> list[str]:
    """The module path of `file` inside `src`: ['dev', 'workers'] for src/dev/workers.rs."""
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] == "mod" or (len(parts) == 1 and parts[0] in ("lib", "main")):
        parts = parts[:-1]
    return parts


def flatten(tree: str) -> list[str]:
    """`crate::a::{b, c::d}` -> ['crate::a::b', 'crate::a::c::d'] (enough for the first segments)."""
    tree = re.sub(r"\s+", "", tree)
    if "{" not in tree:
        return [tree]
    head, _, rest = tree.partition("{")
    inner = rest[: rest.rfind("}")]
    items, depth, current = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            items.append(current)
            current = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        current += ch
    items.append(current)
    return [p for item in items if item for p in flatten(head + item)]


def targets(module: list[str], text: str) -> set[str]:
    """Top-level modules the file at `module` names."""
    text = NOISE.sub(" ", text)
    paths = [p for tree in USE.findall(text) for p in flatten(tree)]
    paths += [m.group(1) + m.group(2) for m in PATH.finditer(text)]
    found = set()
    for path in paths:
        segments = path.split("::")
        if segments[0] == "crate":
            rest = segments[1:]
        elif segments[0] == "super":
            here = module[:]
            while segments and segments[0] == "super":
                here = here[:-1]
                segments = segments[1:]
            rest = here + segments
        else:
            continue
        if rest:
            found.add(rest[0])
    return found


def components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def check(src: Path) -> bool:
    graph: dict[str, set[str]] = {}
    for file in sorted(src.rglob("*.rs")):
        module = module_of(src, file)
        if not module:
            continue
        top = module[0]
        graph.setdefault(top, set())
        graph[top] |= {t for t in targets(module, file.read_text()) if t != top}
    modules = set(graph)
    for top in graph:
        graph[top] &= modules
    print(f"{src}:")
    for top in sorted(graph):
        print(f"  {top} -> {', '.join(sorted(graph[top])) or '(nothing)'}")
    cycles = [c for c in components(graph) if len(c) > 1]
    for cycle in cycles:
        print(f"  CIRCLE: {' <-> '.join(cycle)}")
    if not cycles:
        print("  acyclic")
    return not cycles


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    results = [check(Path(arg)) for arg in sys.argv[1:]]
    sys.exit(0 if all(results) else 1)
