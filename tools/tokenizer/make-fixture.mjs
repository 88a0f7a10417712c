// Generates the small byte-level BPE tokenizer used by the always-on tokenizer tests, and the ids
// Hugging Face's own implementation gives for it under many configurations:
//
//   tests/golden/tokenizer/tiny-bpe/tokenizer.json       the base tokenizer (a few KB)
//   tests/golden/tokenizer/tiny-bpe/tokenizer_config.json
//   tests/golden/tokenizer/tiny-bpe-vectors.json          variants (JSON merge patches of the base)
//                                                         and, for each, texts with expected ids
//
//   npm install --prefix DIR --no-audit --no-fund tokenizers@0.23.2
//   node tools/tokenizer/make-fixture.mjs DIR tests/golden/tokenizer
//
// The vocabulary is learnt here by a deterministic byte-level BPE over a small built-in corpus,
// so the fixture needs no download.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const [cacheDir, outDir] = process.argv.slice(2);
if (!cacheDir || !outDir) {
  console.error("usage: node make-fixture.mjs NPM_PREFIX_DIR OUTPUT_DIR");
  process.exit(2);
}
const require = createRequire(path.resolve(cacheDir, "package.json"));
const { Tokenizer } = require("tokenizers");

// GPT-2's bytes_to_unicode.
const byteToChar = [];
{
  const printable = (b) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
  let next = 0x100;
  for (let b = 0; b < 256; ++b) byteToChar.push(String.fromCodePoint(printable(b) ? b : next++));
}
const toAlphabet = (text) => Array.from(new TextEncoder().encode(text), (b) => byteToChar[b]).join("");

// --- training ------------------------------------------------------------------------------
const trainingText = `
The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs.
Hello world! Hello, hello, HELLO. Say hello to the world and to the people in it.
int main(int argc, char** argv) { return 0; }
for (int i = 0; i < 10; ++i) { total += values[i]; }
def hello(name):
    return "hello " + name
    if name is None:
        raise ValueError("no name")
12345 67890 3.14159 2024-01-01 1000000
the cat sat on the mat; the category of cats; concatenate the catalog.
你好世界，你好朋友。世界很大。
emoji 😀😀 thumbs 👍 hearts ❤️
    indented    text    with    spaces
`;
const preSplit = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
const wordCounts = new Map();
for (const m of trainingText.matchAll(preSplit)) {
  const w = toAlphabet(m[0]);
  wordCounts.set(w, (wordCounts.get(w) || 0) + 1);
}
let words = Array.from(wordCounts, ([w, count]) => ({ symbols: Array.from(w), count }));

const vocab = {};
let nextId = 0;
for (let b = 0; b < 256; ++b) vocab[byteToChar[b]] = nextId++;
const merges = [];
for (let step = 0; step < 220; ++step) {
  const pairCounts = new Map();
  for (const w of words) {
    for (let i = 0; i + 1 < w.symbols.length; ++i) {
      const key = w.symbols[i] + "\u0000" + w.symbols[i + 1];
      pairCounts.set(key, (pairCounts.get(key) || 0) + w.count);
    }
  }
  let best = null;
  let bestCount = 1;
  // Ties go to the lexicographically smallest pair, so the result is deterministic.
  for (const [key, count] of pairCounts) {
    if (count > bestCount || (count === bestCount && best !== null && key < best)) {
      best = key;
      bestCount = count;
    }
  }
  if (best === null) break;
  const [left, right] = best.split("\u0000");
  merges.push([left, right]);
  if (!(left + right in vocab)) vocab[left + right] = nextId++;
  for (const w of words) {
    const merged = [];
    for (let i = 0; i < w.symbols.length; ++i) {
      if (i + 1 < w.symbols.length && w.symbols[i] === left && w.symbols[i + 1] === right) {
        merged.push(left + right);
        ++i;
      } else {
        merged.push(w.symbols[i]);
      }
    }
    w.symbols = merged;
  }
}
vocab["<unk>"] = nextId++;

