#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "model/safetensors.h"
#include "test-checkpoint-helpers.h"

using mneme::safetensors_file;
using mneme::st_dtype;
using mneme_test::encode_safetensors;
using mneme_test::pattern_bytes;
using mneme_test::raw_safetensors;
using mneme_test::require_error;
using mneme_test::temp_dir;
using mneme_test::tensor_spec;
using mneme_test::write_bytes;

namespace {

struct dtype_case {
    const char* name;
    st_dtype dtype;
    std::size_t size;
    mneme_dtype abi;
};

const dtype_case k_all_dtypes[] = {
    {"BF16", st_dtype::bf16, 2, MNEME_DTYPE_BF16},
    {"F16", st_dtype::f16, 2, MNEME_DTYPE_F16},
    {"F32", st_dtype::f32, 4, MNEME_DTYPE_F32},
    {"F64", st_dtype::f64, 8, MNEME_DTYPE_F64},
    {"F8_E4M3", st_dtype::f8_e4m3, 1, MNEME_DTYPE_F8_E4M3},
    {"F8_E8M0", st_dtype::f8_e8m0, 1, MNEME_DTYPE_F8_E8M0},
    {"I8", st_dtype::i8, 1, MNEME_DTYPE_I8},
    {"U8", st_dtype::u8, 1, MNEME_DTYPE_U8},
    {"I16", st_dtype::i16, 2, MNEME_DTYPE_UNDEFINED},
    {"I32", st_dtype::i32, 4, MNEME_DTYPE_I32},
    {"I64", st_dtype::i64, 8, MNEME_DTYPE_I64},
    {"BOOL", st_dtype::boolean, 1, MNEME_DTYPE_UNDEFINED},
};

// Writes one file with a raw header (and data) and returns its path.
std::string write_raw(const temp_dir& dir, const std::string& header, const std::vector<uint8_t>& data = {}) {
    const std::string path = dir.file("model-00002-of-00003.safetensors");
    write_bytes(path, raw_safetensors(header, data));
    return path;
}

// Opening `header` + `data` must fail as INVALID_MODEL naming the file and every part.
void require_bad(const std::string& header, const std::vector<uint8_t>& data,
                 std::initializer_list<std::string> parts) {
    temp_dir dir;
    const std::string path = write_raw(dir, header, data);
    require_error([&] { (void)safetensors_file::open(path); }, MNEME_ERROR_INVALID_MODEL,
                  {"model-00002-of-00003.safetensors"});
    require_error([&] { (void)safetensors_file::open(path); }, MNEME_ERROR_INVALID_MODEL, parts);
}

}  // namespace

TEST_CASE("dtype names, sizes and ABI mapping", "[checkpoint]") {
    for (const dtype_case& c : k_all_dtypes) {
        INFO(c.name);
        CHECK(mneme::st_dtype_name(c.dtype) == c.name);
        CHECK(mneme::st_dtype_from_name(c.name) == c.dtype);
        CHECK(mneme::st_dtype_size(c.dtype) == c.size);
        CHECK(mneme::to_mneme_dtype(c.dtype) == c.abi);
    }
    CHECK_FALSE(mneme::st_dtype_from_name("F8_E5M2").has_value());
    CHECK_FALSE(mneme::st_dtype_from_name("bf16").has_value());
    const mneme::st_dtype_set set{st_dtype::bf16, st_dtype::f32};
    CHECK(set.contains(st_dtype::f32));
    CHECK_FALSE(set.contains(st_dtype::f16));
    CHECK(set.describe() == "BF16 or F32");
}

TEST_CASE("safetensors round trip of every dtype", "[checkpoint]") {
    temp_dir dir;
    std::vector<tensor_spec> specs;
    uint8_t seed = 0;
    for (const dtype_case& c : k_all_dtypes) {
        specs.push_back({std::string("t.") + c.name, c.name, {2, 3}, pattern_bytes(6 * c.size, seed++)});
    }
    specs.push_back({"scalar", "F32", {}, pattern_bytes(4, 7)});
    specs.push_back({"empty", "BF16", {0, 5}, {}});
    specs.push_back({"rank8", "U8", {1, 2, 1, 2, 1, 2, 1, 2}, pattern_bytes(16, 9)});
    const std::string path = dir.file("model.safetensors");
    write_bytes(path, encode_safetensors(specs, R"({"format":"pt","note":"x"})"));

    auto file = safetensors_file::open(path);
    CHECK(file->path() == path);
    REQUIRE(file->tensors().size() == specs.size());
    REQUIRE(file->header().metadata.size() == 2);
    CHECK(file->header().metadata[0] == std::pair<std::string, std::string>{"format", "pt"});
    CHECK(file->header().data_offset % 8 == 0);

    for (const tensor_spec& s : specs) {
        INFO(s.name);
        const mneme::st_tensor_entry* t = file->find(s.name);
        REQUIRE(t != nullptr);
        CHECK(mneme::st_dtype_name(t->dtype) == s.dtype);
        CHECK(t->shape == s.shape);
        CHECK(t->end - t->begin == s.bytes.size());
        if (!s.bytes.empty()) CHECK(std::memcmp(file->data(*t), s.bytes.data(), s.bytes.size()) == 0);
    }
    CHECK(file->find("scalar")->numel == 1);
    CHECK(file->find("empty")->numel == 0);
    CHECK(file->find("missing") == nullptr);
    // Sorted by name.
    for (std::size_t i = 1; i < file->tensors().size(); ++i) {
        CHECK(file->tensors()[i - 1].name < file->tensors()[i].name);
    }
}

