// Engram hashing against the float64 reference's vectors (tests/golden/primitives/engram_hash.json,
// made with numpy's own generator): multipliers, table primes, offsets and row ids.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "graph/engram-hash.h"
#include "graph/numpy-random.h"

namespace {

using json = nlohmann::json;

json primitives(const char* name) {
    std::ifstream in(std::string(MNEME_TEST_DATA_DIR) + "/golden/primitives/" + name);
    REQUIRE(in);
    std::ostringstream s;
    s << in.rdbuf();
    return json::parse(s.str());
}

std::vector<int64_t> vocab_sizes(const json& v, int64_t n_max) {
    if (v.is_array()) return v.get<std::vector<int64_t>>();
    return std::vector<int64_t>(static_cast<std::size_t>(n_max - 1), v.get<int64_t>());
}

}  // namespace

TEST_CASE("Engram multipliers equal numpy's default_rng draws", "[unit][engram]") {
    const json j = primitives("engram_hash.json");
    for (const json& c : j["multipliers"]) {
        INFO("seed " << c["seed"] << " layer " << c["layer"] << " V' " << c["compressed_vocab"]);
        CHECK(mneme::engram_multipliers(c["seed"], c["layer"], c["n_max"], c["compressed_vocab"]) ==
              c["multipliers"].get<std::vector<int64_t>>());
    }
}

TEST_CASE("numpy integers: 32-bit and 64-bit bounded paths and multi-word seeds", "[unit][engram]") {
    // Values printed by numpy 1.24: default_rng(seed).integers(0, high, 6, dtype=int64).
    using v = std::vector<int64_t>;
    CHECK(mneme::numpy_default_rng_integers(10014, 12345, 6) == v{2590, 1547, 7494, 10729, 10187, 4388});
    CHECK(mneme::numpy_default_rng_integers(3, 4294967295, 6) ==
          v{3485385463, 367860370, 770692084, 1017093380, 778955829, 3441447622});
    CHECK(mneme::numpy_default_rng_integers(7, 4294967296, 6) ==
          v{4058335883, 2684764585, 2938530453, 3853503932, 2483747170, 3331544671});
    CHECK(mneme::numpy_default_rng_integers(4611686018427437951ull, 4611686018427, 6) ==
          v{1166320653538, 139503931909, 158138625984, 2657127576859, 2038159130430, 3271199583937});
    CHECK(mneme::numpy_default_rng_integers(18446744073709551615ull, 77, 6) == v{42, 52, 73, 65, 27, 0});
    CHECK(mneme::numpy_default_rng_integers(0, 1, 3) == v{0, 0, 0});
}

TEST_CASE("Engram primes are unique across layers, orders and heads, with offsets", "[unit][engram]") {
    const json j = primitives("engram_hash.json");
    for (const json& c : j["primes"]) {
        const auto layers = c["layer_ids"].get<std::vector<int64_t>>();
        const int64_t n_max = c["n_max"];
        const auto primes =
            mneme::engram_table_primes(layers, n_max, c["n_heads"], vocab_sizes(c["vocab_size"], n_max));
        REQUIRE(primes.size() == layers.size());
        for (std::size_t i = 0; i < layers.size(); ++i) {
            const std::string key = std::to_string(layers[i]);
            CHECK(primes[i] == c["primes"][key].get<std::vector<int64_t>>());
            CHECK(mneme::engram_offsets(primes[i]) == c["offsets"][key].get<std::vector<int64_t>>());
            int64_t sum = 0;
            for (int64_t p : primes[i]) sum += p;
            CHECK(sum == c["num_embeddings"][i].get<int64_t>());
        }
    }
}

TEST_CASE("Engram row ids: rolling XOR hash of canonical ids with pad history", "[unit][engram]") {
    const json c = primitives("engram_hash.json")["row_ids"];
    const auto canon = c["canonical_ids"].get<std::vector<int64_t>>();
    const auto tokens = c["tokens"].get<std::vector<int64_t>>();
    const int64_t n_max = c["n_max"], heads = c["n_heads"];
    mneme::engram_layer_hash h;
    h.layer_id = c["layer"];
    const int64_t vprime = *std::max_element(canon.begin(), canon.end()) + 1;
    h.multipliers = mneme::engram_multipliers(c["seed"], h.layer_id, n_max, vprime);
    REQUIRE(h.multipliers == c["multipliers"].get<std::vector<int64_t>>());
    h.primes = mneme::engram_table_primes(std::vector<int64_t>{h.layer_id}, n_max, heads,
                                          c["vocab_size"].get<std::vector<int64_t>>())[0];
    REQUIRE(h.primes == c["primes"].get<std::vector<int64_t>>());
    h.offsets = mneme::engram_offsets(h.primes);

    std::vector<int64_t> ids;
    for (int64_t t : tokens) ids.push_back(canon[static_cast<std::size_t>(t)]);
    const int64_t pad = canon[c["pad_token_id"].get<std::size_t>()];
    const std::vector<int64_t> start(static_cast<std::size_t>(n_max - 1), pad);
    const int64_t cols = (n_max - 1) * heads;
    std::vector<int64_t> want;
    for (const json& r : c["rows"]) {
        for (int64_t v : r.get<std::vector<int64_t>>()) want.push_back(v);
    }
    CHECK(mneme::engram_row_ids(h, n_max, heads, start, ids) == want);

    // Token by token, carrying the last N-1 canonical ids: the same rows.
    std::vector<int64_t> hist = start, got;
    for (int64_t id : ids) {
        const auto rows = mneme::engram_row_ids(h, n_max, heads, hist, std::vector<int64_t>{id});
        REQUIRE(static_cast<int64_t>(rows.size()) == cols);
        got.insert(got.end(), rows.begin(), rows.end());
        hist.erase(hist.begin());
        hist.push_back(id);
    }
    CHECK(got == want);
}
