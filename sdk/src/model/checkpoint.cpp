#include "model/checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <system_error>

#include "core/error.h"
#include "model/json-parse.h"
#include "model/mapped-file.h"

namespace mneme {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// The index of the largest DeepSeek release is about 9 MB.
constexpr uint64_t k_max_index_bytes = 256ull << 20;

std::string join(const std::string& dir, std::string_view name) {
    return (fs::path(dir) / fs::path(name)).string();
}

// Follows symlinks (the Hugging Face cache links every snapshot file to a blob).
bool is_regular_file(const std::string& path) {
    std::error_code ec;
    return fs::is_regular_file(path, ec);
}

// A shard name from the index must be a plain file name inside the checkpoint directory: an index
// must not be able to point the loader at arbitrary files.
bool is_plain_file_name(std::string_view name) {
    return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
           name.find('\\') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

std::string shape_text(std::span<const int64_t> shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

tensor_info make_info(const safetensors_file& file, const st_tensor_entry& entry) {
    tensor_info t;
    t.name = entry.name;
    t.file = file.path();
    t.dtype = entry.dtype;
    t.shape = entry.shape;
    t.data = file.data(entry);
    t.size_bytes = entry.end - entry.begin;
    return t;
}

// Shard file name -> tensors the index places in it.
std::map<std::string, std::vector<std::string>> read_index(const std::string& index_path) {
    const mapped_file map = mapped_file::open(index_path);
    if (map.size() > k_max_index_bytes) {
        fail(MNEME_ERROR_INVALID_MODEL, index_path, ": ", map.size(), " bytes, more than the limit of ",
             k_max_index_bytes);
    }
    const std::string_view text(reinterpret_cast<const char*>(map.data()), static_cast<std::size_t>(map.size()));
    const json root = parse_json_strictly(text, index_path, "index");
    if (!root.is_object()) {
        fail(MNEME_ERROR_INVALID_MODEL, index_path, ": must be a JSON object, got ", json_type_words(root));
    }
    auto wm = root.find("weight_map");
    if (wm == root.end()) fail(MNEME_ERROR_INVALID_MODEL, index_path, ": field 'weight_map' is missing");
    if (!wm->is_object()) {
        fail(MNEME_ERROR_INVALID_MODEL, index_path, ": field 'weight_map' must be an object, got ",
             json_type_words(*wm));
    }
    if (wm->empty()) fail(MNEME_ERROR_INVALID_MODEL, index_path, ": field 'weight_map' is empty");

    std::map<std::string, std::vector<std::string>> shards;
    for (const auto& [tensor, shard] : wm->items()) {
        if (!shard.is_string()) {
            fail(MNEME_ERROR_INVALID_MODEL, index_path, ": field 'weight_map' entry for tensor ", quote_name(tensor),
                 " must be a file name string, got ", json_type_words(shard));
        }
        const auto& shard_name = shard.get_ref<const std::string&>();
        if (!is_plain_file_name(shard_name)) {
            fail(MNEME_ERROR_INVALID_MODEL, index_path, ": field 'weight_map' maps tensor ", quote_name(tensor), " to ",
                 quote_name(shard_name), ", which is not a plain file name in the checkpoint directory");
        }
        shards[shard_name].push_back(tensor);
    }
    return shards;
}

std::vector<std::string> list_safetensors_files(const std::string& dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.size() > 12 && name.ends_with(".safetensors") && is_regular_file(it->path().string())) {
            names.push_back(name);
        }
    }
    if (ec) fail(MNEME_ERROR_IO, dir, ": cannot list the checkpoint directory: ", ec.message());
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace

int64_t tensor_info::numel() const noexcept {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;  // cannot overflow: validated against the file size at open
    return n;
}

void check_tensor(const tensor_info& tensor, st_dtype_set dtypes, std::span<const int64_t> shape) {
    if (!dtypes.contains(tensor.dtype)) {
        fail(MNEME_ERROR_INVALID_MODEL, tensor.file, ": tensor ", quote_name(tensor.name), ": dtype is ",
             st_dtype_name(tensor.dtype), ", expected ", dtypes.describe());
    }
    if (!std::equal(tensor.shape.begin(), tensor.shape.end(), shape.begin(), shape.end())) {
        fail(MNEME_ERROR_INVALID_MODEL, tensor.file, ": tensor ", quote_name(tensor.name), ": shape is ",
             shape_text(tensor.shape), ", expected ", shape_text(shape));
    }
}

void check_tensor(const tensor_info& tensor, st_dtype_set dtypes, std::initializer_list<int64_t> shape) {
    check_tensor(tensor, dtypes, std::span<const int64_t>(shape.begin(), shape.size()));
}

std::unique_ptr<checkpoint> checkpoint::open(const std::string& dir) {
    std::error_code ec;
    const fs::file_status st = fs::status(dir, ec);
    if (ec && ec != std::errc::no_such_file_or_directory) {
        fail(MNEME_ERROR_IO, dir, ": cannot read the checkpoint directory: ", ec.message());
    }
    if (!fs::exists(st)) fail(MNEME_ERROR_FILE_NOT_FOUND, dir, ": checkpoint directory does not exist");
    if (!fs::is_directory(st)) fail(MNEME_ERROR_FILE_NOT_FOUND, dir, ": is not a checkpoint directory");

    std::unique_ptr<checkpoint> ck(new checkpoint());
    ck->dir_ = dir;

    const std::string index_path = join(dir, k_checkpoint_index_name);
    if (is_regular_file(index_path)) {
        for (const auto& [shard_name, names] : read_index(index_path)) {
            const std::string shard_path = join(dir, shard_name);
            std::error_code exists_ec;
            if (!fs::exists(shard_path, exists_ec)) {
                fail(MNEME_ERROR_FILE_NOT_FOUND, index_path, ": shard ", quote_name(shard_name), " (holding tensor ",
                     quote_name(names.front()), ") does not exist in ", dir);
            }
            auto file = safetensors_file::open(shard_path);
            for (const std::string& name : names) {
                const st_tensor_entry* entry = file->find(name);
                if (entry == nullptr) {
                    fail(MNEME_ERROR_INVALID_MODEL, shard_path, ": tensor ", quote_name(name), " is missing, but ",
                         k_checkpoint_index_name, " places it in this file");
                }
                ck->tensors_.push_back(make_info(*file, *entry));
            }
            ck->files_.push_back(std::move(file));
        }
    } else {
        const std::vector<std::string> names = list_safetensors_files(dir);
        if (names.empty()) {
            fail(MNEME_ERROR_FILE_NOT_FOUND, dir, ": no ", k_checkpoint_index_name,
                 " and no *.safetensors file in the checkpoint directory");
        }
        for (const std::string& name : names) {
            auto file = safetensors_file::open(join(dir, name));
            for (const st_tensor_entry& entry : file->tensors()) ck->tensors_.push_back(make_info(*file, entry));
            ck->files_.push_back(std::move(file));
        }
    }

    // Stable, so that of two equal names the earlier file comes first in the message.
    std::stable_sort(ck->tensors_.begin(), ck->tensors_.end(),
                     [](const tensor_info& a, const tensor_info& b) { return a.name < b.name; });
    for (std::size_t i = 1; i < ck->tensors_.size(); ++i) {
        const tensor_info& a = ck->tensors_[i - 1];
        const tensor_info& b = ck->tensors_[i];
        if (a.name == b.name) {
            fail(MNEME_ERROR_INVALID_MODEL, dir, ": tensor ", quote_name(a.name), " is in both ", a.file, " and ",
                 b.file);
        }
    }
    for (const tensor_info& t : ck->tensors_) ck->total_bytes_ += t.size_bytes;
    return ck;
}

const tensor_info* checkpoint::find(std::string_view name) const noexcept {
    auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                               [](const tensor_info& t, std::string_view n) { return t.name < n; });
    return (it != tensors_.end() && it->name == name) ? &*it : nullptr;
}

const tensor_info& checkpoint::get(std::string_view name) const {
    const tensor_info* t = find(name);
    if (t == nullptr) fail(MNEME_ERROR_INVALID_MODEL, dir_, ": tensor ", quote_name(name), " is missing");
    return *t;
}

const tensor_info& checkpoint::expect(std::string_view name, st_dtype_set dtypes,
                                      std::span<const int64_t> shape) const {
    const tensor_info& t = get(name);
    check_tensor(t, dtypes, shape);
    return t;
}

const tensor_info& checkpoint::expect(std::string_view name, st_dtype_set dtypes,
                                      std::initializer_list<int64_t> shape) const {
    return expect(name, dtypes, std::span<const int64_t>(shape.begin(), shape.size()));
}

const tensor_info* checkpoint::expect_optional(std::string_view name, st_dtype_set dtypes,
                                               std::span<const int64_t> shape) const {
    const tensor_info* t = find(name);
    if (t != nullptr) check_tensor(*t, dtypes, shape);
    return t;
}

const tensor_info* checkpoint::expect_optional(std::string_view name, st_dtype_set dtypes,
                                               std::initializer_list<int64_t> shape) const {
    return expect_optional(name, dtypes, std::span<const int64_t>(shape.begin(), shape.size()));
}

}  // namespace mneme
