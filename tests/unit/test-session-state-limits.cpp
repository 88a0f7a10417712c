// Resource limits of session states and snapshots: sizes a state file declares are checked against
// the file itself before anything is allocated, so a small crafted file (with a valid checksum)
// cannot make a session allocate for a whole context's worth of tokens.
#include <mneme/mneme.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

uint64_t state_checksum(const std::vector<unsigned char>& b) {
    uint64_t h = 1469598103934665603ull;
    for (std::size_t i = 0; i + 8 < b.size(); ++i) {  // all but the stored checksum
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

}  // namespace

TEST_CASE("a session state declaring more tokens than its file holds is refused before allocating", "[limits]") {
    mneme_runtime_desc rd = MNEME_RUNTIME_DESC_INIT;
    rd.n_threads = 1;
    rd.log_level = MNEME_LOG_LEVEL_OFF;
    mneme_runtime* rt = nullptr;
    REQUIRE(mneme_runtime_create(&rd, &rt) == MNEME_OK);
    mneme_model* model = nullptr;
    REQUIRE(mneme_model_open(rt, (std::string(MNEME_TEST_DATA_DIR) + "/golden/v3-tiny").c_str(), nullptr, &model) ==
            MNEME_OK);
    mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
    sd.n_ctx = 100000;  // a context far larger than the file
    mneme_session* s = nullptr;
    REQUIRE(mneme_session_create(model, &sd, &s) == MNEME_OK);
    const int32_t tokens[] = {3, 5, 7, 11, 13};
    mneme_feed_desc fd = MNEME_FEED_DESC_INIT;
    REQUIRE(mneme_session_feed_tokens(s, tokens, 5, &fd) == MNEME_OK);
    const std::string path =
        (std::filesystem::temp_directory_path() / ("mneme-limits-" + std::to_string(::getpid()))).string();
    REQUIRE(mneme_session_save_state(s, path.c_str()) == MNEME_OK);
    std::vector<unsigned char> b;
    {
        std::ifstream in(path, std::ios::binary);
        b.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    // magic (8), version (4), model identity (8), precision (4), then the token count.
    constexpr std::size_t k_count_at = 24;
    REQUIRE(b.size() > k_count_at + 8 + 5 * 4);
    uint64_t n = 0;
    std::memcpy(&n, b.data() + k_count_at, 8);
    REQUIRE(n == 5);
    n = b.size() / 4 + 1;  // more tokens than the whole file could hold, well inside the context
    std::memcpy(b.data() + k_count_at, &n, 8);
    const uint64_t sum = state_checksum(b);
    std::memcpy(b.data() + b.size() - 8, &sum, 8);
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));

    CHECK(mneme_session_load_state(s, path.c_str()) == MNEME_ERROR_INVALID_MODEL);
    CHECK(std::string(mneme_last_error_message()).find("inconsistent sizes") != std::string::npos);
    uint64_t count = 0;
    REQUIRE(mneme_session_token_count(s, &count) == MNEME_OK);
    CHECK(count == 5);  // the session is unchanged
    std::filesystem::remove(path);
    mneme_session_destroy(s);
    mneme_model_destroy(model);
    mneme_runtime_destroy(rt);
}
