#!/usr/bin/env python3
"""Fails when the modules of a crate import each other in a circle.

usage: scripts/module-cycles.py [SRC_DIR]   (default: shared/src)
       scripts/module-cycles.py --self-test  (the checker finds a planted cycle, and only that)

The graph: one node per module file; an edge A -> B when A names B, or an item of B, through a
`crate::` or `super::` path (in `use` or inline). A parent's `mod`/`pub use` of its own children
is containment, not use, and is left out; a child using its parent (`super::Trait`) is an edge.
Also checks the top-level layers (`crate::model`, `crate::http`, ...) form no circle. Test-only
code (`#[cfg(test)]` modules and `tests.rs` files) is ignored: tests may reach anywhere.
"""
import os
import re
import sys


def module_of(src, path):
    rel = os.path.relpath(path, src)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib"):
        rel = rel[:-1]
    return tuple(rel)


def strip_tests(text):
    """Drops `#[cfg(test)] mod ... { ... }` blocks and comments."""
    text = re.sub(r"//[^\n]*", "", text)
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i : m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def paths_in(text):
    """Every `crate::a::b` / `super::a` path, with `use` groups expanded one level."""
    text = re.sub(r"\s+", " ", text)
    found = []
    for m in re.finditer(r"\b(crate|super(?:::super)*)((?:::\w+)*)(::\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\})?", text):
        head = m.group(1).split("::")
        base = head + [p for p in m.group(2).split("::") if p]
        if m.group(4):
            for part in m.group(4).split(","):
                part = part.strip().split(" as ")[0]
                inner = [p for p in re.split(r"::", part) if p and p not in ("{", "}")]
                inner = [re.sub(r"[{}\s]", "", p) for p in inner]
                found.append(base + [p for p in inner if p and p != "self"])
        else:
            found.append(base)
    return found


def resolve(mod, path, modules):
    if path[0] == "crate":
        parts = path[1:]
        here = ()
    else:
        ups = len([p for p in path if p == "super"])
        here = mod[: len(mod) - ups]
        parts = path[ups:]
    target = here
    for p in parts:
        if target + (p,) in modules:
            target = target + (p,)
        else:
            break
    return target


def cycles(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
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
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def graph_of(src):
    """The module graph and the layer graph of the crate under `src`, and its files."""
    files = {}
    for root, _, names in os.walk(src):
        for name in names:
            if name.endswith(".rs") and name != "tests.rs":
                path = os.path.join(root, name)
                files[module_of(src, path)] = path
    modules = set(files)
    graph, layers = {}, {}
    for mod, path in files.items():
        with open(path, encoding="utf-8") as f:
            text = strip_tests(f.read())
        for p in paths_in(text):
            target = resolve(mod, p, modules)
            if not target or target == mod:
                continue
            # A parent naming its own descendants (declaring, re-exporting) is containment.
            if target[: len(mod)] == mod:
                continue
            # A module naming one of its ancestors that is only a folder of children is fine too
            # when the item it names lives in a child; resolve() already went as deep as it could.
            graph.setdefault(mod, set()).add(target)
            if mod and target and mod[0] != target[0]:
                layers.setdefault(mod[0], set()).add(target[0])
    return graph, layers, files


def self_test():
    import tempfile

    def tree(files):
        root = tempfile.mkdtemp()
        for name, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(root, name)), exist_ok=True)
            with open(os.path.join(root, name), "w") as f:
                f.write(text)
        return root

    clean = tree({
        "lib.rs": "pub mod model; pub mod store; pub use store::Store;",
        "model/mod.rs": "pub mod money; pub use money::Money;",
        "model/money.rs": "pub struct Money;",
        "store/mod.rs": "use crate::model::Money; pub struct Store(Money);",
    })
    graph, layers, _ = graph_of(clean)
    assert not cycles(graph) and not cycles(layers), (graph, layers)
    planted = tree({
        "lib.rs": "pub mod model; pub mod telemetry;",
        "model/mod.rs": "pub mod cnpj;",
        "model/cnpj.rs": "use crate::telemetry::mask; pub struct Cnpj;",
        "telemetry.rs": "use crate::model::cnpj::Cnpj; pub fn mask() {}\n#[cfg(test)]\nmod tests { use crate::model; }",
    })
    graph, layers, _ = graph_of(planted)
    found = cycles(graph)
    assert found == [[("model", "cnpj"), ("telemetry",)]], found
    assert cycles(layers) == [["model", "telemetry"]], cycles(layers)
    print("module-cycles: self-test passed (a planted cycle is found, a clean tree passes)")


def report(kind, found, graph, name):
    """Prints each cycle and the edges that close it."""
    for comp in found:
        print(f"{kind} cycle:", " <-> ".join(name(m) for m in comp))
        for a in comp:
            for b in sorted(graph.get(a, ())):
                if b in comp:
                    print(f"    {name(a)} -> {name(b)}")


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    src = sys.argv[1] if len(sys.argv) > 1 else "shared/src"
    graph, layers, files = graph_of(src)
    found = cycles(graph)
    layer_cycles = cycles(layers)
    report("module", found, graph, lambda m: "::".join(m) or "crate")
    report("layer", layer_cycles, layers, str)
    if found or layer_cycles:
        sys.exit(1)
    print(f"module-cycles: {len(files)} modules of {src}, no cycle; layers: "
          + ", ".join(f"{a} -> {'/'.join(sorted(b))}" for a, b in sorted(layers.items())))


if __name__ == "__main__":
    main()
