#include "app_paths.h"

#include <QDir>
#include <QFile>
#include <QStandardPaths>

namespace mneme_chat {

QString dataDir() {
    const QString dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    if (QDir().mkpath(dir)) {
        // Conversations and prefills contain the user's code: keep them from other users.
        QFile::setPermissions(dir, QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner);
    }
    return dir;
}

QString databasePath() { return QDir(dataDir()).filePath(QStringLiteral("conversations.sqlite3")); }

QString snapshotDir() {
    const QString dir = QDir(dataDir()).filePath(QStringLiteral("snapshots"));
    QDir().mkpath(dir);
    return dir;
}

}  // namespace mneme_chat
