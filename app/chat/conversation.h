// A saved conversation: what the sidebar lists, the store persists and the exporters write.
#pragma once

#include <QDateTime>
#include <QList>
#include <QString>

namespace mneme_chat {

struct Message {
    qint64 id = 0;
    QString role;     // "user" or "assistant"
    QString content;
    QString stats;    // one line under an answer ("TTFT 0.4 s · 31 tok/s"), "" for questions
    QDateTime created;
};

struct Conversation {
    qint64 id = 0;    // 0 = not saved yet
    QString title;
    QString codebaseRoot;
    QString modelPath;
    QDateTime created;
    QDateTime updated;
    QList<Message> messages;
};

}  // namespace mneme_chat
