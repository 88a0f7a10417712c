#include "model/safetensors.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <string_view>

#include "core/error.h"
#include "model/json-parse.h"

namespace mneme {
namespace {

using json = nlohmann::json;

uint64_t read_le_u64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

// Errors about one tensor entry all read "<file>: tensor '<name>': <problem>".
class entry_context {
public:
    entry_context(const std::string& filename, const std::string& name) : filename_(filename), name_(name) {}

    template <class... Args>
    [[noreturn]] void fail_entry(Args&&... args) const {
        fail(MNEME_ERROR_INVALID_MODEL, filename_, ": tensor ", quote_name(name_), ": ", std::forward<Args>(args)...);
    }

    // A JSON integer in [0, 2^63): the range both shape (int64) and offsets (uint64) can hold.
    uint64_t non_negative(const json& value, const char* field) const {
        if (value.is_number_unsigned()) {
            const auto v = value.get<uint64_t>();
            if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
                fail_entry("'", field, "' value ", v, " is too large");
            }
            return v;
        }
        if (value.is_number_integer()) fail_entry("'", field, "' value ", value.get<int64_t>(), " is negative");
        fail_entry("'", field, "' must hold integers, got ", json_type_words(value));
    }

    const json& member(const json& entry, const char* field) const {
        auto it = entry.find(field);
        if (it == entry.end()) fail_entry("field '", field, "' is missing");
        return *it;
    }

private:
    const std::string& filename_;
    const std::string& name_;
};

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

st_tensor_entry parse_entry(const std::string& filename, const std::string& name, const json& entry,
                            uint64_t data_size) {
    entry_context ctx(filename, name);
    if (!entry.is_object()) ctx.fail_entry("entry must be a JSON object, got ", json_type_words(entry));

    st_tensor_entry t;
    t.name = name;

    const json& dtype = ctx.member(entry, "dtype");
    if (!dtype.is_string()) ctx.fail_entry("'dtype' must be a string, got ", json_type_words(dtype));
    const auto& dtype_name = dtype.get_ref<const std::string&>();
    const auto parsed = st_dtype_from_name(dtype_name);
    if (!parsed) ctx.fail_entry("unknown dtype ", quote_name(dtype_name));
    t.dtype = *parsed;

    const json& shape = ctx.member(entry, "shape");
    if (!shape.is_array()) ctx.fail_entry("'shape' must be an array, got ", json_type_words(shape));
    if (shape.size() > k_safetensors_max_rank) {
        ctx.fail_entry("'shape' has ", shape.size(), " dimensions, more than the limit of ", k_safetensors_max_rank);
    }
    // The element count is bounded by the data section long before it can overflow, so any
    // product that exceeds it is already an error; checking each step keeps the math exact.
    uint64_t numel = 1;
    bool overflow = false;
    for (const json& d : shape) {
        const uint64_t dim = ctx.non_negative(d, "shape");
        t.shape.push_back(static_cast<int64_t>(dim));
        overflow = overflow || __builtin_mul_overflow(numel, dim, &numel);
    }
    uint64_t bytes = 0;
    overflow = overflow || __builtin_mul_overflow(numel, st_dtype_size(t.dtype), &bytes);
    if (overflow) ctx.fail_entry("shape ", shape_text(t.shape), " has more elements than 64 bits can count");
    t.numel = numel;

    const json& offsets = ctx.member(entry, "data_offsets");
    if (!offsets.is_array() || offsets.size() != 2) {
        ctx.fail_entry(
            "'data_offsets' must be an array [begin, end], got ",
            offsets.is_array() ? cat("an array of ", offsets.size()) : std::string(json_type_words(offsets)));
    }
    t.begin = ctx.non_negative(offsets[0], "data_offsets");
    t.end = ctx.non_negative(offsets[1], "data_offsets");
    if (t.begin > t.end) ctx.fail_entry("data_offsets begin ", t.begin, " is after end ", t.end);
    if (t.end > data_size) {
        ctx.fail_entry("data_offsets end ", t.end, " beyond the data section (", data_size, " bytes)");
    }
    if (t.end - t.begin != bytes) {
        ctx.fail_entry("shape ", shape_text(t.shape), " of ", st_dtype_name(t.dtype), " needs ", bytes,
                       " bytes but data_offsets [", t.begin, ", ", t.end, "] span ", t.end - t.begin);
    }
    return t;
}

std::vector<std::pair<std::string, std::string>> parse_metadata(const std::string& filename, const json& meta) {
    if (!meta.is_object()) {
        fail(MNEME_ERROR_INVALID_MODEL, filename, ": field '__metadata__' must be an object, got ",
             json_type_words(meta));
    }
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [key, value] : meta.items()) {
        if (!value.is_string()) {
            fail(MNEME_ERROR_INVALID_MODEL, filename, ": field '__metadata__' entry ", quote_name(key),
                 " must be a string, got ", json_type_words(value));
        }
        out.emplace_back(key, value.get<std::string>());
    }
    return out;
}

