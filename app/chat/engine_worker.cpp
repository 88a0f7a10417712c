#include "engine_worker.h"

#include <QDir>
#include <QFileInfo>
#include <algorithm>

#include "answer_diagnostics.h"

namespace mneme_chat {
namespace {

QString sdkError(mneme_status status) {
    const QString detail = QString::fromUtf8(mneme_last_error_message());
    const QString name = QString::fromUtf8(mneme_status_string(status));
    return detail.isEmpty() ? name : detail;
}

QString pluginStateText(mneme_plugin_state state) {
    switch (state) {
        case MNEME_PLUGIN_STATE_LOADED: return QStringLiteral("loaded");
        case MNEME_PLUGIN_STATE_NOT_FOUND: return QStringLiteral("not found");
        case MNEME_PLUGIN_STATE_LOAD_FAILED: return QStringLiteral("load failed");
        case MNEME_PLUGIN_STATE_NOT_A_PLUGIN: return QStringLiteral("not a plugin");
        case MNEME_PLUGIN_STATE_ABI_MISMATCH: return QStringLiteral("ABI mismatch");
        case MNEME_PLUGIN_STATE_PROBE_FAILED: return QStringLiteral("probe failed");
        case MNEME_PLUGIN_STATE_NO_DEVICE: return QStringLiteral("no device");
        case MNEME_PLUGIN_STATE_DUPLICATE: return QStringLiteral("duplicate");
        default: return QStringLiteral("unknown");
    }
}

QString deviceTypeText(mneme_device_type type) {
    switch (type) {
        case MNEME_DEVICE_TYPE_CPU: return QStringLiteral("CPU");
        case MNEME_DEVICE_TYPE_DISCRETE_GPU: return QStringLiteral("discrete GPU");
        case MNEME_DEVICE_TYPE_INTEGRATED_GPU: return QStringLiteral("integrated GPU");
        case MNEME_DEVICE_TYPE_VIRTUAL: return QStringLiteral("virtual");
        default: return QStringLiteral("unknown");
    }
}

QString stageText(mneme_progress_stage stage) {
    switch (stage) {
        case MNEME_PROGRESS_STAGE_LOAD: return QStringLiteral("load");
        case MNEME_PROGRESS_STAGE_PREFILL: return QStringLiteral("prefill");
        case MNEME_PROGRESS_STAGE_RESTORE: return QStringLiteral("restore");
        default: return QStringLiteral("scan");  // the codebase scan reports no stage
    }
}

constexpr qint64 kEmitIntervalMs = 30;  // batches signals so a fast model cannot flood the GUI

}  // namespace

// Shared by the progress and token callbacks of one operation: batches what they report.
struct EngineWorker::CallbackState {
    EngineWorker* worker = nullptr;
    QElapsedTimer sinceStart;
    QElapsedTimer sinceEmit;
    QString pendingText;
    double firstTokenSeconds = -1;
    std::vector<int32_t>* context = nullptr;
    bool cancelByCallback = false;  // loads and scans have no session to cancel

    void flushText() {
        if (pendingText.isEmpty()) return;
        emit worker->answerText(pendingText);
        pendingText.clear();
        sinceEmit.restart();
    }

    static mneme_bool MNEME_CALL onProgress(void* user, const mneme_progress* p) {
        auto* self = static_cast<CallbackState*>(user);
        const bool last = p->total && p->done >= p->total;
        if (last || !self->sinceEmit.isValid() || self->sinceEmit.elapsed() >= kEmitIntervalMs) {
            ProgressInfo info;
            info.stage = stageText(p->stage);
            info.done = p->done;
            info.total = p->total;
            info.ratePerSecond = p->rate_per_second;
            info.etaSeconds = p->eta_seconds;
            emit self->worker->progress(info);
            self->sinceEmit.restart();
        }
        return self->cancelByCallback && self->worker->cancelRequested_.load() ? MNEME_FALSE : MNEME_TRUE;
    }

