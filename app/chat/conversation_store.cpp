#include "conversation_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>

namespace mneme_chat {
namespace {

// Finalizes a prepared statement however the scope is left.
class Statement {
public:
    Statement(sqlite3* db, const char* sql) { ok_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) == SQLITE_OK; }
    ~Statement() { sqlite3_finalize(stmt_); }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    bool ok() const { return ok_; }
    sqlite3_stmt* get() const { return stmt_; }
    void bind(int i, const QString& s) {
        const QByteArray u = s.toUtf8();
        sqlite3_bind_text(stmt_, i, u.constData(), static_cast<int>(u.size()), SQLITE_TRANSIENT);
    }
    void bind(int i, qint64 v) { sqlite3_bind_int64(stmt_, i, v); }
    QString text(int col) const {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
        return p ? QString::fromUtf8(p, sqlite3_column_bytes(stmt_, col)) : QString();
    }
    qint64 integer(int col) const { return sqlite3_column_int64(stmt_, col); }

private:
    sqlite3_stmt* stmt_ = nullptr;
    bool ok_ = false;
};

QDateTime fromEpochMs(qint64 ms) { return QDateTime::fromMSecsSinceEpoch(ms); }

}  // namespace

ConversationStore::~ConversationStore() { close(); }

void ConversationStore::close() {
    if (db_) sqlite3_close(db_);
    db_ = nullptr;
}

bool ConversationStore::exec(const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
        error_ = QString::fromUtf8(message ? message : "sqlite error");
        sqlite3_free(message);
        return false;
    }
    return true;
}