const added = (id, content, special, extra = {}) => ({
  id, content, single_word: false, lstrip: false, rstrip: false, normalized: !special, special, ...extra,
});
const addedTokens = [
  added(nextId++, "<|bos|>", true),
  added(nextId++, "<|eos|>", true),
  added(nextId++, "<|user|>", true),
  added(nextId++, "<|assistant|>", true),
  added(nextId++, "[NOTE]", false),
];

const deepseekLikeSplit = [
  { type: "Split", pattern: { Regex: "\\p{N}{1,3}" }, behavior: "Isolated", invert: false },
  { type: "Split", pattern: { Regex: "[一-龥぀-ゟ゠-ヿ]+" }, behavior: "Isolated", invert: false },
  {
    type: "Split",
    pattern: {
      Regex:
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
    },
    behavior: "Isolated",
    invert: false,
  },
];
const byteLevel = (add_prefix_space, use_regex) => ({ type: "ByteLevel", add_prefix_space, trim_offsets: true, use_regex });

const base = {
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: addedTokens,
  normalizer: { type: "Sequence", normalizers: [] },
  pre_tokenizer: { type: "Sequence", pretokenizers: [...deepseekLikeSplit, byteLevel(false, false)] },
  post_processor: {
    type: "TemplateProcessing",
    single: [{ SpecialToken: { id: "<|bos|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
    pair: [
      { SpecialToken: { id: "<|bos|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } },
      { Sequence: { id: "B", type_id: 1 } },
    ],
    special_tokens: { "<|bos|>": { id: "<|bos|>", ids: [addedTokens[0].id], tokens: ["<|bos|>"] } },
  },
  decoder: byteLevel(true, true),
  model: {
    type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
    fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges,
  },
};
const config = {
  add_bos_token: true,
  add_eos_token: false,
  bos_token: { __type: "AddedToken", content: "<|bos|>", lstrip: false, normalized: true, rstrip: false, single_word: false },
  eos_token: "<|eos|>",
  tokenizer_class: "PreTrainedTokenizerFast",
};

// --- variants --------------------------------------------------------------------------------
const withPre = (...steps) => ({ pre_tokenizer: { type: "Sequence", pretokenizers: steps } });
const split = (pattern, behavior, invert = false) => ({ type: "Split", pattern, behavior, invert });
const variants = [
  { name: "deepseek-like", patch: {} },
  { name: "legacy-string-merges", patch: { model: { merges: merges.map(([a, b]) => `${a} ${b}`) } } },
  { name: "gpt2-byte-level", patch: { pre_tokenizer: byteLevel(true, true) } },
  { name: "gpt2-byte-level-no-prefix-space", patch: { pre_tokenizer: byteLevel(false, true) } },
  { name: "byte-level-prefix-space-only", patch: withPre(split({ String: "," }, "Isolated"), byteLevel(true, false)) },
  { name: "no-pre-tokenizer", patch: { pre_tokenizer: null } },
  { name: "ignore-merges", patch: { pre_tokenizer: byteLevel(false, true), model: { ignore_merges: true } } },
];
for (const behavior of ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"]) {
  for (const invert of [false, true]) {
    variants.push({
      name: `split-regex-${behavior}${invert ? "-inverted" : ""}`,
      patch: withPre(split({ Regex: "\\s+|[,.;]" }, behavior, invert), byteLevel(false, false)),
    });
  }
  variants.push({
    name: `split-string-${behavior}`,
    patch: withPre(split({ String: "ab" }, behavior), byteLevel(false, false)),
  });
}
variants.push(
  { name: "digits", patch: withPre({ type: "Digits", individual_digits: false }, byteLevel(false, true)) },
  { name: "digits-individual", patch: withPre({ type: "Digits", individual_digits: true }, byteLevel(false, true)) },
  { name: "whitespace", patch: withPre({ type: "Whitespace" }, byteLevel(false, false)) },
  { name: "whitespace-split", patch: withPre({ type: "WhitespaceSplit" }, byteLevel(false, false)) },
  {
    name: "normalizer-replace-prepend",
    patch: {
      normalizer: {
        type: "Sequence",
        normalizers: [
          { type: "Replace", pattern: { String: "cat" }, content: "dog" },
          { type: "Replace", pattern: { Regex: "[0-9]+" }, content: "#" },
          { type: "Prepend", prepend: "> " },
        ],
      },
    },
  },
  {
    name: "added-token-options",
    patch: {
      added_tokens: [
        ...addedTokens,
        added(nextId, "<mask>", true, { lstrip: true }),
        added(nextId + 1, "[R]", true, { rstrip: true }),
        added(nextId + 2, "cat", false, { single_word: true }),
        added(nextId + 3, "<both>", true, { lstrip: true, rstrip: true }),
        added(nextId + 4, "<|user|>x", false),
      ],
    },
  },
  {
    name: "char-level-unk",
    patch: {
      pre_tokenizer: { type: "Whitespace" },
      decoder: null,
      model: { unk_token: "<unk>", fuse_unk: false },
    },
  },
  {
    name: "char-level-unk-fused",
    patch: {
      pre_tokenizer: { type: "Whitespace" },
      decoder: null,
      model: { unk_token: "<unk>", fuse_unk: true },
    },
  },
);

const texts = [
  "",
  " ",
  "hello",
  "Hello world!",
  "The quick brown fox jumps over the lazy dog.",
  "the cat sat on the mat; concatenate cat catalog cat.",
  "a,b;c.d  e\tf\ng",
  "abcabab ab aab",
  "12345 67890 3.14159",
  "x1y22z333w4444",
  "    indented    text",
  "line one\nline two\r\n\n\nthree",
  "trailing spaces   ",
  "你好世界，你好朋友。",
  "日本語とカタカナ",
  "emoji 😀👍 ❤️",
  "combining e\u0301 and nbsp\u00a0here",
  "<|bos|>text<|eos|>",
  "<|user|>Hi<|assistant|>Hello<|eos|>",
  "<|user|>x and <|user|>y",
  "see [NOTE] here[NOTE]",
  "a <mask> b  <mask>c",
  "x [R]  y [R]z",
  "cat concat cat_ (cat) cats",
  "a  <both>  b",
  "int main() { return 0; }",
  "def f(x):\n\treturn x + 1\n",
  "don't we'll I'm they've",
  "über café ñ ü",
];

const baseJson = JSON.stringify(base);
const mergePatch = (target, patch) => {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const result = target && typeof target === "object" && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) result[k] = null;  // null values are kept (a null pre_tokenizer is meaningful)
    else result[k] = mergePatch(result[k], v);
  }
  return result;
};

const results = [];
for (const variant of variants) {
  const json = mergePatch(JSON.parse(baseJson), variant.patch);
  const tok = Tokenizer.fromString(JSON.stringify(json));
  const cases = [];
  for (const text of texts) {
    const encoding = await tok.encode(text, null, { addSpecialTokens: false });
    const ids = Array.from(encoding.getIds());
    cases.push({ text, ids, decoded: await tok.decode(ids, false), decoded_skip_special: await tok.decode(ids, true) });
  }
  results.push({ name: variant.name, patch: variant.patch, cases });
}

const fixtureDir = path.join(outDir, "tiny-bpe");
fs.mkdirSync(fixtureDir, { recursive: true });
fs.writeFileSync(path.join(fixtureDir, "tokenizer.json"), JSON.stringify(base, null, 1) + "\n");
fs.writeFileSync(path.join(fixtureDir, "tokenizer_config.json"), JSON.stringify(config, null, 2) + "\n");
const versionOf = (name) => JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`), "utf8")).version;
fs.writeFileSync(
  path.join(outDir, "tiny-bpe-vectors.json"),
  JSON.stringify({
    description: "Variants of tiny-bpe/tokenizer.json (JSON merge patches; a null value sets the field to null) " +
      "and the ids Hugging Face gives for each text, without special tokens added; generated by tools/tokenizer/make-fixture.mjs",
    reference: "tokenizers@" + versionOf("tokenizers") + " (Hugging Face, Rust)",
    variants: results,
  }) + "\n",
);
console.log(`${Object.keys(vocab).length} vocab entries, ${merges.length} merges, ${results.length} variants`);
