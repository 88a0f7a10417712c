// n-gram drafting: what the drafter proposes, and that speculative acceptance keeps the sampled
// distribution exactly (chi-square over many draws on a tiny vocabulary, fixed seed).
#include <catch2/catch.hpp>

#include <vector>

#include "decode/ngram-draft.h"
#include "session/sampler.h"

using namespace mneme;

TEST_CASE("n-gram drafter continues what the context repeated", "[draft]") {
    ngram_drafter d;
    const std::vector<int32_t> ctx{1, 2, 3, 4, 5, 9, 1, 2, 3, 4, 5, 9, 1, 2};
    d.reset(ctx);
    CHECK(d.propose(3, 0.92, 5) == std::vector<int32_t>{4, 5, 9, 1, 2});
    CHECK(d.propose(3, 0.92, 2) == std::vector<int32_t>{4, 5});
    CHECK(d.propose(77, 0.92, 5).empty());  // never seen
    // The longest context seen ("0 7") was followed by 8 once and 6 once: share 1/2.
    ngram_drafter e;
    e.reset(std::vector<int32_t>{7, 8, 0, 7, 8, 0, 7, 6, 0});
    CHECK(e.propose(7, 0.5, 1) == std::vector<int32_t>{8});
    CHECK(e.propose(7, 0.92, 1).empty());

    e.push(std::vector<int32_t>{7, 8});
    CHECK(e.size() == 11);
}

TEST_CASE("speculative acceptance keeps the distribution exactly", "[draft]") {
    const std::vector<double> p{0.05, 0.4, 0.25, 0.2, 0.1};
    mneme_sampling_params sp = MNEME_SAMPLING_PARAMS_INIT;
    sp.temperature = 1.0f;
    sp.seed = 12345;
    sampler s(sp);
    for (int32_t draft : {0, 1, 3}) {
        const int n = 20000;
        std::vector<int> hist(p.size(), 0);
        for (int i = 0; i < n; ++i) ++hist[static_cast<std::size_t>(s.verify_draft(p, draft))];
        double chi2 = 0;
        for (std::size_t k = 0; k < p.size(); ++k) {
            const double e = n * p[k];
            chi2 += (hist[k] - e) * (hist[k] - e) / e;
        }
        INFO("draft " << draft << " chi2 " << chi2);
        CHECK(chi2 < 18.47);  // 4 degrees of freedom, p = 0.001
    }
}
