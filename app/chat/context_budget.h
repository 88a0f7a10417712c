// The context meter's arithmetic: what fills the session (codebase, conversation, attachments,
// room kept for the answer) against its size. Pure, so it is tested without a model.
#pragma once

#include <QString>
#include <QtGlobal>

namespace mneme_chat {

struct ContextBudget {
    enum class Level { Ok, Tight, Over };

    quint64 capacity = 0;          // session size in tokens (0 = unknown)
    quint64 codebaseTokens = 0;    // included files
    quint64 conversationTokens = 0; // questions and answers so far
    quint64 pendingTokens = 0;     // the draft and its attachments (estimated)
    quint64 answerReserve = 1024;  // room kept for the next answer

    quint64 used() const { return codebaseTokens + conversationTokens + pendingTokens; }
    quint64 free() const { return capacity > used() ? capacity - used() : 0; }
    // Share of the capacity in use, 0..1 and beyond when it overflows; 0 when the capacity is unknown.
    double fraction() const { return capacity ? static_cast<double>(used()) / static_cast<double>(capacity) : 0.0; }
    // Tight: the answer reserve no longer fits; Over: the prompt alone does not fit.
    Level level() const;
    // Meter permille for a QProgressBar (0..1000, clamped).
    int permille() const;
    // "12,345 / 32,768 tokens (38%)".
    QString text() const;
    // A sentence on what to do when it does not fit, or "".
    QString advice() const;

    // Rough token estimate for text that is not tokenized yet (about 4 bytes of code per token).
    static quint64 estimateTokens(qsizetype utf8Bytes) { return static_cast<quint64>((utf8Bytes + 3) / 4); }
};

// "1.5 GiB", "340 MiB", "12 KiB".
QString formatBytes(quint64 bytes);
// "12,345" in the user's locale.
QString formatCount(quint64 n);

}  // namespace mneme_chat
