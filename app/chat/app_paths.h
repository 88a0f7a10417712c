// Where the app keeps the user's data: the conversation database and the saved prefills.
#pragma once

#include <QString>

namespace mneme_chat {

QString dataDir();        // QStandardPaths::AppDataLocation, created owner-only
QString databasePath();   // <data>/conversations.sqlite3
QString snapshotDir();    // <data>/snapshots

}  // namespace mneme_chat
