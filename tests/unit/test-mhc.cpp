// mHC as DeepSeek-V4 ships it, through the graph code (mhc.h) on the CPU backend, against the
// float64 reference's vectors (tests/golden/primitives/sinkhorn.json, mhc.json).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

#include "cpu-device.h"
#include "graph/mhc.h"

namespace {

using json = nlohmann::json;
using mneme::test::cpu_device;

json primitives(const char* name) {
    std::ifstream in(std::string(MNEME_TEST_DATA_DIR) + "/golden/primitives/" + name);
    REQUIRE(in);
    std::ostringstream s;
    s << in.rdbuf();
    return json::parse(s.str());
}

// Flattens nested JSON arrays of numbers in row-major order.
void flatten(const json& j, std::vector<double>& out) {
    if (j.is_array()) {
        for (const json& e : j) flatten(e, out);
    } else {
        out.push_back(j.get<double>());
    }
}
std::vector<double> flat(const json& j) {
    std::vector<double> out;
    flatten(j, out);
    return out;
}

void require_close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO("element " << i << " got " << got[i] << " want " << want[i]);
        REQUIRE(std::fabs(got[i] - want[i]) <= tol);
    }
}

}  // namespace

TEST_CASE("Sinkhorn: shipped normalisation order, columns doubly stochastic", "[unit][mhc]") {
    const json j = primitives("sinkhorn.json");
    const int64_t n = 4;
    for (mneme_dtype act : {MNEME_DTYPE_F64, MNEME_DTYPE_F32}) {
        cpu_device cpu(act);
        auto& g = cpu.g();
        for (const json& c : j["cases"]) {
            // Only the comb part matters: mixes = logits there, scale 1, base 0.
            std::vector<double> mixes(static_cast<std::size_t>((2 + n) * n), 0.0);
            const auto logits = flat(c["logits"]);
            std::copy(logits.begin(), logits.end(), mixes.begin() + 2 * n);
            const auto m = cpu.constant({(2 + n) * n, 1}, mixes);
            const auto scale = cpu.constant({3}, {1, 1, 1});
            const auto base =
                cpu.constant({(2 + n) * n}, std::vector<double>(static_cast<std::size_t>((2 + n) * n), 0.0));
            const auto out = g.tensor({(2 + n) * n, 1});
            g.hc_coeffs(out, m, scale, base,
                        mneme_op_hc{4, static_cast<uint32_t>(j["iters"].get<int>()), j["eps"], 2.0});
            const auto got = g.read(out);
            const std::vector<double> comb(got.begin() + 2 * n, got.end());
            require_close(comb, flat(c["out"]), act == MNEME_DTYPE_F64 ? 1e-14 : 1e-6);
            for (int64_t col = 0; col < n; ++col) {
                double sum = 0, row_sum = 0;
                for (int64_t i = 0; i < n; ++i) sum += comb[static_cast<std::size_t>(i * n + col)];
                for (int64_t k = 0; k < n; ++k) row_sum += comb[static_cast<std::size_t>(col * n + k)];
                CHECK(std::fabs(sum - 1.0) <= 1e-5);
                CHECK(std::fabs(row_sum - 1.0) <= 0.05);  // rows only approximately (it ends on columns)
            }
        }
    }
}

TEST_CASE("hc_pre / hc_post / hc_head of one site equal the reference", "[unit][mhc]") {
    const json j = primitives("mhc.json");
    const int64_t n = j["hc_mult"], d = j["dim"], t = static_cast<int64_t>(j["x"].size());
    cpu_device cpu(MNEME_DTYPE_F64);
    auto& g = cpu.g();
    mneme::hc_params hp;
    hp.n = n;
    hp.sinkhorn_iters = j["sinkhorn_iters"];
    hp.hc_eps = j["hc_eps"];
    hp.norm_eps = j["rms_norm_eps"];

    const auto x = cpu.constant({d, n, t}, flat(j["x"]));
    mneme::hc_site_weights site;
    site.fn.w = cpu.constant({n * d, (2 + n) * n}, flat(j["fn"]));
    site.scale = cpu.constant({3}, flat(j["scale"]));
    site.base = cpu.constant({(2 + n) * n}, flat(j["base"]));
    const auto coeffs = mneme::hc_coefficients(g, hp, x, site);
    const auto got = g.read(coeffs);
    std::vector<double> pre, post, comb;
    for (int64_t r = 0; r < t; ++r) {
        const double* c = got.data() + r * (2 + n) * n;
        pre.insert(pre.end(), c, c + n);
        post.insert(post.end(), c + n, c + 2 * n);
        comb.insert(comb.end(), c + 2 * n, c + (2 + n) * n);
    }
    require_close(pre, flat(j["pre"]), 1e-13);
    require_close(post, flat(j["post"]), 1e-13);
    require_close(comb, flat(j["comb"]), 1e-13);

    require_close(g.read(mneme::hc_collapse(g, hp, x, coeffs)), flat(j["collapse"]), 1e-13);
    const auto z = cpu.constant({d, t}, flat(j["z"]));
    require_close(g.read(mneme::hc_expand(g, hp, x, coeffs, z)), flat(j["expand"]), 1e-13);

    mneme::hc_site_weights head;
    head.fn.w = cpu.constant({n * d, n}, flat(j["head_fn"]));
    head.scale = cpu.constant({1}, flat(j["head_scale"]));
    head.base = cpu.constant({n}, flat(j["head_base"]));
    const auto w = mneme::hc_coefficients(g, hp, x, head);
    require_close(g.read(mneme::hc_collapse(g, hp, x, w)), flat(j["head_out"]), 1e-13);
}
