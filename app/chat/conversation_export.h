// Writes a conversation as Markdown (for reading and sharing) or JSON (for other tools).
#pragma once

#include <QByteArray>
#include <QString>

#include "conversation.h"

namespace mneme_chat {

QString conversationToMarkdown(const Conversation& conversation);
QByteArray conversationToJson(const Conversation& conversation);

// Picks the format from the file name (.json = JSON, anything else Markdown) and writes it.
bool exportConversation(const Conversation& conversation, const QString& path, QString* error = nullptr);

}  // namespace mneme_chat
