#!/usr/bin/env python3
"""Compares two ABI dumps (tools/abi/abi-dump.py) and fails on an incompatible change.

Compatible (a minor release): new functions, new structs, new enum constants, fields appended
to the end of a size-versioned struct (one whose first field is `struct_size`: readers never touch
bytes beyond the size the other side declared), and a `reserved*` field put to use in place (same
offset and size; callers had to leave it zero, so zero must keep the old behaviour).

Incompatible (needs the interface's major version bumped): a function removed or its type
changed; a struct removed, a field removed, renamed, moved or resized, or a struct without a
`struct_size` field changing size (it may sit in arrays or inside other structs); an enum
constant removed or renumbered.

The public interface (mneme.h, MNEME_ABI_VERSION) and the plugin interface (mneme_plugin.h,
MNEME_PLUGIN_ABI_MAJOR) are judged separately: bumping one excuses breaks in that one only.

  abi-compare.py BASELINE.json CURRENT.json      exit 0 = compatible, 1 = incompatible
"""
import json
import sys


def compare(old, new):
    breaks, additions = [], []

    def brk(origin, msg):
        breaks.append((origin, msg))

    for name, f in old["functions"].items():
        cur = new["functions"].get(name)
        if cur is None:
            brk(f["origin"], f"function {name} removed")
        elif cur["type"] != f["type"]:
            brk(f["origin"], f"function {name} changed type: {f['type']} -> {cur['type']}")
    additions += [f"function {n}" for n in new["functions"] if n not in old["functions"]]

    for name, s in old["structs"].items():
        cur = new["structs"].get(name)
        if cur is None:
            brk(s["origin"], f"struct {name} removed")
            continue
        cur_fields = {f["name"]: f for f in cur["fields"]}
        by_place = {(f["offset"], f["size"]): f for f in cur["fields"]}
        for f in s["fields"]:
            c = cur_fields.get(f["name"])
            if c is None and f["name"].startswith("reserved") and (f["offset"], f["size"]) in by_place:
                # Callers had to leave a reserved field zero, so zero must mean "as before".
                additions.append(f"{name}.{f['name']} put to use as {by_place[(f['offset'], f['size'])]['name']}")
                continue
            if c is None:
                brk(s["origin"], f"{name}.{f['name']} removed or renamed")
            elif (c["offset"], c["size"]) != (f["offset"], f["size"]):
                brk(s["origin"], f"{name}.{f['name']} moved or resized: offset {f['offset']} size {f['size']}"
                                 f" -> offset {c['offset']} size {c['size']}")
            elif c["type"] != f["type"]:
                brk(s["origin"], f"{name}.{f['name']} changed type: {f['type']} -> {c['type']}")
        versioned = bool(s["fields"]) and s["fields"][0]["name"] == "struct_size"
        if cur["size"] != s["size"]:
            if versioned and cur["size"] > s["size"]:
                appended = [f["name"] for f in cur["fields"] if f["offset"] >= s["size"]]
                additions.append(f"{name} grew {s['size']} -> {cur['size']} bytes (appended: {', '.join(appended)})")
            else:
                why = "shrank" if cur["size"] < s["size"] else "grew but has no struct_size field"
                brk(s["origin"], f"struct {name} {why}: {s['size']} -> {cur['size']} bytes")
    additions += [f"struct {n}" for n in new["structs"] if n not in old["structs"]]

    for name, e in old["enums"].items():
        cur = new["enums"].get(name, {"values": {}})["values"]
        for const, value in e["values"].items():
            if const not in cur:
                brk(e["origin"], f"{name}: {const} removed")
            elif cur[const] != value:
                brk(e["origin"], f"{name}: {const} renumbered {value} -> {cur[const]}")
        new_consts = [c for c in cur if c not in e["values"]]
        if new_consts:
            additions.append(f"{name} gained {', '.join(new_consts)}")
    additions += [f"enum {n}" for n in new["enums"] if n not in old["enums"]]

    bumped = {"public": new["abi_version"] > old["abi_version"],
              "plugin": new["plugin_abi_major"] > old["plugin_abi_major"]}
    return breaks, additions, bumped


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        old = json.load(f)
    with open(argv[2]) as f:
        new = json.load(f)
    breaks, additions, bumped = compare(old, new)
    for a in additions:
        print(f"compatible: {a}")
    failing = 0
    for origin, msg in breaks:
        if bumped[origin]:
            print(f"break (allowed, {origin} major version bumped): {msg}")
        else:
            print(f"INCOMPATIBLE ({origin} interface): {msg}")
            failing += 1
    if failing:
        print(f"{failing} incompatible change(s): append instead, or bump the major version "
              "(MNEME_ABI_VERSION / MNEME_PLUGIN_ABI_MAJOR) and regenerate the baseline (docs/API.md)")
        return 1
    print(f"ABI compatible with the baseline ({len(additions)} addition(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
