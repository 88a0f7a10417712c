// Plain values that cross from the engine thread to the GUI thread. They are copied through
// queued signals, so they hold Qt value types only and never an SDK pointer.
#pragma once

#include <QList>
#include <QMetaType>
#include <QString>

namespace mneme_chat {

// How the runtime and model are set up; changing any of it means reopening them.
struct EngineConfig {
    int threads = 0;                 // 0 = every core
    quint64 memoryBudgetBytes = 0;   // 0 = no limit
    QString backend;                 // "" = the best available
    int device = -1;                 // -1 = the backend's best
    quint32 contextTokens = 32768;   // session size (clamped to the model's maximum)
    QString snapshotDir;             // "" = no saved prefills
    bool collectSelections = true;   // record sparse-attention selections per answer (a small decode cost)
};

// One row of mneme_runtime_plugin_info.
struct PluginRow {
    QString name;
    QString state;   // "loaded", "no device", ...
    QString message;
    QString path;
    QString version;
    quint32 deviceCount = 0;
    bool usable = false;
};

struct DeviceRow {
    QString backend;
    QString name;
    QString type;
    quint32 index = 0;
    quint64 memoryTotal = 0;
    quint64 memoryFree = 0;
};

struct ModelSummary {
    QString path;
    QString architecture;
    QString backend;
    quint32 vocabSize = 0;
    quint32 layers = 0;
    quint32 hiddenSize = 0;
    quint32 maxContext = 0;
    quint64 params = 0;
    quint64 weightsBytes = 0;
    quint64 cacheBytesPerToken = 0;
    bool hasTokenizer = false;
};

// mneme_model_plan for one context size, plus what it is compared against.
struct PlanSummary {
    quint64 contextTokens = 0;
    quint64 weightsBytes = 0;
    quint64 cacheBytes = 0;
    quint64 engramBytes = 0;
    quint64 scratchBytes = 0;
    quint64 totalBytes = 0;
    quint64 limitBytes = 0;      // the budget, else the device's memory; 0 = unknown
    QString limitSource;         // "budget" or the device name
    quint64 maxContextInBudget = 0;
    bool fits = true;
};

// One file of a scanned codebase, in the SDK's rendering order (`index` is the SDK index).
struct FileEntry {
    int index = 0;
    QString path;     // relative, '/'-separated
    QString reason;   // why it is not included, or ""
    quint64 bytes = 0;
    quint64 tokens = 0;
    bool included = false;
    bool includable = true;  // binary and unreadable files can never be included
};

struct ProgressInfo {
    QString stage;       // "load", "prefill", "restore", "scan"
    quint64 done = 0;
    quint64 total = 0;
    double ratePerSecond = 0;
    double etaSeconds = -1;
};

// How often the sparse attention selected one codebase file's tokens during an answer.
struct FileSelection {
    QString path;
    quint64 tokens = 0;
    quint64 selections = 0;  // summed over decode steps, indexer layers and the file's positions
};

// The SDK's per-answer statistics (mneme_session_last_generation_stats and its arrays).
struct AnswerDiagnostics {
    bool available = false;
    // N-gram drafting.
    quint64 draftProposed = 0;
    quint64 draftAccepted = 0;
    double draftAcceptance = 0;
    double draftedFraction = 0;
    // Engram store traffic during the answer.
    quint64 engramTableBytes = 0;  // 0: the model has no Engram layers
    bool engramFromStore = false;
    quint64 engramHits = 0;
    quint64 engramMisses = 0;
    quint64 engramBytesRead = 0;
    double engramStallSeconds = 0;
    // Expert routing: counts[layer * experts + expert]; dense layers are all zero.
    quint32 layers = 0;
    quint32 experts = 0;
    quint32 expertsPerToken = 0;
    quint64 forwardedTokens = 0;
    QList<quint64> expertCounts;
    // Sparse attention.
    quint32 indexerLayers = 0;
    quint32 indexTopk = 0;
    bool selectionsCollected = false;
    quint64 selections = 0;         // entries selected
    quint64 selectedPositions = 0;  // position visits, over the whole context
    quint64 codebasePositions = 0;  // of which inside the codebase's files
    QList<FileSelection> files;     // included files, in rendering order

    double engramHitRate() const {
        const quint64 n = engramHits + engramMisses;
        return n ? static_cast<double>(engramHits) / static_cast<double>(n) : -1;
    }
};

// What one answer (or a prefill on its own) cost.
struct AnswerStats {
    quint64 promptTokens = 0;     // tokens the prompt needed in total
    quint64 tokensKept = 0;       // still in the live session from the previous turn
    quint64 tokensReused = 0;     // restored from a saved snapshot
    quint64 tokensEvaluated = 0;  // evaluated by the prefill
    double prefillSeconds = 0;
    double timeToFirstTokenSeconds = -1;
    quint64 generatedTokens = 0;
    quint64 draftedTokens = 0;
    double decodeSeconds = 0;
    quint64 contextTokens = 0;    // session size after the answer
    bool cancelled = false;
    bool snapshotSaved = false;
    QString error;                // "" when it worked
    AnswerDiagnostics diagnostics;

    double decodeTokensPerSecond() const { return decodeSeconds > 0 ? generatedTokens / decodeSeconds : 0; }
    double prefillTokensPerSecond() const { return prefillSeconds > 0 ? tokensEvaluated / prefillSeconds : 0; }
};

struct ChatTurn {
    QString role;  // "user" or "assistant"
    QString content;
};

}  // namespace mneme_chat

Q_DECLARE_METATYPE(mneme_chat::EngineConfig)
Q_DECLARE_METATYPE(mneme_chat::PluginRow)
Q_DECLARE_METATYPE(mneme_chat::DeviceRow)
Q_DECLARE_METATYPE(mneme_chat::ModelSummary)
Q_DECLARE_METATYPE(mneme_chat::PlanSummary)
Q_DECLARE_METATYPE(mneme_chat::FileEntry)
Q_DECLARE_METATYPE(mneme_chat::ProgressInfo)
Q_DECLARE_METATYPE(mneme_chat::AnswerStats)
Q_DECLARE_METATYPE(mneme_chat::ChatTurn)