bool ConversationStore::open(const QString& path) {
    close();
    const QFileInfo info(path);
    if (!QDir().mkpath(info.absolutePath())) {
        error_ = QStringLiteral("cannot create %1").arg(info.absolutePath());
        return false;
    }
    // Create the file owner-only before SQLite opens it; SQLite gives its journal the same mode.
    const QByteArray native = QFile::encodeName(info.absoluteFilePath());
    const int fd = ::open(native.constData(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        error_ = QStringLiteral("cannot create %1").arg(path);
        return false;
    }
    ::fchmod(fd, 0600);
    ::close(fd);
    if (sqlite3_open_v2(native.constData(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
        error_ = QString::fromUtf8(db_ ? sqlite3_errmsg(db_) : "cannot open database");
        close();
        return false;
    }
    sqlite3_busy_timeout(db_, 2000);
    // synchronous=FULL: in WAL mode NORMAL may roll back the last saves after a power cut or an OS
    // crash; a save is one transaction per message, so the extra fsync costs nothing noticeable.
    if (!exec("PRAGMA foreign_keys=ON; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;") || !migrate()) {
        close();
        return false;
    }
    return true;
}

int ConversationStore::schemaVersion() const {
    if (!db_) return 0;
    Statement q(db_, "SELECT value FROM meta WHERE key='schema_version'");
    if (!q.ok() || sqlite3_step(q.get()) != SQLITE_ROW) return 0;
    return q.text(0).toInt();
}

bool ConversationStore::migrate() {
    if (!exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)")) return false;
    const int version = schemaVersion();
    if (version > kSchemaVersion) {
        error_ = QStringLiteral("the database was written by a newer Mneme Chat (schema %1, this build knows %2)")
                     .arg(version)
                     .arg(kSchemaVersion);
        return false;
    }
    if (version == kSchemaVersion) return true;
    // Version 0 -> 1: the first schema. Later versions append steps here, each in a transaction.
    return exec(
        "BEGIN;"
        "CREATE TABLE IF NOT EXISTS conversations("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, codebase_root TEXT NOT NULL DEFAULT '',"
        "  model_path TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS messages("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
        "  seq INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL, stats TEXT NOT NULL DEFAULT '',"
        "  created_ms INTEGER NOT NULL);"
        "CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages(conversation_id, seq);"
        "INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', '1');"
        "COMMIT;");
}

QList<Conversation> ConversationStore::list() const {
    QList<Conversation> out;
    if (!db_) return out;
    Statement q(db_,
                "SELECT id, title, codebase_root, model_path, created_ms, updated_ms FROM conversations "
                "ORDER BY updated_ms DESC, id DESC");
    while (q.ok() && sqlite3_step(q.get()) == SQLITE_ROW) {
        Conversation c;
        c.id = q.integer(0);
        c.title = q.text(1);
        c.codebaseRoot = q.text(2);
        c.modelPath = q.text(3);
        c.created = fromEpochMs(q.integer(4));
        c.updated = fromEpochMs(q.integer(5));
        out.append(c);
    }
    return out;
}

std::optional<Conversation> ConversationStore::load(qint64 id) const {
    if (!db_) return std::nullopt;
    Conversation c;
    {
        Statement q(db_, "SELECT id, title, codebase_root, model_path, created_ms, updated_ms FROM conversations WHERE id=?");
        q.bind(1, id);
        if (!q.ok() || sqlite3_step(q.get()) != SQLITE_ROW) return std::nullopt;
        c.id = q.integer(0);
        c.title = q.text(1);
        c.codebaseRoot = q.text(2);
        c.modelPath = q.text(3);
        c.created = fromEpochMs(q.integer(4));
        c.updated = fromEpochMs(q.integer(5));
    }
    Statement m(db_, "SELECT id, role, content, stats, created_ms FROM messages WHERE conversation_id=? ORDER BY seq");
    m.bind(1, id);
    while (m.ok() && sqlite3_step(m.get()) == SQLITE_ROW) {
        Message msg;
        msg.id = m.integer(0);
        msg.role = m.text(1);
        msg.content = m.text(2);
        msg.stats = m.text(3);
        msg.created = fromEpochMs(m.integer(4));
        c.messages.append(msg);
    }
    return c;
}

bool ConversationStore::save(Conversation& c) {
    if (!db_) return false;
    const QDateTime now = QDateTime::currentDateTime();
    if (!c.created.isValid()) c.created = now;
    c.updated = now;
    if (!exec("BEGIN")) return false;
    bool ok = true;
    if (c.id == 0) {
        Statement q(db_,
                    "INSERT INTO conversations(title, codebase_root, model_path, created_ms, updated_ms) VALUES(?,?,?,?,?)");
        q.bind(1, c.title);
        q.bind(2, c.codebaseRoot);
        q.bind(3, c.modelPath);
        q.bind(4, c.created.toMSecsSinceEpoch());
        q.bind(5, c.updated.toMSecsSinceEpoch());
        ok = q.ok() && sqlite3_step(q.get()) == SQLITE_DONE;
        if (ok) c.id = sqlite3_last_insert_rowid(db_);
    } else {
        Statement q(db_, "UPDATE conversations SET title=?, codebase_root=?, model_path=?, updated_ms=? WHERE id=?");
        q.bind(1, c.title);
        q.bind(2, c.codebaseRoot);
        q.bind(3, c.modelPath);
        q.bind(4, c.updated.toMSecsSinceEpoch());
        q.bind(5, c.id);
        ok = q.ok() && sqlite3_step(q.get()) == SQLITE_DONE;
    }
    if (ok) {
        Statement d(db_, "DELETE FROM messages WHERE conversation_id=?");
        d.bind(1, c.id);
        ok = d.ok() && sqlite3_step(d.get()) == SQLITE_DONE;
    }
    for (qsizetype i = 0; ok && i < c.messages.size(); ++i) {
        Message& msg = c.messages[i];
        if (!msg.created.isValid()) msg.created = now;
        Statement q(db_, "INSERT INTO messages(conversation_id, seq, role, content, stats, created_ms) VALUES(?,?,?,?,?,?)");
        q.bind(1, c.id);
        q.bind(2, static_cast<qint64>(i));
        q.bind(3, msg.role);
        q.bind(4, msg.content);
        q.bind(5, msg.stats);
        q.bind(6, msg.created.toMSecsSinceEpoch());
        ok = q.ok() && sqlite3_step(q.get()) == SQLITE_DONE;
        if (ok) msg.id = sqlite3_last_insert_rowid(db_);
    }
    if (!ok) {
        error_ = QString::fromUtf8(sqlite3_errmsg(db_));
        exec("ROLLBACK");
        return false;
    }
    return exec("COMMIT");
}

bool ConversationStore::remove(qint64 id) {
    if (!db_) return false;
    Statement q(db_, "DELETE FROM conversations WHERE id=?");
    q.bind(1, id);
    return q.ok() && sqlite3_step(q.get()) == SQLITE_DONE;
}

}  // namespace mneme_chat
