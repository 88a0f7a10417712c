#!/usr/bin/env python3
"""Dumps the binary interface of Mneme's public C headers as one JSON document.

What is recorded, for every public name (prefix mneme_ / MNEME_):
  * functions and function-pointer typedefs: their C type, as clang spells it;
  * structs: size, and each field's offset, size and C type (measured by compiling a probe with
    the system C compiler, so the figures are those of this platform's ABI);
  * enums: every constant's value;
  * which header declares it ("public" = mneme.h, "plugin" = mneme_plugin.h), because the two
    interfaces have separate major versions (MNEME_ABI_VERSION, MNEME_PLUGIN_ABI_MAJOR).

Uses clang's JSON AST for the declarations (no hand-kept list to forget a struct in).

  abi-dump.py [--include DIR] [--cc CC] [--clang CLANG] > abi.json
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HEADERS = {"public": "mneme/mneme.h", "plugin": "mneme/mneme_plugin.h"}


def public_name(name):
    return name.startswith("mneme_") or name.startswith("MNEME_")


def ast_decls(clang, include, header):
    """Top-level declarations of a header (and what it includes) from clang's JSON AST."""
    with tempfile.NamedTemporaryFile("w", suffix=".c", delete=False) as f:
        f.write(f"#include <{header}>\n")
        src = f.name
    try:
        out = subprocess.run([clang, "-x", "c", "-std=c99", "-fsyntax-only", "-Xclang", "-ast-dump=json",
                              "-I", include, src], check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(src)
    return json.loads(out).get("inner", [])


def macro_value(cc, include, header, macro):
    probe = f'#include <{header}>\n#include <stdio.h>\nint main(void) {{ printf("%lld", (long long)({macro})); return 0; }}\n'
    return int(run_probe(cc, include, probe))


def run_probe(cc, include, source):
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        exe = os.path.join(tmp, "probe")
        with open(src, "w") as f:
            f.write(source)
        subprocess.run([cc, "-std=c99", "-I", include, src, "-o", exe], check=True)
        return subprocess.run([exe], check=True, capture_output=True, text=True).stdout


def collect(decls, origin, into):
    for d in decls:
        name = d.get("name", "")
        if not public_name(name) or name in into["origin"]:
            continue
        kind = d.get("kind")
        if kind == "FunctionDecl" and d.get("storageClass") != "static":
            into["functions"][name] = d["type"]["qualType"]
        elif kind == "TypedefDecl" and "(*)" in d["type"]["qualType"]:
            into["functions"][name] = d["type"]["qualType"]
        elif kind == "RecordDecl" and d.get("completeDefinition"):
            fields = [(f["name"], f["type"]["qualType"]) for f in d.get("inner", []) if f.get("kind") == "FieldDecl"]
            into["structs"][name] = {"fields": fields}
        elif kind == "EnumDecl":
            into["enums"][name] = [c["name"] for c in d.get("inner", []) if c.get("kind") == "EnumConstantDecl"]
        else:
            continue
        into["origin"][name] = origin


def measure(cc, include, found):
    """Compiles one probe that prints sizes, offsets and enum values as JSON."""
    lines = ["#include <mneme/mneme_plugin.h>", "#include <stddef.h>", "#include <stdio.h>", "int main(void) {",
             '    printf("{\\"structs\\": {");']
    for i, (name, s) in enumerate(sorted(found["structs"].items())):
        sep = "," if i else ""
        lines.append(f'    printf("{sep}\\"{name}\\": {{\\"size\\": %zu, \\"fields\\": {{", sizeof(struct {name}));')
        for j, (field, _) in enumerate(s["fields"]):
            fsep = "," if j else ""
            lines.append(f'    printf("{fsep}\\"{field}\\": [%zu, %zu]", offsetof(struct {name}, {field}), '
                         f"sizeof(((struct {name}*)0)->{field}));")
        lines.append('    printf("}}");')
    lines.append('    printf("}, \\"enums\\": {");')
    first = True
    for name, consts in sorted(found["enums"].items()):
        for c in consts:
            sep = "" if first else ","
            first = False
            lines.append(f'    printf("{sep}\\"{c}\\": %lld", (long long){c});')
    lines += ['    printf("}}");', "    return 0;", "}"]
    return json.loads(run_probe(cc, include, "\n".join(lines) + "\n"))


def dump(include, cc, clang):
    found = {"functions": {}, "structs": {}, "enums": {}, "origin": {}}
    # mneme.h first, so names it declares are attributed to the public interface.
    for origin in ("public", "plugin"):
        collect(ast_decls(clang, include, HEADERS[origin]), origin, found)
    sizes = measure(cc, include, found)
    structs = {}
    for name, s in found["structs"].items():
        m = sizes["structs"][name]
        structs[name] = {
            "origin": found["origin"][name],
            "size": m["size"],
            "fields": [{"name": f, "type": t, "offset": m["fields"][f][0], "size": m["fields"][f][1]}
                       for f, t in s["fields"]],
        }
    enums = {}
    for name, consts in found["enums"].items():
        enums[name] = {"origin": found["origin"][name], "values": {c: sizes["enums"][c] for c in consts}}
    functions = {n: {"origin": found["origin"][n], "type": t} for n, t in found["functions"].items()}
    return {
        "abi_version": macro_value(cc, include, HEADERS["public"], "MNEME_ABI_VERSION"),
        "plugin_abi_major": macro_value(cc, include, HEADERS["plugin"], "MNEME_PLUGIN_ABI_MAJOR"),
        "functions": dict(sorted(functions.items())),
        "structs": dict(sorted(structs.items())),
        "enums": dict(sorted(enums.items())),
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--include", default=os.path.join(here, "..", "..", "sdk", "include"))
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--clang", default="clang")
    args = ap.parse_args()
    json.dump(dump(args.include, args.cc, args.clang), sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
