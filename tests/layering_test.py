#!/usr/bin/env python3
"""Checks every project #include against STYLE.md's layering table.

A file under <layer>/ may include project headers only from the layers listed
for it. Exits non-zero naming each offending line."""
import pathlib
import re
import sys

ALLOWED = {
    "src/util": {"util"},
    "src/metrics": {"util", "metrics"},
    "src/core": {"util", "metrics", "core"},
    "src/net": {"util", "metrics", "net"},
    "src/origin": {"core", "net", "util", "metrics", "origin"},
    "src/fs": {"core", "util", "metrics", "fs"},
    "src/config": {"core", "util", "config", "tiers", "origin", "fs", "net", "control"},
    "src/control": {"core", "metrics", "util", "control"},
    "src/daemon": None,  # sees everything
    "tiers": {"core", "util", "metrics", "net", "tiers"},
    "tools/ctl": {"control", "util"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(rel: str):
    for prefix in sorted(ALLOWED, key=len, reverse=True):
        if rel.startswith(prefix + "/"):
            return prefix
    return None


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    bad = []
    checked = 0
    for path in list(root.glob("src/**/*")) + list(root.glob("tiers/**/*")) + list(root.glob("tools/ctl/**/*")):
        if path.suffix not in (".h", ".cc"):
            continue
        rel = path.relative_to(root).as_posix()
        layer = layer_of(rel)
        allowed = ALLOWED.get(layer)
        if allowed is None:
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            top = m.group(1).split("/")[0]
            if "/" not in m.group(1):
                continue  # same-folder include
            checked += 1
            if top not in allowed:
                bad.append(f"{rel}:{n}: {layer} may not include \"{m.group(1)}\"")
    for b in bad:
        print(b)
    print(f"layering: {checked} includes checked, {len(bad)} violations")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