TEST_CASE("parse_safetensors_header works on memory", "[checkpoint]") {
    const auto bytes = encode_safetensors({{"a", "F32", {2}, pattern_bytes(8)}}, "");
    const mneme::st_header h = mneme::parse_safetensors_header(bytes.data(), bytes.size(), "mem.safetensors");
    REQUIRE(h.tensors.size() == 1);
    CHECK(h.metadata.empty());
    CHECK(h.data_size == 8);
    CHECK(h.data_offset + h.data_size == bytes.size());
    // Every strict prefix of the file is rejected, never read past.
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        require_error([&] { (void)mneme::parse_safetensors_header(bytes.data(), n, "mem.safetensors"); },
                      MNEME_ERROR_INVALID_MODEL, {"mem.safetensors"});
    }
}

TEST_CASE("safetensors: missing file, directory, empty file", "[checkpoint]") {
    temp_dir dir;
    require_error([&] { (void)safetensors_file::open(dir.file("nope.safetensors")); }, MNEME_ERROR_FILE_NOT_FOUND,
                  {"nope.safetensors"});
    require_error([&] { (void)safetensors_file::open(dir.path().string()); }, MNEME_ERROR_IO, {"not a regular file"});
    const std::string empty = dir.file("empty.safetensors");
    write_bytes(empty, {});
    require_error([&] { (void)safetensors_file::open(empty); }, MNEME_ERROR_INVALID_MODEL,
                  {"empty.safetensors", "empty"});
}

TEST_CASE("safetensors: truncated files", "[checkpoint]") {
    temp_dir dir;
    const std::string path = dir.file("model-00001-of-00002.safetensors");
    write_bytes(path, {1, 2, 3, 4, 5});
    require_error([&] { (void)safetensors_file::open(path); }, MNEME_ERROR_INVALID_MODEL,
                  {"model-00001-of-00002.safetensors", "too short"});

    // A whole file cut inside the data section: the last tensor's end is beyond the data.
    auto bytes = encode_safetensors({{"model.layers.0.mlp.gate.weight", "F32", {4}, pattern_bytes(16)}});
    bytes.resize(bytes.size() - 3);
    write_bytes(path, bytes);
    require_error([&] { (void)safetensors_file::open(path); }, MNEME_ERROR_INVALID_MODEL,
                  {"model-00001-of-00002.safetensors", "'model.layers.0.mlp.gate.weight'", "data_offsets end 16",
                   "beyond the data section (13 bytes)"});
}

TEST_CASE("safetensors: bad header length", "[checkpoint]") {
    temp_dir dir;
    const std::string path = dir.file("model-00003-of-00003.safetensors");
    write_bytes(path, raw_safetensors("{}", {}, 1000));
    require_error([&] { (void)safetensors_file::open(path); }, MNEME_ERROR_INVALID_MODEL,
                  {"model-00003-of-00003.safetensors", "header length 1000", "2 bytes"});

    write_bytes(path, raw_safetensors("", pattern_bytes(16)));
    require_error([&] { (void)safetensors_file::open(path); }, MNEME_ERROR_INVALID_MODEL,
                  {"model-00003-of-00003.safetensors", "header length is 0"});

    // Above the 100 MB bound but within the file: a sparse file costs no disk.
    {
        const uint64_t n = mneme::k_safetensors_max_header_bytes + 1;
        write_bytes(path, raw_safetensors("{", {}, n));
        REQUIRE(::truncate(path.c_str(), static_cast<off_t>(8 + n)) == 0);
    }
    require_error([&] { (void)safetensors_file::open(path); }, MNEME_ERROR_INVALID_MODEL,
                  {"model-00003-of-00003.safetensors", "exceeds the limit"});
}

TEST_CASE("safetensors: header is not JSON or not an object", "[checkpoint]") {
    require_bad("{\"a\": {", {}, {"header is not valid JSON"});
    require_bad("hello", {}, {"header is not valid JSON"});
    require_bad("[1, 2, 3]", {}, {"header must be a JSON object", "an array"});
    require_bad("\"text\"", {}, {"header must be a JSON object"});
    require_bad(std::string(40, '[') + std::string(40, ']'), {}, {"nests deeper"});
    require_bad(
        R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})",
        {0}, {"'a'", "appears twice"});
    require_bad("{\"\xff\":1}", {}, {"header is not valid JSON"});
}

