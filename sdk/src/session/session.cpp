#include "session/session.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>

#include "decode/ngram-draft.h"
#include "session/atomic-file.h"
#include "tokenizer/stream-decoder.h"

namespace mneme {
namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

constexpr char k_state_magic[8] = {'M', 'N', 'E', 'M', 'E', 'S', 'T', '1'};

uint64_t fnv1a(const unsigned char* p, std::size_t n, uint64_t h = 1469598103934665603ull) {
    for (std::size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

template <class T>
void put(std::vector<unsigned char>& out, const T& v) {
    const auto* p = reinterpret_cast<const unsigned char*>(&v);
    out.insert(out.end(), p, p + sizeof(T));
}

template <class T>
T get(const std::vector<unsigned char>& in, std::size_t& at, const std::string& path) {
    if (at + sizeof(T) > in.size()) fail(MNEME_ERROR_INVALID_MODEL, path, ": truncated session state");
    T v;
    std::memcpy(&v, in.data() + at, sizeof(T));
    at += sizeof(T);
    return v;
}

// The longest suffix of `text` that is a proper prefix of some stop string: held back from the
// stream until it is clear whether a stop string is forming.
std::size_t held_back(const std::string& text, const std::vector<std::string>& stops) {
    std::size_t hold = 0;
    for (const auto& s : stops) {
        for (std::size_t len = std::min(s.size() - 1, text.size()); len > hold; --len) {
            if (text.compare(text.size() - len, len, s, 0, len) == 0) {
                hold = len;
                break;
            }
        }
    }
    return hold;
}

}  // namespace

session::busy_guard::busy_guard(session& s) : s_(s) {
    if (s_.busy_.exchange(true)) fail(MNEME_ERROR_BUSY, "the session is in use by another call");
    // A cancel applies to the call in progress: one sent while the session was idle is dropped,
    // so it cannot stop the next, unrelated call.
    s_.cancel_.store(false, std::memory_order_relaxed);
}

session::session(model& m, const mneme_session_desc& desc)
    : model_(m),
      g_(m.dev(), m.act_dtype(), &m.spares()),
      sampler_(desc.sampling ? *desc.sampling : mneme_sampling_params MNEME_SAMPLING_PARAMS_INIT) {
    n_ctx_ = desc.n_ctx ? static_cast<int64_t>(desc.n_ctx) : model_.max_context();
    const mneme_memory_plan plan = model_.plan(static_cast<uint64_t>(n_ctx_));
    if (!plan.fits) {
        const double gib = 1024.0 * 1024.0 * 1024.0;
        char msg[256];
        std::snprintf(msg, sizeof(msg), "a %lld-token context needs %.2f GiB, budget %.2f GiB; the largest context that fits is %llu tokens",
                      static_cast<long long>(n_ctx_), static_cast<double>(plan.total_bytes) / gib,
                      static_cast<double>(plan.budget_bytes) / gib, static_cast<unsigned long long>(plan.max_context_in_budget));
        fail(MNEME_ERROR_BUDGET_EXCEEDED, msg);
    }
    if (desc.snapshot_dir && desc.snapshot_dir[0]) {
        snapshots_ = std::make_unique<snapshot_store>(desc.snapshot_dir, desc.snapshot_budget_bytes, model_.identity());
    }
    stats_.struct_size = sizeof(stats_);
    std::lock_guard lock(model_.device_mutex());
    state_ = model_.arch().new_state(g_, n_ctx_);
}

session::~session() = default;

void session::reset() {
    state_->n_past = 0;
    tokens_.clear();
    logits_.clear();
    logits_f32_.clear();
    logit_rows_ = 0;
    gen_.drop_prompt();
    drop_drafter();
}

std::vector<double> session::step(std::span<const int32_t> tokens, bool all_logits, bool interruptible) {
    std::lock_guard lock(model_.device_mutex());
    std::function<bool()> stop;
    if (interruptible) stop = [this] { return cancel_.load(std::memory_order_relaxed); };
    g_.begin_pass(std::move(stop));
    std::vector<double> out;
    try {
        out = model_.arch().forward(g_, *state_, tokens, all_logits);
    } catch (const pass_cancelled&) {
        // The caches are put back as they were before the pass. If the device fails while doing
        // that, what they hold is unknown: the context is dropped rather than left inconsistent,
        // and the device's error is what the caller needs to hear.
        if (const std::exception_ptr failed = g_.abort_pass()) {
            reset();
            std::rethrow_exception(failed);
        }
        throw;
    } catch (...) {
        if (g_.abort_pass()) reset();
        throw;
    }
    g_.end_pass();
    tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
    if (state_->probe) gen_.forwarded(tokens.size());
    return out;
}

std::size_t session::restore_snapshot(std::span<const int32_t> tokens) {
    std::vector<int32_t> full(tokens_);
    full.insert(full.end(), tokens.begin(), tokens.end());
    const std::size_t have = tokens_.size();
    const auto hit = snapshots_->find_longest(full, have);
    if (!hit) return 0;
    const std::vector<int32_t> before = tokens_;
    try {
        load(hit->path);
    } catch (const error& e) {
        model_.rt().log().warn("snapshot", "ignoring snapshot ", hit->path, ": ", e.what());
        snapshots_->remove(hit->path);
        return 0;
    }
    // The file's own token list must be exactly this prefix (hash collisions and tampering).
    if (!std::equal(tokens_.begin(), tokens_.end(), full.begin()) || tokens_.size() != hit->tokens) {
        model_.rt().log().warn("snapshot", "ignoring snapshot ", hit->path, ": its tokens differ from the prefix");
        reset();
        if (!before.empty()) (void)evaluate(before, mneme_feed_desc MNEME_FEED_DESC_INIT);
        return 0;
    }
    snapshots_->touch(hit->path);
    note_snapshot(hit->path, hit->tokens);
    return hit->tokens - have;
}

mneme_status session::feed(std::span<const int32_t> tokens, const mneme_feed_desc& desc) {
    const auto t0 = clock_type::now();
    stats_ = mneme_feed_stats{};
    stats_.struct_size = sizeof(stats_);
    const bool use_snapshots = (desc.flags & MNEME_FEED_SNAPSHOT) && snapshots_;
    std::size_t reused = 0;
    if (use_snapshots && !tokens.empty() && static_cast<int64_t>(tokens_.size() + tokens.size()) <= n_ctx_) {
        reused = restore_snapshot(tokens);
    }
    stats_.tokens_reused = reused;
    const mneme_status st = evaluate(tokens.subspan(reused), desc);
    stats_.tokens_evaluated = tokens.size() - reused;
    if (st == MNEME_OK && use_snapshots && reused < tokens.size()) {
        const std::string path = snapshots_->path_for(tokens_);
        save(path);
        note_snapshot(path, tokens_.size());
        snapshots_->evict();
        stats_.snapshot_saved = MNEME_TRUE;
    }
    stats_.seconds = seconds_since(t0);
    gen_.add_feed(t0, stats_);
    return st;
}

mneme_status session::evaluate(std::span<const int32_t> tokens, const mneme_feed_desc& desc) {
    if (tokens.empty()) return MNEME_OK;
    if (static_cast<int64_t>(tokens_.size() + tokens.size()) > n_ctx_) {
        fail(MNEME_ERROR_CONTEXT_FULL, "feeding ", tokens.size(), " tokens would exceed the context of ", n_ctx_,
             " (", tokens_.size(), " used)");
    }
    const std::size_t chunk = desc.chunk_size ? desc.chunk_size : k_default_feed_chunk;
    const bool all = desc.logits == MNEME_LOGITS_ALL;
    const std::size_t vocab = static_cast<std::size_t>(model_.config().vocab_size);
    // A call stopped (cancel or error) before it completes a chunk changes nothing, its logits
    // included; the float copy always follows the doubles.
    const std::size_t tokens_before = tokens_.size();
    std::vector<double> logits_before = std::move(logits_);
    const auto settle_logits = [&](bool stopped) {
        if (desc.logits == MNEME_LOGITS_NONE) logits_.clear();
        if (stopped && tokens_.size() == tokens_before) logits_ = std::move(logits_before);
        logit_rows_ = vocab ? logits_.size() / vocab : 0;
        logits_f32_.assign(logits_.begin(), logits_.end());
    };
    logits_.clear();
    logit_rows_ = 0;
    const auto t0 = clock_type::now();
    mneme_status result = MNEME_OK;
    for (std::size_t done = 0; done < tokens.size();) {
        if (take_cancel()) {
            result = MNEME_CANCELLED;
            break;
        }
        const std::size_t n = std::min(chunk, tokens.size() - done);
        const bool last_chunk = done + n == tokens.size();
        std::vector<double> rows;
        try {
            rows = step(tokens.subspan(done, n), all, true);
        } catch (const pass_cancelled&) {
            result = MNEME_CANCELLED;  // the chunk left no trace: as if cancelled before it
            break;
        } catch (...) {
            settle_logits(true);  // an error leaves what a cancel there would
            throw;
        }
        if (all) {
            logits_.insert(logits_.end(), rows.begin(), rows.end());
        } else if (last_chunk || desc.logits == MNEME_LOGITS_LAST) {
            logits_.assign(rows.end() - static_cast<std::ptrdiff_t>(vocab), rows.end());
        }
        done += n;
        if (desc.progress_fn) {
            mneme_progress p{};
            p.struct_size = sizeof(p);
            p.stage = MNEME_PROGRESS_STAGE_PREFILL;
            p.done = done;
            p.total = tokens.size();
            p.elapsed_seconds = seconds_since(t0);
            p.rate_per_second = p.elapsed_seconds > 0 ? static_cast<double>(done) / p.elapsed_seconds : 0.0;
            p.eta_seconds = p.rate_per_second > 0 ? static_cast<double>(tokens.size() - done) / p.rate_per_second : -1.0;
            if (!desc.progress_fn(desc.progress_user_data, &p) && done < tokens.size()) {
                result = MNEME_CANCELLED;
                break;
            }
        }
    }
    settle_logits(result == MNEME_CANCELLED);
    return result;
}

mneme_status session::generate(const mneme_generate_desc& desc, mneme_generate_result& result) {
    const std::size_t vocab = static_cast<std::size_t>(model_.config().vocab_size);
    if (logits_.size() < vocab) fail(MNEME_ERROR_INVALID_ARGUMENT, "generate needs a context: feed a prompt first");
    const tokenizer* tok = model_.tok();
    const int32_t eos = model_.info().eos_token;
    std::vector<std::string> stops;
    for (size_t i = 0; i < desc.n_stop_strings; ++i) {
        if (desc.stop_strings && desc.stop_strings[i] && desc.stop_strings[i][0]) stops.emplace_back(desc.stop_strings[i]);
    }
    std::unique_ptr<utf8_stream_decoder> decoder;
    if (tok) decoder = std::make_unique<utf8_stream_decoder>(*tok, false);
    // The forward passes of this call report to the answer's statistics, and only they.
    state_->probe =
        &gen_.begin(model_.config(), (desc.flags & MNEME_GENERATE_COLLECT_SELECTIONS) != 0, model_.engram_stats());
    struct probe_detach {
        arch_state& st;
        ~probe_detach() { st.probe = nullptr; }
    } detach{*state_};

    std::string text;          // everything decoded so far
    std::size_t emitted = 0;   // bytes of `text` already streamed
    mneme_status finish = MNEME_OK;
    const auto t0 = clock_type::now();
    uint64_t produced = 0, from_drafts = 0, proposed = 0, accepted = 0, passes = 0;
    bool cancel_after = false;  // the callback asked to stop once this token is in the context
    std::vector<double> last(logits_.end() - static_cast<std::ptrdiff_t>(vocab), logits_.end());

    auto stream = [&](int32_t token, std::size_t upto, bool drafted) -> bool {
        if (!desc.token_fn) return true;
        mneme_token_event ev{};
        ev.struct_size = sizeof(ev);
        ev.token = token;
        ev.text = text.c_str() + emitted;
        ev.text_len = upto - emitted;
        ev.index = produced - 1;
        ev.drafted = drafted ? MNEME_TRUE : MNEME_FALSE;
        emitted = upto;
        return desc.token_fn(desc.token_user_data, &ev) != MNEME_FALSE;
    };
    // Hands one output token to the caller. False when generation ends before the token is fed
    // (end of sequence, stop string); `finish` then says why.
    auto emit = [&](int32_t token, bool drafted) -> bool {
        gen_.first_token();
        ++produced;
        if (drafted) ++from_drafts;
        if (desc.stop_at_eos && token == eos) {
            stream(token, emitted, drafted);
            finish = MNEME_END_OF_STREAM;
            return false;
        }
        if (decoder) text += decoder->push(token);
        bool stop = false;
        std::size_t upto = text.size();
        for (const auto& s : stops) {
            const std::size_t at = text.find(s, emitted > s.size() ? emitted - s.size() : 0);
            if (at != std::string::npos) {
                upto = std::min(upto, at);
                stop = true;
            }
        }
        if (!stop) upto = text.size() - held_back(text, stops);
        if (!stream(token, upto, drafted)) cancel_after = true;
        if (stop) finish = MNEME_END_OF_STREAM;
        return !stop;
    };

    // Lossless drafting: the n-gram drafter proposes, one batched pass verifies, and rejected
    // tokens leave the caches by restoring the state saved before the pass and re-feeding the kept ones.
    const bool drafting = desc.draft == MNEME_DRAFT_NGRAM;
    const double threshold = desc.draft_threshold > 0 ? desc.draft_threshold : 0.92;
    // A verify pass holds the last token and the drafts: at most 16 rows, the batch size up to which
    // the float32 kernels compute every row exactly as alone (greedy output must not change).
    const std::size_t draft_max = std::min<std::size_t>(desc.draft_max ? desc.draft_max : 8, 15);
    const bool greedy = sampler_.params().temperature <= 0;
    std::optional<int32_t> pending;  // the next token, already drawn by a verify pass's rejection

    while (desc.max_tokens == 0 || produced < desc.max_tokens) {
        if (take_cancel()) {
            finish = MNEME_CANCELLED;
            break;
        }
        const int32_t token = pending ? *pending : sampler_.sample(last, tokens_);
        pending.reset();
        if (!emit(token, false)) break;
        if (static_cast<int64_t>(tokens_.size()) >= n_ctx_) {
            finish = MNEME_ERROR_CONTEXT_FULL;
            break;
        }
        std::vector<int32_t> drafts;
        if (drafting && !cancel_after) {
            std::size_t room = std::min<std::size_t>(draft_max, static_cast<std::size_t>(n_ctx_) - tokens_.size() - 1);
            if (desc.max_tokens) room = std::min<std::size_t>(room, desc.max_tokens - produced);
            drafts = synced_drafter().propose(token, threshold, room);
        }
        if (drafts.empty()) {
            const int32_t one[1] = {token};
            last = step(one, false);
            ++passes;
        } else {
            std::vector<unsigned char> saved;
            {
                std::lock_guard lock(model_.device_mutex());
                state_->save(g_, saved);
            }
            const std::size_t n0 = tokens_.size();
            std::vector<int32_t> batch{token};
            batch.insert(batch.end(), drafts.begin(), drafts.end());
            const std::vector<double> rows = step(batch, true);
            ++passes;
            proposed += drafts.size();
            // Row i holds the logits after batch[0..i]; draft i is judged by row i.
            std::size_t keep = batch.size();
            bool ended = false;
            for (std::size_t i = 0; i < drafts.size(); ++i) {
                const std::span<const double> row(rows.data() + i * vocab, vocab);
                const std::span<const int32_t> history(tokens_.data(), n0 + 1 + i);
                int32_t x;
                if (greedy) {
                    x = sampler_.sample(row, history);
                } else {
                    // Speculative sampling: the output keeps the model's distribution exactly.
                    x = sampler_.verify_draft(sampler_.distribution(row, history), drafts[i]);
                }
                if (x != drafts[i]) {
                    pending = x;
                    keep = 1 + i;
                    break;
                }
                ++accepted;
                if (!emit(x, true)) {  // a stop: the token is output but, as without drafting, not fed
                    keep = 1 + i;
                    ended = true;
                    break;
                }
                if (cancel_after) {
                    keep = 2 + i;
                    break;
                }
            }
            if (keep < batch.size()) {
                state_->n_past = static_cast<int64_t>(n0);
                {
                    std::lock_guard lock(model_.device_mutex());
                    state_->load(g_, saved.data(), saved.size());
                }
                tokens_.resize(n0);
                last = step(std::span<const int32_t>(batch).first(keep), false);
                ++passes;
            } else {
                last.assign(rows.end() - static_cast<std::ptrdiff_t>(vocab), rows.end());
            }
            if (ended) {
                logits_ = last;
                logits_f32_.assign(last.begin(), last.end());
                logit_rows_ = 1;
                break;
            }
        }
        logits_ = last;
        logits_f32_.assign(last.begin(), last.end());
        logit_rows_ = 1;
        if (cancel_after) {
            finish = MNEME_CANCELLED;
            break;
        }
    }
    result.n_tokens = produced;
    result.n_drafted = from_drafts;
    result.n_draft_proposed = proposed;
    result.n_draft_accepted = accepted;
    result.n_forward_passes = passes;
    result.decode_seconds = seconds_since(t0);
    result.finish = finish;
    gen_.finish(result, model_.engram_stats(), tokens_.size());
    return finish;
}

void session::drop_drafter() noexcept {
    drafter_.reset();
    sidecars_.clear();
}

ngram_drafter& session::synced_drafter() {
    if (drafter_) {
        const std::size_t have = drafter_->size();
        const auto tail = drafter_->tail();
        // Between drops tokens_ only grows, so the drafter's tokens are a prefix of it. A tail that
        // differs means a rewind that did not drop it: count afresh rather than draft from a table
        // of another text (drafts would only be rejected, but every one would cost a pass).
        if (have <= tokens_.size() &&
            std::equal(tail.begin(), tail.end(), tokens_.begin() + static_cast<std::ptrdiff_t>(have - tail.size()))) {
            try {
                drafter_->push(std::span<const int32_t>(tokens_).subspan(have));
            } catch (...) {
                drop_drafter();  // out of memory part way through a token: its counts are not whole
                throw;
            }
            return *drafter_;
        }
        model_.rt().log().warn("draft", "the n-gram table no longer follows the context; counting it again");
        drafter_.reset();
    }
    const auto t0 = clock_type::now();
    drafter_ = std::make_unique<ngram_drafter>();
    std::vector<snapshot_ref> refs = std::move(sidecars_);
    sidecars_.clear();
    std::erase_if(refs, [&](const snapshot_ref& r) { return r.tokens > tokens_.size(); });
    std::sort(refs.begin(), refs.end(),
              [](const snapshot_ref& a, const snapshot_ref& b) { return a.tokens < b.tokens; });
    refs.erase(std::unique(refs.begin(), refs.end(),
                           [](const snapshot_ref& a, const snapshot_ref& b) { return a.tokens == b.tokens; }),
               refs.end());
    // The longest prefix whose sidecar reads back is not counted again; the snapshots beyond it get
    // the sidecar they lack as counting passes their length, so the next session over the same
    // text reads it.
    std::size_t done = 0;
    for (auto it = refs.rbegin(); it != refs.rend() && done == 0; ++it) {
        if (read_sidecar(snapshot_store::sidecar_path(it->path), it->tokens)) done = it->tokens;
    }
    const std::size_t from_sidecar = done;
    try {
        for (const auto& r : refs) {
            if (r.tokens <= done) continue;
            drafter_->push(std::span<const int32_t>(tokens_).subspan(done, r.tokens - done));
            done = r.tokens;
            write_sidecar(r.path, r.tokens);
        }
        drafter_->push(std::span<const int32_t>(tokens_).subspan(done));
    } catch (...) {
        drop_drafter();
        throw;
    }
    model_.rt().log().info("draft", "n-gram table over ", tokens_.size(), " tokens (", from_sidecar,
                           " of them read from a sidecar) ready in ", 1000.0 * seconds_since(t0), " ms");
    return *drafter_;
}

void session::note_snapshot(const std::string& path, std::size_t tokens) {
    if (drafter_ && tokens == tokens_.size()) {
        // Drafting is in use: the table over exactly these tokens is one sync away.
        try {
            (void)synced_drafter();
        } catch (const std::exception& e) {
            // The feed itself succeeded; drafting will count the tokens when it next needs them.
            model_.rt().log().warn("draft", "cannot update the n-gram table: ", e.what());
            drop_drafter();
            return;
        }
        write_sidecar(path, tokens);
        return;
    }
    // Until the session drafts, a snapshot costs the drafter nothing but this note.
    constexpr std::size_t k_max_notes = 8;
    if (sidecars_.size() == k_max_notes) sidecars_.erase(sidecars_.begin());
    sidecars_.push_back({path, tokens});
}

bool session::read_sidecar(const std::string& path, std::size_t tokens) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const uintmax_t bytes = fs::file_size(path, ec);
    if (ec) return false;  // never written, or evicted since: the tokens are counted instead
    std::string why;
    if (bytes > ngram_drafter::max_serialized_bytes(tokens)) {
        why = "too large for its tokens";
    } else {
        std::ifstream f(path, std::ios::binary);
        why = f ? drafter_->deserialize(f, bytes, std::span<const int32_t>(tokens_).first(tokens)) : "cannot open it";
    }
    if (why.empty()) return true;
    drafter_->clear();
    model_.rt().log().warn("snapshot", "ignoring n-gram table ", path, ": ", why, "; counting the tokens instead");
    return false;
}

void session::write_sidecar(const std::string& snapshot, std::size_t tokens) {
    // drafter_ counts exactly tokens_[0, tokens) here. A snapshot evicted meanwhile gets none:
    // nothing would read it.
    std::error_code ec;
    if (!snapshots_ || drafter_->size() != tokens || !std::filesystem::exists(snapshot, ec)) return;
    const std::string path = snapshot_store::sidecar_path(snapshot);
    try {
        write_file_atomically(path, drafter_->serialize());
        snapshots_->evict();
        model_.rt().log().debug("snapshot", "n-gram table over ", tokens, " tokens written to ", path);
    } catch (const std::exception& e) {
        // Only a later session's speed depends on it: drafting goes on.
        model_.rt().log().warn("snapshot", "cannot write the n-gram table ", path, ": ", e.what());
    }
}

void session::save(const std::string& path) {
    std::vector<unsigned char> blob;
    {
        std::lock_guard lock(model_.device_mutex());
        state_->save(g_, blob);
    }
    std::vector<unsigned char> out(k_state_magic, k_state_magic + 8);
    put(out, uint32_t{1});
    put(out, model_.identity());
    put(out, static_cast<uint32_t>(model_.act_dtype()));
    put(out, static_cast<uint64_t>(tokens_.size()));
    for (int32_t t : tokens_) put(out, t);
    put(out, static_cast<uint64_t>(logits_.size()));
    for (double v : logits_) put(out, v);
    put(out, static_cast<uint64_t>(blob.size()));
    out.insert(out.end(), blob.begin(), blob.end());
    put(out, fnv1a(out.data(), out.size()));

    // A crash (kill or power cut) leaves the old file or the new one; the file is user-only.
    write_file_atomically(path, out);
}

void session::load(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) fail(MNEME_ERROR_FILE_NOT_FOUND, path, ": cannot open");
    std::vector<unsigned char> in((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (in.size() < 8 + 8 || std::memcmp(in.data(), k_state_magic, 8) != 0) {
        fail(MNEME_ERROR_INVALID_MODEL, path, ": not a Mneme session state");
    }
    uint64_t stored_sum;
    std::memcpy(&stored_sum, in.data() + in.size() - 8, 8);
    if (fnv1a(in.data(), in.size() - 8) != stored_sum) fail(MNEME_ERROR_INVALID_MODEL, path, ": checksum mismatch (corrupt file)");
    std::size_t at = 8;
    if (get<uint32_t>(in, at, path) != 1) fail(MNEME_ERROR_INVALID_MODEL, path, ": unsupported state version");
    if (get<uint64_t>(in, at, path) != model_.identity()) fail(MNEME_ERROR_INVALID_MODEL, path, ": saved for another model");
    if (get<uint32_t>(in, at, path) != static_cast<uint32_t>(model_.act_dtype())) {
        fail(MNEME_ERROR_INVALID_MODEL, path, ": saved at another precision");
    }
    const uint64_t n = get<uint64_t>(in, at, path);
    if (static_cast<int64_t>(n) > n_ctx_) fail(MNEME_ERROR_CONTEXT_FULL, path, ": ", n, " tokens exceed this session's context");
    // Bounded by the file before allocating: a short file cannot claim a context's worth of tokens.
    if (n > (in.size() - at) / sizeof(int32_t)) fail(MNEME_ERROR_INVALID_MODEL, path, ": inconsistent sizes");
    std::vector<int32_t> toks(n);
    for (auto& t : toks) t = get<int32_t>(in, at, path);
    const uint64_t n_logits = get<uint64_t>(in, at, path);
    if (n_logits > in.size() / 8) fail(MNEME_ERROR_INVALID_MODEL, path, ": inconsistent sizes");
    std::vector<double> saved_logits(n_logits);
    for (auto& v : saved_logits) v = get<double>(in, at, path);
    const uint64_t blob = get<uint64_t>(in, at, path);
    if (at + blob + 8 != in.size()) fail(MNEME_ERROR_INVALID_MODEL, path, ": inconsistent sizes");
    const int64_t old_past = state_->n_past;
    state_->n_past = static_cast<int64_t>(n);
    try {
        std::lock_guard lock(model_.device_mutex());
        state_->load(g_, in.data() + at, blob);
    } catch (...) {
        state_->n_past = old_past;
        throw;
    }
    tokens_ = std::move(toks);
    drop_drafter();
    logits_ = std::move(saved_logits);
    logits_f32_.assign(logits_.begin(), logits_.end());
    const std::size_t vocab = static_cast<std::size_t>(model_.config().vocab_size);
    logit_rows_ = vocab ? logits_.size() / vocab : 0;
}

}  // namespace mneme
