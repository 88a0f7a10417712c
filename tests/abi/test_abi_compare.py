#!/usr/bin/env python3
"""The ABI comparison's rules on small hand-written dumps: each kind of change, judged."""
import copy
import importlib.util
import os
import unittest

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("abi_compare", os.path.join(here, "..", "..", "tools", "abi", "abi-compare.py"))
abi = importlib.util.module_from_spec(spec)
spec.loader.exec_module(abi)


def field(name, offset, size, type_="uint32_t"):
    return {"name": name, "type": type_, "offset": offset, "size": size}


BASE = {
    "abi_version": 1,
    "plugin_abi_major": 1,
    "functions": {"mneme_f": {"origin": "public", "type": "int (int)"},
                  "mneme_p_fn": {"origin": "plugin", "type": "void (*)(void *)"}},
    "structs": {
        "mneme_desc": {"origin": "public", "size": 16,
                       "fields": [field("struct_size", 0, 4), field("flags", 4, 4), field("ptr", 8, 8, "void *")]},
        "mneme_plain": {"origin": "public", "size": 8, "fields": [field("a", 0, 4), field("b", 4, 4)]},
        "mneme_op": {"origin": "plugin", "size": 8, "fields": [field("type", 0, 4), field("n", 4, 4)]},
    },
    "enums": {"mneme_e": {"origin": "public", "values": {"MNEME_A": 0, "MNEME_B": 1}}},
}


def judge(mutate):
    new = copy.deepcopy(BASE)
    mutate(new)
    breaks, additions, bumped = abi.compare(BASE, new)
    return [m for o, m in breaks if not bumped[o]], additions


class AbiCompare(unittest.TestCase):
    def test_identical(self):
        self.assertEqual(judge(lambda n: None), ([], []))

    def test_new_function_struct_enum_constant_are_compatible(self):
        def add(n):
            n["functions"]["mneme_g"] = {"origin": "public", "type": "void (void)"}
            n["structs"]["mneme_new"] = {"origin": "public", "size": 4, "fields": [field("x", 0, 4)]}
            n["enums"]["mneme_e"]["values"]["MNEME_C"] = 2
        breaks, additions = judge(add)
        self.assertEqual(breaks, [])
        self.assertEqual(len(additions), 3)

    def test_append_to_versioned_struct_is_compatible(self):
        def grow(n):
            s = n["structs"]["mneme_desc"]
            s["fields"].append(field("extra", 16, 8, "uint64_t"))
            s["size"] = 24
        breaks, additions = judge(grow)
        self.assertEqual(breaks, [])
        self.assertIn("appended: extra", additions[0])

    def test_reserved_field_put_to_use_in_place_is_compatible(self):
        base = copy.deepcopy(BASE)
        base["structs"]["mneme_desc"]["fields"][1]["name"] = "reserved0"
        new = copy.deepcopy(base)
        new["structs"]["mneme_desc"]["fields"][1]["name"] = "coarse_block"
        breaks, additions, _ = abi.compare(base, new)
        self.assertEqual(breaks, [])
        self.assertIn("put to use as coarse_block", additions[0])
        moved = copy.deepcopy(new)
        moved["structs"]["mneme_desc"]["fields"][1]["size"] = 2
        self.assertTrue(abi.compare(base, moved)[0])

    def test_growing_unversioned_struct_breaks(self):
        def grow(n):
            n["structs"]["mneme_plain"]["fields"].append(field("c", 8, 4))
            n["structs"]["mneme_plain"]["size"] = 12
        self.assertEqual(len(judge(grow)[0]), 1)

    def test_reorder_resize_remove_retype_break(self):
        def reorder(n):
            f = n["structs"]["mneme_desc"]["fields"]
            f[1]["offset"], f[2]["offset"] = 12, 4
        def resize(n):
            n["structs"]["mneme_plain"]["fields"][1]["size"] = 2
        def remove(n):
            del n["structs"]["mneme_desc"]["fields"][2]
        def retype(n):
            n["structs"]["mneme_plain"]["fields"][0]["type"] = "int32_t"
        for mutate in (reorder, resize, remove, retype):
            self.assertTrue(judge(mutate)[0], mutate.__name__)

    def test_function_and_enum_breaks(self):
        self.assertTrue(judge(lambda n: n["functions"].pop("mneme_f"))[0])
        self.assertTrue(judge(lambda n: n["functions"]["mneme_f"].update(type="int (long)"))[0])
        self.assertTrue(judge(lambda n: n["enums"]["mneme_e"]["values"].update(MNEME_B=7))[0])
        self.assertTrue(judge(lambda n: n["enums"]["mneme_e"]["values"].pop("MNEME_A"))[0])

    def test_major_bump_excuses_only_its_own_interface(self):
        def break_both(n):
            n["functions"].pop("mneme_f")
            n["structs"]["mneme_op"]["size"] = 16
        def bump_plugin(n):
            break_both(n)
            n["plugin_abi_major"] = 2
        def bump_public(n):
            break_both(n)
            n["abi_version"] = 2
        self.assertEqual(len(judge(break_both)[0]), 2)
        self.assertEqual(judge(bump_plugin)[0], ["function mneme_f removed"])
        self.assertEqual(judge(bump_public)[0], ["struct mneme_op grew but has no struct_size field: 8 -> 16 bytes"])


if __name__ == "__main__":
    unittest.main()
