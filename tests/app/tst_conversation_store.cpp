// Conversations survive closing and reopening the database; export writes Markdown and JSON.
#include <QtTest>

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>

#include "conversation_export.h"
#include "conversation_store.h"

using namespace mneme_chat;

namespace {

Conversation sample() {
    Conversation c;
    c.title = QStringLiteral("How does main work?");
    c.codebaseRoot = QStringLiteral("/home/me/project");
    c.modelPath = QStringLiteral("/models/demo");
    c.messages.append({0, QStringLiteral("user"), QStringLiteral("What does main return?"), QString(), {}});
    c.messages.append({0, QStringLiteral("assistant"), QStringLiteral("It returns `0`:\n```cpp\nreturn answer() - 42;\n```"),
                       QStringLiteral("first token 0.10 s · 30.0 tok/s"), {}});
    c.messages.append({0, QStringLiteral("user"), QStringLiteral("Unicode: héllo ✓"), QString(), {}});
    return c;
}

}  // namespace

class ConversationStoreTest : public QObject {
    Q_OBJECT
private slots:
    void persistsAcrossARestart() {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("data/conversations.sqlite3"));
        qint64 id = 0;
        {
            ConversationStore store;
            QVERIFY2(store.open(path), qPrintable(store.lastError()));
            QCOMPARE(store.schemaVersion(), ConversationStore::kSchemaVersion);
            Conversation c = sample();
            QVERIFY(store.save(c));
            id = c.id;
            QVERIFY(id > 0);
            Conversation other;
            other.title = QStringLiteral("second");
            other.messages.append({0, QStringLiteral("user"), QStringLiteral("hi"), QString(), {}});
            QVERIFY(store.save(other));
        }  // closed, as when the app quits
        ConversationStore store;
        QVERIFY(store.open(path));
        const QList<Conversation> all = store.list();
        QCOMPARE(all.size(), 2);
        QCOMPARE(all.first().title, QStringLiteral("second"));  // newest first
        const std::optional<Conversation> c = store.load(id);
        QVERIFY(c.has_value());
        const Conversation expected = sample();
        QCOMPARE(c->title, expected.title);
        QCOMPARE(c->codebaseRoot, expected.codebaseRoot);
        QCOMPARE(c->messages.size(), expected.messages.size());
        for (qsizetype i = 0; i < expected.messages.size(); ++i) {
            QCOMPARE(c->messages[i].role, expected.messages[i].role);
            QCOMPARE(c->messages[i].content, expected.messages[i].content);
            QCOMPARE(c->messages[i].stats, expected.messages[i].stats);
        }
        // Updating replaces the messages rather than appending duplicates.
        Conversation edited = *c;
        edited.messages.removeLast();
        QVERIFY(store.save(edited));
        QCOMPARE(store.load(id)->messages.size(), 2);
        QVERIFY(store.remove(id));
        QVERIFY(!store.load(id).has_value());
    }
    void fileIsOwnerOnly() {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("c.sqlite3"));
        ConversationStore store;
        QVERIFY(store.open(path));
        const QFile::Permissions p = QFile::permissions(path);
        QVERIFY(p & QFile::ReadOwner);
        QVERIFY(!(p & (QFile::ReadGroup | QFile::ReadOther | QFile::WriteGroup | QFile::WriteOther)));
    }
    void exportsMarkdown() {
        const QString md = conversationToMarkdown(sample());
        QVERIFY(md.startsWith(QStringLiteral("# How does main work?")));
        QVERIFY(md.contains(QStringLiteral("## Question\n\nWhat does main return?")));
        QVERIFY(md.contains(QStringLiteral("```cpp\nreturn answer() - 42;\n```")));
        QVERIFY(md.contains(QStringLiteral("*first token 0.10 s")));
    }
    void exportsJson() {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("c.json"));
        QVERIFY(exportConversation(sample(), path));
        QFile f(path);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QJsonObject root = QJsonDocument::fromJson(f.readAll()).object();
        QCOMPARE(root.value(QStringLiteral("format")).toString(), QStringLiteral("mneme-chat-conversation"));
        const QJsonArray messages = root.value(QStringLiteral("messages")).toArray();
        QCOMPARE(messages.size(), 3);
        QCOMPARE(messages[2].toObject().value(QStringLiteral("content")).toString(), QStringLiteral("Unicode: héllo ✓"));
        QVERIFY(exportConversation(sample(), dir.filePath(QStringLiteral("c.md"))));
        QVERIFY(QFile(dir.filePath(QStringLiteral("c.md"))).size() > 0);
    }
};

QTEST_GUILESS_MAIN(ConversationStoreTest)
#include "tst_conversation_store.moc"
