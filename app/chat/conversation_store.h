// Conversations in a SQLite database in the user's data folder. The schema is versioned by
// meta.schema_version and upgraded in place on open; the file is readable by its owner only
// because it holds the user's code and questions.
#pragma once

#include <QString>
#include <optional>

#include "conversation.h"

struct sqlite3;

namespace mneme_chat {

class ConversationStore {
public:
    static constexpr int kSchemaVersion = 1;

    ConversationStore() = default;
    ~ConversationStore();
    ConversationStore(const ConversationStore&) = delete;
    ConversationStore& operator=(const ConversationStore&) = delete;

    // Opens (creating when needed) the database at `path`. On failure, lastError() says why.
    bool open(const QString& path);
    void close();
    bool isOpen() const { return db_ != nullptr; }
    QString lastError() const { return error_; }
    int schemaVersion() const;

    // Conversations newest first, without their messages.
    QList<Conversation> list() const;
    std::optional<Conversation> load(qint64 id) const;
    // Inserts (id 0) or updates the conversation and replaces its messages; sets its id.
    bool save(Conversation& conversation);
    bool remove(qint64 id);

private:
    bool exec(const char* sql);
    bool migrate();

    sqlite3* db_ = nullptr;
    mutable QString error_;
};

}  // namespace mneme_chat
