#include "answer_diagnostics.h"

#include <vector>

namespace mneme_chat {
namespace {

// The caller-buffer convention: ask for the size, then fill.
template <class F>
std::vector<uint64_t> readCounts(F&& call) {
    size_t n = 0;
    if (call(nullptr, 0, &n) < 0) return {};
    std::vector<uint64_t> out(n);
    if (call(out.data(), out.size(), &n) != MNEME_OK) return {};
    return out;
}

void readFileSelections(const mneme_session* session, const mneme_codebase* codebase, quint64 first,
                        AnswerDiagnostics& d) {
    size_t count = 0;
    if (!codebase || mneme_codebase_file_count(codebase, &count) != MNEME_OK) return;
    std::vector<mneme_token_span> spans;
    QList<FileSelection> files;
    for (size_t i = 0; i < count; ++i) {
        mneme_codebase_span sp{};
        sp.struct_size = sizeof(sp);
        mneme_codebase_file f{};
        f.struct_size = sizeof(f);
        if (mneme_codebase_get_file_span(codebase, i, &sp) != MNEME_OK || !sp.included) continue;
        if (mneme_codebase_get_file(codebase, i, &f) != MNEME_OK) continue;
        spans.push_back({first + sp.token_offset, sp.token_count});
        files.append({QString::fromUtf8(f.path), sp.token_count, 0});
    }
    std::vector<uint64_t> sums(spans.size());
    if (!spans.empty() &&
        mneme_session_last_selection_by_span(session, spans.data(), spans.size(), sums.data()) != MNEME_OK) {
        return;
    }
    for (qsizetype i = 0; i < files.size(); ++i) {
        files[i].selections = sums[static_cast<size_t>(i)];
        d.codebasePositions += sums[static_cast<size_t>(i)];
    }
    d.files = files;
}

}  // namespace

AnswerDiagnostics readAnswerDiagnostics(const mneme_model* model, const mneme_session* session,
                                        const mneme_codebase* codebase, quint64 codebaseFirstToken) {
    AnswerDiagnostics d;
    mneme_generation_stats g{};
    g.struct_size = sizeof(g);
    if (!session || mneme_session_last_generation_stats(session, &g) != MNEME_OK) return d;
    d.available = true;
    d.draftProposed = g.draft_proposed;
    d.draftAccepted = g.draft_accepted;
    d.draftAcceptance = g.draft_acceptance_rate;
    d.draftedFraction = g.drafted_fraction;
    d.engramFromStore = g.engram_from_store != MNEME_FALSE;
    d.engramHits = g.engram_hits;
    d.engramMisses = g.engram_misses;
    d.engramBytesRead = g.engram_bytes_read;
    d.engramStallSeconds = g.engram_stall_seconds;
    mneme_engram_stats engram{};
    engram.struct_size = sizeof(engram);
    if (model && mneme_model_engram_stats(model, &engram) == MNEME_OK) d.engramTableBytes = engram.table_bytes;
    d.layers = g.n_layers;
    d.experts = g.n_experts;
    d.expertsPerToken = g.experts_per_token;
    d.forwardedTokens = g.forwarded_tokens;
    const auto expertCounts = [&](uint64_t* buf, size_t cap, size_t* n) {
        return mneme_session_last_expert_counts(session, buf, cap, n);
    };
    for (uint64_t c : readCounts(expertCounts)) d.expertCounts.append(c);
    d.indexerLayers = g.n_indexer_layers;
    d.indexTopk = g.index_topk;
    d.selectionsCollected = g.selections_collected != MNEME_FALSE;
    d.selections = g.selections;
    if (!d.selectionsCollected || !d.indexerLayers) return d;
    // One bucket over the whole context: every position visit of the answer.
    const mneme_token_span all{0, g.context_tokens};
    uint64_t total = 0;
    if (mneme_session_last_selection_by_span(session, &all, 1, &total) == MNEME_OK) d.selectedPositions = total;
    readFileSelections(session, codebase, codebaseFirstToken, d);
    return d;
}

}  // namespace mneme_chat