TEST_CASE("safetensors: bad tensor entries name the tensor", "[checkpoint]") {
    const std::string w = "model.layers.0.mlp.gate.weight";
    auto entry = [&](const std::string& body) { return "{\"" + w + "\":" + body + "}"; };
    const auto data = pattern_bytes(64);
    const std::string tq = "'" + w + "'";

    require_bad(entry(R"({"dtype":"F8_E5M2","shape":[4],"data_offsets":[0,4]})"), data,
                {tq, "unknown dtype 'F8_E5M2'"});
    require_bad(entry(R"({"dtype":7,"shape":[4],"data_offsets":[0,4]})"), data, {tq, "'dtype' must be a string"});
    require_bad(entry(R"({"shape":[4],"data_offsets":[0,4]})"), data, {tq, "field 'dtype' is missing"});
    require_bad(entry(R"({"dtype":"U8","data_offsets":[0,4]})"), data, {tq, "field 'shape' is missing"});
    require_bad(entry(R"({"dtype":"U8","shape":[4]})"), data, {tq, "field 'data_offsets' is missing"});
    require_bad(entry("[1]"), data, {tq, "entry must be a JSON object"});
    require_bad(entry(R"({"dtype":"U8","shape":4,"data_offsets":[0,4]})"), data, {tq, "'shape' must be an array"});
    require_bad(entry(R"({"dtype":"U8","shape":[-4],"data_offsets":[0,4]})"), data, {tq, "negative"});
    require_bad(entry(R"({"dtype":"U8","shape":[4.0],"data_offsets":[0,4]})"), data, {tq, "must hold integers"});
    require_bad(entry(R"({"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]})"), data,
                {tq, "9 dimensions"});
    require_bad(entry(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]})"), data,
                {tq, "more elements than 64 bits"});
    require_bad(entry(R"({"dtype":"U8","shape":[9223372036854775808],"data_offsets":[0,4]})"), data, {tq, "too large"});
    // shape/offset mismatch
    require_bad(entry(R"({"dtype":"F32","shape":[2,3],"data_offsets":[0,20]})"), data,
                {tq, "shape [2, 3] of F32 needs 24 bytes", "span 20"});
    // offsets out of range / inverted / malformed
    require_bad(entry(R"({"dtype":"U8","shape":[100],"data_offsets":[0,100]})"), data,
                {tq, "data_offsets end 100 beyond the data section (64 bytes)"});
    require_bad(entry(R"({"dtype":"U8","shape":[0],"data_offsets":[10,4]})"), data, {tq, "begin 10 is after end 4"});
    require_bad(entry(R"({"dtype":"U8","shape":[4],"data_offsets":[0]})"), data, {tq, "[begin, end]"});
    require_bad(entry(R"({"dtype":"U8","shape":[4],"data_offsets":[0,-4]})"), data, {tq, "negative"});
}

TEST_CASE("safetensors: overlapping tensors", "[checkpoint]") {
    const std::string h = R"({"a.weight":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                          R"("b.weight":{"dtype":"F32","shape":[4],"data_offsets":[12,28]}})";
    require_bad(h, pattern_bytes(32), {"'a.weight'", "'b.weight'", "overlap"});

    // Identical ranges overlap too; empty tensors anywhere do not.
    const std::string same =
        R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]},"b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})";
    require_bad(same, pattern_bytes(8), {"'a'", "'b'", "overlap"});

    temp_dir dir;
    const std::string ok = write_raw(dir,
                                     R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                                     R"("e":{"dtype":"U8","shape":[0],"data_offsets":[2,2]},)"
                                     R"("b":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}})",
                                     pattern_bytes(8));
    auto file = safetensors_file::open(ok);  // a hole [4, 6) is allowed
    CHECK(file->tensors().size() == 3);
}

TEST_CASE("safetensors: __metadata__ must map strings to strings", "[checkpoint]") {
    require_bad(R"({"__metadata__":{"format":1}})", {}, {"'__metadata__'", "'format'", "must be a string"});
    require_bad(R"({"__metadata__":[1]})", {}, {"'__metadata__'", "must be an object"});
    temp_dir dir;
    auto file = safetensors_file::open(write_raw(dir, R"({"__metadata__":{}})"));
    CHECK(file->tensors().empty());
    CHECK(file->header().data_size == 0);
}

TEST_CASE("mapped_file: read-only mapping and hints", "[checkpoint]") {
    temp_dir dir;
    const std::string path = dir.file("blob.bin");
    const auto bytes = pattern_bytes(10000);
    write_bytes(path, bytes);
    mneme::mapped_file map = mneme::mapped_file::open(path);
    REQUIRE(map.size() == bytes.size());
    CHECK(std::memcmp(map.data(), bytes.data(), bytes.size()) == 0);
    map.advise_sequential(4097, 100000);  // clipped to the file, start rounded down to a page
    map.advise_sequential(20000, 5);      // past the end: ignored
    mneme::mapped_file moved = std::move(map);
    CHECK(map.data() == nullptr);
    CHECK(moved.size() == bytes.size());
    CHECK(moved.path() == path);

    write_bytes(path, {});
    CHECK(mneme::mapped_file::open(path).size() == 0);
}