// Two tensors may not share bytes: a writer bug or a crafted file could otherwise alias weights.
// Empty tensors occupy no bytes and may sit anywhere in range.
void check_no_overlap(const std::string& filename, const std::vector<st_tensor_entry>& tensors) {
    std::vector<const st_tensor_entry*> by_offset;
    by_offset.reserve(tensors.size());
    for (const auto& t : tensors) {
        if (t.end > t.begin) by_offset.push_back(&t);
    }
    std::sort(by_offset.begin(), by_offset.end(), [](const st_tensor_entry* a, const st_tensor_entry* b) {
        return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    for (std::size_t i = 1; i < by_offset.size(); ++i) {
        const st_tensor_entry& prev = *by_offset[i - 1];
        const st_tensor_entry& cur = *by_offset[i];
        if (cur.begin < prev.end) {
            fail(MNEME_ERROR_INVALID_MODEL, filename, ": tensor ", quote_name(cur.name), " data_offsets [", cur.begin,
                 ", ", cur.end, "] overlap tensor ", quote_name(prev.name), " [", prev.begin, ", ", prev.end, "]");
        }
    }
}

}  // namespace

st_header parse_safetensors_header(const uint8_t* file_bytes, std::size_t file_size, const std::string& filename) {
    if (file_size == 0) fail(MNEME_ERROR_INVALID_MODEL, filename, ": file is empty (not a safetensors file)");
    if (file_size < 8) {
        fail(MNEME_ERROR_INVALID_MODEL, filename, ": file is ", file_size,
             " bytes, too short for the 8-byte header length (truncated?)");
    }
    const uint64_t header_len = read_le_u64(file_bytes);
    const uint64_t available = file_size - 8;
    if (header_len == 0) fail(MNEME_ERROR_INVALID_MODEL, filename, ": header length is 0 (no JSON header)");
    if (header_len > available) {
        fail(MNEME_ERROR_INVALID_MODEL, filename, ": header length ", header_len, " is larger than the ", available,
             " bytes that follow it (truncated or not a safetensors file)");
    }
    if (header_len > k_safetensors_max_header_bytes) {
        fail(MNEME_ERROR_INVALID_MODEL, filename, ": header length ", header_len, " exceeds the limit of ",
             k_safetensors_max_header_bytes, " bytes");
    }

    st_header header;
    header.data_offset = 8 + header_len;
    header.data_size = file_size - header.data_offset;

    const std::string_view text(reinterpret_cast<const char*>(file_bytes + 8), static_cast<std::size_t>(header_len));
    // Shape arrays sit at depth 2; nothing legitimate goes deeper than that.
    const json root = parse_json_strictly(text, filename, "header", 8);
    if (!root.is_object()) {
        fail(MNEME_ERROR_INVALID_MODEL, filename, ": header must be a JSON object, got ", json_type_words(root));
    }

    header.tensors.reserve(root.size());
    for (const auto& [name, entry] : root.items()) {
        if (name == "__metadata__") {
            header.metadata = parse_metadata(filename, entry);
            continue;
        }
        header.tensors.push_back(parse_entry(filename, name, entry, header.data_size));
    }
    // nlohmann objects iterate in key order already; sorting keeps the guarantee explicit.
    std::sort(header.tensors.begin(), header.tensors.end(),
              [](const st_tensor_entry& a, const st_tensor_entry& b) { return a.name < b.name; });
    check_no_overlap(filename, header.tensors);
    return header;
}

std::unique_ptr<safetensors_file> safetensors_file::open(const std::string& path) {
    mapped_file map = mapped_file::open(path);
    st_header header = parse_safetensors_header(map.data(), static_cast<std::size_t>(map.size()), path);
    return std::unique_ptr<safetensors_file>(new safetensors_file(std::move(map), std::move(header)));
}

const st_tensor_entry* safetensors_file::find(std::string_view name) const noexcept {
    const auto& ts = header_.tensors;
    auto it = std::lower_bound(ts.begin(), ts.end(), name,
                               [](const st_tensor_entry& t, std::string_view n) { return t.name < n; });
    return (it != ts.end() && it->name == name) ? &*it : nullptr;
}

const uint8_t* safetensors_file::data(const st_tensor_entry& tensor) const noexcept {
    if (map_.data() == nullptr) return nullptr;
    return map_.data() + header_.data_offset + tensor.begin;
}

}  // namespace mneme
