// The only object that talks to the SDK. It lives on its own thread (see EngineThread) and owns
// the runtime, the model, the session and the scanned codebase; the GUI drives it with queued
// calls to its slots and learns the results through its signals, so the GUI thread never waits
// on a prefill, a generation or a model load.
#pragma once

#include <mneme/mneme.h>

#include <QElapsedTimer>
#include <QObject>
#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "engine_types.h"

namespace mneme_chat {

class EngineWorker : public QObject {
    Q_OBJECT
public:
    explicit EngineWorker(QObject* parent = nullptr);
    ~EngineWorker() override;

    // Stops the running prefill or generation at its next safe point. Any thread. It only
    // reaches the SDK while an operation runs: mneme_session_cancel on an idle session would
    // cancel the next call instead.
    void requestCancel();

    // Default text that starts the system turn when a codebase is attached.
    static QString codebasePreamble();

public slots:
    void configure(mneme_chat::EngineConfig config);
    void openModel(QString path);
    void plan(quint64 contextTokens);
    void scanCodebase(QString root);
    void closeCodebase();
    void setFileIncluded(int index, bool included);
    // Answers the last user turn of `turns` (the conversation so far, codebase excluded).
    void ask(QList<mneme_chat::ChatTurn> turns, int maxTokens);
    // Evaluates `tokens` synthetic token ids: measures prefill speed, and works with models that
    // have no tokenizer.
    void benchPrefill(int tokens);
    // Releases every SDK object; called on the worker thread before it stops.
    void shutdown();

signals:
    void runtimeReady(QList<mneme_chat::PluginRow> plugins, QList<mneme_chat::DeviceRow> devices);
    void modelReady(mneme_chat::ModelSummary model);
    void modelClosed();
    void planReady(mneme_chat::PlanSummary plan);
    void codebaseReady(QString root, QList<mneme_chat::FileEntry> files, quint64 includedTokens);
    void codebaseTokensChanged(quint64 includedTokens);
    void progress(mneme_chat::ProgressInfo info);
    void answerStarted();
    void answerText(QString text);  // streamed in small batches, in order
    void answerFinished(mneme_chat::AnswerStats stats);
    void benchFinished(mneme_chat::AnswerStats stats);
    void failed(QString what, QString message);
    void busyChanged(bool busy);

private:
    struct CallbackState;
    friend struct CallbackState;

    void releaseSession();
    void releaseModel();
    bool ensureSession(QString& error);
    bool renderCodebase(QString& error);
    std::vector<int32_t> tokenize(const std::string& text, QString& error) const;
    std::string renderChat(const QList<ChatTurn>& turns, QString& error) const;
    // Prompt position of the codebase text's first token (0 without a codebase).
    quint64 codebaseStart(const std::string& prompt) const;
    void beginOperation();
    void endOperation();
    void emitFileTokens();
    quint64 sessionTokenCount() const;
    // Feeds `tokens` after the current context, keeping `context_` in step even when cancelled.
    mneme_status feed(const std::vector<int32_t>& tokens, bool useSnapshots, mneme_logits_mode logits,
                      AnswerStats& stats);

    EngineConfig config_;
    mneme_runtime* runtime_ = nullptr;
    mneme_model* model_ = nullptr;
    mneme_session* session_ = nullptr;
    mneme_codebase* codebase_ = nullptr;
    ModelSummary modelSummary_;
    QString codebaseRoot_;
    std::string codebaseText_;      // rendered prompt text of the included files
    bool codebaseTextValid_ = false;
    std::vector<int32_t> context_;  // the session's tokens, as far as this worker knows them
    bool contextKnown_ = true;
    std::string snapshotDir_;

    // mneme_session_cancel is sticky: when it arrives after the running call's last check, it
    // cancels the next call instead. The worker tracks that case and repeats a call that such a
    // stale request cancelled before it did any work.
    mneme_status runSessionCall(const std::function<mneme_status()>& call, const std::function<bool()>& didNothing);
    std::mutex cancelMutex_;        // orders requestCancel against the start and end of operations
    bool running_ = false;
    bool cancelIssued_ = false;     // mneme_session_cancel was called during this operation
    bool staleCancel_ = false;      // ... and no call consumed it
    std::atomic<bool> cancelRequested_{false};
};

}  // namespace mneme_chat
