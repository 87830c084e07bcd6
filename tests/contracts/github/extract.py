#!/usr/bin/env python3
"""Regenerate tests/contracts/github/api.github.com.json.

Takes the shared GitHub subset (29 paths, see shared/specs/SOURCES.md) and
adds the operations in ADDED, copied verbatim from GitHub's full REST API
description as republished in the npm package @octokit/openapi 23.0.2
(generated/api.github.com.json in that package), together with every
component they reference, directly or through other components, that the
subset lacks. The `x-octokit` extension is removed, as in the subset.

Usage (from the repository root):

    cd /tmp && npm pack @octokit/openapi@23.0.2 && tar xzf octokit-openapi-23.0.2.tgz
    python3 tests/contracts/github/extract.py \
        ../shared/specs/github.api.github.com.subset.json \
        /tmp/package/generated/api.github.com.json \
        tests/contracts/github/api.github.com.json

Then update the sha256 in SOURCES.md beside this script. Python 3 standard
library only. Output: JSON, 2-space indent, UTF-8, trailing newline.
"""

import copy
import hashlib
import json
import sys

# (path, method) taken from the full description, in the order they are added.
ADDED = [
    ("/user", "get"),  # users/get-authenticated: "test connection", token owner
    ("/repos/{owner}/{repo}", "get"),  # repos/get: repository exists and is visible
]

STRIP_KEYS = {"x-octokit"}
REF_PREFIX = "#/components/"


def strip(node):
    """Deep copy of node without the keys in STRIP_KEYS, at any depth."""
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k not in STRIP_KEYS}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def refs(node):
    """Yield every local reference (a "$ref" or a discriminator mapping target)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            elif k == "mapping" and isinstance(v, dict):
                yield from (t for t in v.values() if isinstance(t, str))
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


def split_ref(ref):
    if not ref.startswith(REF_PREFIX):
        sys.exit(f"extract.py: unsupported reference {ref!r} (only {REF_PREFIX}... is handled)")
    section, _, name = ref[len(REF_PREFIX):].partition("/")
    if not section or not name or "/" in name:
        sys.exit(f"extract.py: unsupported reference {ref!r}")
    return section, name


def main(argv):
    if len(argv) != 4:
        sys.exit(__doc__)
    subset_path, full_path, out_path = argv[1:]
    with open(subset_path, encoding="utf-8") as fh:
        subset = json.load(fh)
    with open(full_path, encoding="utf-8") as fh:
        full = json.load(fh)

    out = copy.deepcopy(subset)
    paths = out["paths"]
    components = out.setdefault("components", {})
    added_components = []
    todo = []

    for path, method in ADDED:
        if path in paths and method in paths[path]:
            sys.exit(f"extract.py: {method.upper()} {path} is already in the subset")
        full_item = full["paths"][path]
        item = paths.setdefault(path, {})
        # Path-level fields (parameters, summary, ...) come along with the operation.
        for key, value in full_item.items():
            if key not in ("get", "put", "post", "delete", "options", "head", "patch", "trace"):
                item.setdefault(key, strip(value))
        item[method] = strip(full_item[method])
        todo.extend(refs(item))

    # Transitive closure over component references.
    while todo:
        section, name = split_ref(todo.pop())
        have = components.setdefault(section, {})
        if name in have:
            continue
        try:
            value = full["components"][section][name]
        except KeyError:
            sys.exit(f"extract.py: {REF_PREFIX}{section}/{name} is not in {full_path}")
        have[name] = strip(value)
        added_components.append(f"{section}/{name}")
        todo.extend(refs(have[name]))

    # The subset keeps each component section sorted by name.
    for section in components:
        components[section] = dict(sorted(components[section].items()))

    # Tags: those the operations use, in the full description's order.
    used = {t for item in paths.values() for op in item.values()
            if isinstance(op, dict) for t in op.get("tags", [])}
    out["tags"] = [t for t in full.get("tags", []) if t["name"] in used]

    added_ops = ", ".join(f"{m.upper()} {p}" for p, m in ADDED)
    out["info"]["description"] = (
        subset["info"]["description"].rstrip()
        + f" Added by tests/contracts/github/extract.py, verbatim from the same file: {added_ops}."
    )

    # Checks: every reference resolves, no x-octokit left.
    for ref in refs(out):
        section, name = split_ref(ref)
        if name not in components.get(section, {}):
            sys.exit(f"extract.py: dangling reference {ref}")
    def has_stripped(node):
        if isinstance(node, dict):
            return any(k in STRIP_KEYS or has_stripped(v) for k, v in node.items())
        if isinstance(node, list):
            return any(has_stripped(v) for v in node)
        return False
    if has_stripped(out):
        sys.exit("extract.py: x-octokit left in output")

    text = json.dumps(out, indent=2, ensure_ascii=False) + "\n"
    with open(out_path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)

    print(f"wrote {out_path}: {len(paths)} paths, "
          f"{sum(len(i) for i in paths.values())} operations")
    print(f"added operations: {added_ops}")
    print(f"added components ({len(added_components)}): {', '.join(sorted(added_components))}")
    print(f"sha256 {hashlib.sha256(text.encode('utf-8')).hexdigest()}")


if __name__ == "__main__":
    main(sys.argv)