    static mneme_bool MNEME_CALL onToken(void* user, const mneme_token_event* ev) {
        auto* self = static_cast<CallbackState*>(user);
        if (self->firstTokenSeconds < 0) self->firstTokenSeconds = self->sinceStart.nsecsElapsed() / 1e9;
        if (self->context) self->context->push_back(ev->token);
        if (ev->text_len) self->pendingText += QString::fromUtf8(ev->text, static_cast<qsizetype>(ev->text_len));
        if (!self->sinceEmit.isValid() || self->sinceEmit.elapsed() >= kEmitIntervalMs) self->flushText();
        return MNEME_TRUE;  // stopping goes through mneme_session_cancel
    }
};

EngineWorker::EngineWorker(QObject* parent) : QObject(parent) {}

EngineWorker::~EngineWorker() { shutdown(); }

QString EngineWorker::codebasePreamble() {
    return QStringLiteral("You answer questions about the following codebase. Quote file paths when you refer to code.\n\n");
}

void EngineWorker::requestCancel() {
    std::lock_guard<std::mutex> lock(cancelMutex_);
    cancelRequested_ = true;
    if (running_ && session_ && !cancelIssued_) {
        mneme_session_cancel(session_);
        cancelIssued_ = true;
    }
}

mneme_status EngineWorker::runSessionCall(const std::function<mneme_status()>& call,
                                          const std::function<bool()>& didNothing) {
    bool stale = false;
    {
        std::lock_guard<std::mutex> lock(cancelMutex_);
        stale = staleCancel_;
    }
    mneme_status st = call();
    if (st == MNEME_CANCELLED && stale && !cancelRequested_.load() && didNothing()) st = call();
    std::lock_guard<std::mutex> lock(cancelMutex_);
    if (st == MNEME_CANCELLED) cancelIssued_ = false;  // the request was consumed
    if (!didNothing()) staleCancel_ = false;           // any real work passed a cancel check
    return st;
}

void EngineWorker::beginOperation() {
    std::lock_guard<std::mutex> lock(cancelMutex_);
    cancelRequested_ = false;
    cancelIssued_ = false;
    running_ = true;
    emit busyChanged(true);
}

void EngineWorker::endOperation() {
    {
        std::lock_guard<std::mutex> lock(cancelMutex_);
        running_ = false;
        if (cancelIssued_) staleCancel_ = true;
        cancelIssued_ = false;
    }
    emit busyChanged(false);
}

void EngineWorker::shutdown() {
    mneme_codebase_destroy(codebase_);
    codebase_ = nullptr;
    releaseModel();
    mneme_runtime_destroy(runtime_);
    runtime_ = nullptr;
}

void EngineWorker::releaseSession() {
    std::lock_guard<std::mutex> lock(cancelMutex_);
    mneme_session_destroy(session_);
    session_ = nullptr;
    staleCancel_ = false;
    context_.clear();
    contextKnown_ = true;
}

void EngineWorker::releaseModel() {
    releaseSession();
    // The codebase's token counts came from this model's tokenizer.
    if (codebase_ && model_) codebaseTextValid_ = false;
    mneme_model_destroy(model_);
    model_ = nullptr;
    modelSummary_ = {};
}

void EngineWorker::configure(mneme_chat::EngineConfig config) {
    const QString reopen = modelSummary_.path;
    releaseModel();
    mneme_runtime_destroy(runtime_);
    runtime_ = nullptr;
    config_ = config;
    snapshotDir_ = config.snapshotDir.toStdString();

    mneme_runtime_desc desc = MNEME_RUNTIME_DESC_INIT;
    desc.n_threads = static_cast<uint32_t>(std::max(0, config.threads));
    desc.memory_budget_bytes = config.memoryBudgetBytes;
    desc.log_level = MNEME_LOG_LEVEL_ERROR;
    const mneme_status st = mneme_runtime_create(&desc, &runtime_);
    if (st != MNEME_OK) {
        emit failed(tr("Starting the runtime"), sdkError(st));
        return;
    }
    QList<PluginRow> plugins;
    size_t count = 0;
    if (mneme_runtime_plugin_count(runtime_, &count) == MNEME_OK) {
        for (size_t i = 0; i < count; ++i) {
            mneme_plugin_info info{};
            info.struct_size = sizeof(info);
            if (mneme_runtime_plugin_info(runtime_, i, &info) != MNEME_OK) continue;
            PluginRow row;
            row.name = QString::fromUtf8(info.name);
            if (row.name.isEmpty()) row.name = QFileInfo(QString::fromUtf8(info.path)).fileName();
            row.state = pluginStateText(info.state);
            row.message = QString::fromUtf8(info.message);
            row.path = QString::fromUtf8(info.path);
            row.version = QString::fromUtf8(info.version);
            row.deviceCount = info.device_count;
            row.usable = info.state == MNEME_PLUGIN_STATE_LOADED;
            plugins.append(row);
        }
    }
    QList<DeviceRow> devices;
    if (mneme_runtime_device_count(runtime_, &count) == MNEME_OK) {
        for (size_t i = 0; i < count; ++i) {
            mneme_device_info info{};
            info.struct_size = sizeof(info);
            if (mneme_runtime_device_info(runtime_, i, &info) != MNEME_OK) continue;
            DeviceRow row;
            row.backend = QString::fromUtf8(info.backend);
            row.name = QString::fromUtf8(info.name);
            row.type = deviceTypeText(info.type);
            row.index = info.index;
            row.memoryTotal = info.memory_total_bytes;
            row.memoryFree = info.memory_free_bytes;
            devices.append(row);
        }
    }
    emit runtimeReady(plugins, devices);
    if (!reopen.isEmpty()) openModel(reopen);
}

void EngineWorker::openModel(QString path) {
    releaseModel();
    if (!runtime_) {
        emit failed(tr("Opening the model"), tr("The runtime is not running."));
        return;
    }
    beginOperation();
    CallbackState cb;
    cb.worker = this;
    cb.cancelByCallback = true;
    cb.sinceStart.start();
    mneme_model_desc desc = MNEME_MODEL_DESC_INIT;
    const std::string backend = config_.backend.toStdString();
    if (!backend.empty()) desc.backend = backend.c_str();
    desc.device = config_.device;
    desc.progress_fn = &CallbackState::onProgress;
    desc.progress_user_data = &cb;
    const std::string p = QDir::toNativeSeparators(path).toStdString();
    const mneme_status st = mneme_model_open(runtime_, p.c_str(), &desc, &model_);
    endOperation();
    if (st != MNEME_OK) {
        model_ = nullptr;
        emit modelClosed();
        emit failed(tr("Opening the model %1").arg(path), sdkError(st));
        return;
    }
    mneme_model_info info{};
    info.struct_size = sizeof(info);
    if (mneme_model_get_info(model_, &info) != MNEME_OK) {
        emit failed(tr("Reading the model"), sdkError(MNEME_ERROR_INTERNAL));
    }
    modelSummary_.path = path;
    modelSummary_.architecture = QString::fromUtf8(info.architecture_name);
    modelSummary_.backend = QString::fromUtf8(info.backend);
    modelSummary_.vocabSize = info.vocab_size;
    modelSummary_.layers = info.n_layers;
    modelSummary_.hiddenSize = info.hidden_size;
    modelSummary_.maxContext = info.max_context;
    modelSummary_.params = info.n_params;
    modelSummary_.weightsBytes = info.weights_bytes;
    modelSummary_.cacheBytesPerToken = info.cache_bytes_per_token;
    modelSummary_.hasTokenizer = info.has_tokenizer != MNEME_FALSE;
    emit modelReady(modelSummary_);
    plan(config_.contextTokens);
    // Token counts depend on the tokenizer: rescan the open folder with the new model.
    if (!codebaseRoot_.isEmpty()) scanCodebase(codebaseRoot_);
}

void EngineWorker::plan(quint64 contextTokens) {
    if (!model_) return;
    if (modelSummary_.maxContext && contextTokens > modelSummary_.maxContext) contextTokens = modelSummary_.maxContext;
    mneme_memory_plan plan{};
    plan.struct_size = sizeof(plan);
    const mneme_status st = mneme_model_plan(model_, contextTokens, &plan);
    if (st != MNEME_OK) {
        emit failed(tr("Planning memory"), sdkError(st));
        return;
    }
    PlanSummary out;
    out.contextTokens = plan.context_tokens;
    out.weightsBytes = plan.weights_bytes;
    out.cacheBytes = plan.cache_bytes;
    out.engramBytes = plan.engram_bytes;
    out.scratchBytes = plan.scratch_bytes;
    out.totalBytes = plan.total_bytes;
    out.maxContextInBudget = plan.max_context_in_budget;
    if (plan.budget_bytes) {
        out.limitBytes = plan.budget_bytes;
        out.limitSource = tr("budget");
        out.fits = plan.fits != MNEME_FALSE;
    } else {
        // No budget: compare with the memory of the device the model runs on.
        size_t count = 0;
        if (runtime_ && mneme_runtime_device_count(runtime_, &count) == MNEME_OK) {
            for (size_t i = 0; i < count; ++i) {
                mneme_device_info d{};
                d.struct_size = sizeof(d);
                if (mneme_runtime_device_info(runtime_, i, &d) != MNEME_OK) continue;
                if (QString::fromUtf8(d.backend) != modelSummary_.backend) continue;
                if (config_.device >= 0 && d.index != static_cast<uint32_t>(config_.device)) continue;
                out.limitBytes = d.memory_total_bytes;
                out.limitSource = QString::fromUtf8(d.name);
                break;
            }
        }
        out.fits = out.limitBytes == 0 || out.totalBytes <= out.limitBytes;
    }
    emit planReady(out);
}

void EngineWorker::scanCodebase(QString root) {
    mneme_codebase_destroy(codebase_);
    codebase_ = nullptr;
    codebaseTextValid_ = false;
    codebaseRoot_ = root;
    beginOperation();
    CallbackState cb;
    cb.worker = this;
    cb.cancelByCallback = true;
    mneme_codebase_desc desc = MNEME_CODEBASE_DESC_INIT;
    desc.progress_fn = [](void* user, const mneme_progress* p) -> mneme_bool {
        auto* state = static_cast<CallbackState*>(user);
        mneme_progress copy = *p;
        copy.stage = MNEME_PROGRESS_STAGE_UNDEFINED;
        return CallbackState::onProgress(state, &copy);
    };
    desc.progress_user_data = &cb;
    const std::string r = QDir::toNativeSeparators(root).toStdString();
    const mneme_status st = mneme_codebase_scan(model_, r.c_str(), &desc, &codebase_);
    endOperation();
    if (st != MNEME_OK) {
        codebase_ = nullptr;
        codebaseRoot_.clear();
        emit failed(tr("Reading the folder %1").arg(root), sdkError(st));
        return;
    }
    QList<FileEntry> files;
    size_t count = 0;
    (void)mneme_codebase_file_count(codebase_, &count);
    files.reserve(static_cast<qsizetype>(count));
    for (size_t i = 0; i < count; ++i) {
        mneme_codebase_file f{};
        f.struct_size = sizeof(f);
        if (mneme_codebase_get_file(codebase_, i, &f) != MNEME_OK) continue;
        FileEntry e;
        e.index = static_cast<int>(i);
        e.path = QString::fromUtf8(f.path);
        e.reason = QString::fromUtf8(f.reason);
        e.bytes = f.bytes;
        e.tokens = f.tokens;
        e.included = f.status == MNEME_FILE_STATUS_INCLUDED;
        e.includable = f.status == MNEME_FILE_STATUS_INCLUDED || f.status == MNEME_FILE_STATUS_EXCLUDED ||
                       f.status == MNEME_FILE_STATUS_GENERATED || f.status == MNEME_FILE_STATUS_TOO_LARGE;
        files.append(e);
    }
    uint64_t tokens = 0;
    (void)mneme_codebase_token_count(codebase_, &tokens);
    emit codebaseReady(root, files, tokens);
}

void EngineWorker::closeCodebase() {
    mneme_codebase_destroy(codebase_);
    codebase_ = nullptr;
    codebaseRoot_.clear();
    codebaseText_.clear();
    codebaseTextValid_ = false;
    emit codebaseTokensChanged(0);
}

void EngineWorker::setFileIncluded(int index, bool included) {
    if (!codebase_ || index < 0) return;
    const mneme_status st =
        mneme_codebase_set_included(codebase_, static_cast<size_t>(index), included ? MNEME_TRUE : MNEME_FALSE);
    if (st != MNEME_OK) {
        emit failed(tr("Changing the file selection"), sdkError(st));
    }
    codebaseTextValid_ = false;
    uint64_t tokens = 0;
    (void)mneme_codebase_token_count(codebase_, &tokens);
    emit codebaseTokensChanged(tokens);
}

bool EngineWorker::renderCodebase(QString& error) {
    if (codebaseTextValid_) return true;
    codebaseText_.clear();
    if (!codebase_) {
        codebaseTextValid_ = true;
        return true;
    }
    size_t len = 0;
    mneme_status st = mneme_codebase_render(codebase_, nullptr, 0, &len);
    if (st < 0) {
        error = sdkError(st);
        return false;
    }
    codebaseText_.assign(len, '\0');
    st = mneme_codebase_render(codebase_, codebaseText_.data(), codebaseText_.size(), &len);
    if (st != MNEME_OK) {
        error = sdkError(st);
        return false;
    }
    codebaseText_.resize(len);
    codebaseTextValid_ = true;
    return true;
}

std::vector<int32_t> EngineWorker::tokenize(const std::string& text, QString& error) const {
    size_t n = 0;
    mneme_status st = mneme_tokenize(model_, text.data(), text.size(), MNEME_TOKENIZE_PARSE_SPECIAL, nullptr, 0, &n);
    if (st < 0) {
        error = sdkError(st);
        return {};
    }
    std::vector<int32_t> ids(n);
    st = mneme_tokenize(model_, text.data(), text.size(), MNEME_TOKENIZE_PARSE_SPECIAL, ids.data(), ids.size(), &n);
    if (st != MNEME_OK) {
        error = sdkError(st);
        return {};
    }
    ids.resize(n);
    return ids;
}

quint64 EngineWorker::codebaseStart(const std::string& prompt) const {
    if (codebaseText_.empty()) return 0;
    const size_t at = prompt.find(codebaseText_);
    if (at == std::string::npos) return 0;
    // The text before it is the template's prefix and the preamble, which ends in a blank line:
    // a tokenizer boundary, so its token count is where the codebase's first token sits.
    QString error;
    return tokenize(prompt.substr(0, at), error).size();
}

std::string EngineWorker::renderChat(const QList<ChatTurn>& turns, QString& error) const {
    std::vector<std::string> storage;  // keeps the message pointers alive
    storage.reserve(static_cast<size_t>(turns.size()) + 1);
    std::vector<mneme_chat_message> messages;
    if (!codebaseText_.empty()) {
        storage.push_back(codebasePreamble().toStdString() + codebaseText_);
        messages.push_back({"system", storage.back().c_str()});
    }
    std::vector<std::string> roles;
    roles.reserve(static_cast<size_t>(turns.size()));
    for (const ChatTurn& t : turns) {
        roles.push_back(t.role.toStdString());
        storage.push_back(t.content.toStdString());
        messages.push_back({roles.back().c_str(), storage.back().c_str()});
    }
    size_t len = 0;
    mneme_status st = mneme_chat_render(model_, messages.data(), messages.size(), MNEME_TRUE, nullptr, 0, &len);
    if (st < 0) {
        error = sdkError(st);
        return {};
    }
    std::string out(len, '\0');
    st = mneme_chat_render(model_, messages.data(), messages.size(), MNEME_TRUE, out.data(), out.size(), &len);
    if (st != MNEME_OK) {
        error = sdkError(st);
        return {};
    }
    out.resize(len);
    return out;
}

bool EngineWorker::ensureSession(QString& error) {
    if (session_) return true;
    if (!model_) {
        error = tr("No model is loaded. Pick a model folder in the Model tab.");
        return false;
    }
    mneme_sampling_params sampling = MNEME_SAMPLING_PARAMS_INIT;
    sampling.repetition_penalty = 1.1f;
    mneme_session_desc desc = MNEME_SESSION_DESC_INIT;
    quint32 ctx = config_.contextTokens;
    if (modelSummary_.maxContext && (ctx == 0 || ctx > modelSummary_.maxContext)) ctx = modelSummary_.maxContext;
    desc.n_ctx = ctx;
    desc.sampling = &sampling;
    if (!snapshotDir_.empty()) desc.snapshot_dir = snapshotDir_.c_str();
    mneme_session* session = nullptr;
    const mneme_status st = mneme_session_create(model_, &desc, &session);
    if (st != MNEME_OK) {
        error = sdkError(st);
        return false;
    }
    std::lock_guard<std::mutex> lock(cancelMutex_);
    session_ = session;
    context_.clear();
    contextKnown_ = true;
    return true;
}

quint64 EngineWorker::sessionTokenCount() const {
    uint64_t n = 0;
    if (session_) (void)mneme_session_token_count(session_, &n);
    return n;
}

mneme_status EngineWorker::feed(const std::vector<int32_t>& tokens, bool useSnapshots, mneme_logits_mode logits,
                                AnswerStats& stats) {
    CallbackState cb;
    cb.worker = this;
    cb.sinceStart.start();
    mneme_feed_desc fd = MNEME_FEED_DESC_INIT;
    fd.logits = logits;
    fd.flags = useSnapshots && !snapshotDir_.empty() ? MNEME_FEED_SNAPSHOT : 0u;
    fd.progress_fn = &CallbackState::onProgress;
    fd.progress_user_data = &cb;
    const size_t start = context_.size();
    size_t fed = 0;  // of `tokens`, now in the session
    const mneme_status st = runSessionCall(
        [&] {
            const size_t before = context_.size();
            const mneme_status r = mneme_session_feed_tokens(session_, tokens.data() + fed, tokens.size() - fed, &fd);
            // A cancelled feed keeps every complete chunk (and a restored snapshot): what is in
            // the session now is a prefix of what was asked for.
            const quint64 now = sessionTokenCount();
            if (now >= before && now - before <= tokens.size() - fed) {
                context_.insert(context_.end(), tokens.begin() + static_cast<std::ptrdiff_t>(fed),
                                tokens.begin() + static_cast<std::ptrdiff_t>(fed + (now - before)));
                fed += now - before;
            } else {
                contextKnown_ = false;
            }
            return r;
        },
        [&] { return context_.size() == start && contextKnown_; });
    mneme_feed_stats fs{};
    fs.struct_size = sizeof(fs);
    if (mneme_session_last_feed_stats(session_, &fs) == MNEME_OK) {
        stats.tokensReused += fs.tokens_reused;
        stats.tokensEvaluated += fs.tokens_evaluated;
        stats.prefillSeconds += fs.seconds;
        stats.snapshotSaved = stats.snapshotSaved || fs.snapshot_saved != MNEME_FALSE;
    }
    return st;
}

void EngineWorker::ask(QList<mneme_chat::ChatTurn> turns, int maxTokens) {
    AnswerStats stats;
    auto fail = [&](const QString& message) {
        stats.error = message;
        emit answerFinished(stats);
    };
    if (!model_) return fail(tr("No model is loaded. Pick a model folder in the Model tab."));
    if (!modelSummary_.hasTokenizer) {
        return fail(tr("The model in %1 has no tokenizer (tokenizer.json), so it cannot read or write text. "
                       "It is a test checkpoint: pick a chat model such as the bundled demo model.")
                        .arg(modelSummary_.path));
    }
    QString error;
    if (!renderCodebase(error)) return fail(tr("Rendering the codebase: %1").arg(error));
    const std::string prompt = renderChat(turns, error);
    if (!error.isEmpty()) return fail(tr("Formatting the chat: %1").arg(error));
    const std::vector<int32_t> ids = tokenize(prompt, error);
    if (!error.isEmpty()) return fail(tr("Tokenizing: %1").arg(error));
    const quint64 codebaseFirstToken = codebaseStart(prompt);
    if (!ensureSession(error)) return fail(tr("Creating the session: %1").arg(error));
    stats.promptTokens = ids.size();

    const quint64 ctx = std::min<quint64>(config_.contextTokens ? config_.contextTokens : modelSummary_.maxContext,
                                          modelSummary_.maxContext ? modelSummary_.maxContext : UINT32_MAX);
    if (ids.size() + 16 > ctx) {
        // Never truncate silently: say what does not fit and what to do about it.
        return fail(tr("The prompt needs %1 tokens but the context holds %2. Exclude files in the Codebase panel "
                       "or raise the context size.")
                        .arg(ids.size())
                        .arg(ctx));
    }

    beginOperation();
    emit answerStarted();
    QElapsedTimer clock;
    clock.start();

    // Reuse the context when it is a prefix of the new prompt; otherwise start over and let the
    // snapshot folder restore the longest saved prefix (the codebase, usually).
    size_t common = 0;
    if (contextKnown_) {
        while (common < context_.size() && common < ids.size() && context_[common] == ids[common]) ++common;
    }
    if (!contextKnown_ || common < context_.size()) {
        if (mneme_session_reset(session_) != MNEME_OK) {
            endOperation();
            return fail(tr("Resetting the session: %1").arg(sdkError(MNEME_ERROR_INTERNAL)));
        }
        context_.clear();
        contextKnown_ = true;
        common = 0;
    }
    const std::vector<int32_t> delta(ids.begin() + static_cast<std::ptrdiff_t>(common), ids.end());
    stats.tokensKept = common;
    mneme_status st = feed(delta, true, MNEME_LOGITS_LAST, stats);
    if (st == MNEME_CANCELLED) {
        stats.cancelled = true;
        stats.contextTokens = sessionTokenCount();
        endOperation();
        emit answerFinished(stats);
        return;
    }
    if (st != MNEME_OK) {
        const QString message = sdkError(st);
        endOperation();
        return fail(tr("Prefill: %1").arg(message));
    }

    CallbackState cb;
    cb.worker = this;
    cb.sinceStart = clock;
    cb.context = &context_;
    mneme_generate_desc gd = MNEME_GENERATE_DESC_INIT;
    const quint64 room = ctx - std::min<quint64>(ctx, context_.size());
    gd.max_tokens = static_cast<uint32_t>(std::min<quint64>(room, maxTokens > 0 ? static_cast<quint64>(maxTokens) : room));
    gd.token_fn = &CallbackState::onToken;
    gd.token_user_data = &cb;
    if (config_.collectSelections) gd.flags |= MNEME_GENERATE_COLLECT_SELECTIONS;
    mneme_generate_result result{};
    result.struct_size = sizeof(result);
    if (cancelRequested_.load()) {
        // Stopped during the prefill's last chunk: do not start the answer.
        stats.cancelled = true;
        stats.contextTokens = sessionTokenCount();
        endOperation();
        emit answerFinished(stats);
        return;
    }
    const size_t beforeAnswer = context_.size();
    st = runSessionCall([&] { return mneme_session_generate(session_, &gd, &result); },
                        [&] { return context_.size() == beforeAnswer; });
    cb.flushText();
    stats.timeToFirstTokenSeconds = cb.firstTokenSeconds;
    stats.generatedTokens = result.n_tokens;
    stats.draftedTokens = result.n_drafted;
    stats.decodeSeconds = result.decode_seconds;
    stats.cancelled = st == MNEME_CANCELLED;
    stats.contextTokens = sessionTokenCount();
    if (stats.contextTokens != context_.size()) contextKnown_ = false;
    if (st < 0) stats.error = tr("Generation: %1").arg(sdkError(st));
    if (st >= 0) stats.diagnostics = readAnswerDiagnostics(model_, session_, codebase_, codebaseFirstToken);
    endOperation();
    emit answerFinished(stats);
}

void EngineWorker::benchPrefill(int tokens) {
    AnswerStats stats;
    QString error;
    if (!ensureSession(error)) {
        stats.error = error;
        emit benchFinished(stats);
        return;
    }
    beginOperation();
    if (mneme_session_reset(session_) == MNEME_OK) {
        context_.clear();
        contextKnown_ = true;
    }
    // Ordinary (non-special) ids spread over the vocabulary; the content does not matter.
    const int vocab = std::max<int>(2, static_cast<int>(modelSummary_.vocabSize));
    std::vector<int32_t> ids(static_cast<size_t>(std::max(0, tokens)));
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((i * 7 + 3) % static_cast<size_t>(vocab - 1) + 1);
    stats.promptTokens = ids.size();
    const mneme_status st = feed(ids, false, MNEME_LOGITS_NONE, stats);
    stats.cancelled = st == MNEME_CANCELLED;
    if (st < 0) stats.error = sdkError(st);
    stats.contextTokens = sessionTokenCount();
    endOperation();
    emit benchFinished(stats);
}

}  // namespace mneme_chat
