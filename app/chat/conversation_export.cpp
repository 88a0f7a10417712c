#include "conversation_export.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>

namespace mneme_chat {

QString conversationToMarkdown(const Conversation& c) {
    QString out;
    out += QStringLiteral("# %1\n\n").arg(c.title.isEmpty() ? QStringLiteral("Conversation") : c.title);
    if (!c.codebaseRoot.isEmpty()) out += QStringLiteral("- Codebase: `%1`\n").arg(c.codebaseRoot);
    if (!c.modelPath.isEmpty()) out += QStringLiteral("- Model: `%1`\n").arg(c.modelPath);
    if (c.created.isValid()) out += QStringLiteral("- Started: %1\n").arg(c.created.toString(Qt::ISODate));
    out += QLatin1Char('\n');
    for (const Message& m : c.messages) {
        out += m.role == QLatin1String("user") ? QStringLiteral("## Question\n\n") : QStringLiteral("## Answer\n\n");
        out += m.content;
        if (!m.content.endsWith(QLatin1Char('\n'))) out += QLatin1Char('\n');
        if (!m.stats.isEmpty()) out += QStringLiteral("\n*%1*\n").arg(m.stats);
        out += QLatin1Char('\n');
    }
    return out;
}

QByteArray conversationToJson(const Conversation& c) {
    QJsonArray messages;
    for (const Message& m : c.messages) {
        QJsonObject o{{QStringLiteral("role"), m.role}, {QStringLiteral("content"), m.content}};
        if (!m.stats.isEmpty()) o.insert(QStringLiteral("stats"), m.stats);
        if (m.created.isValid()) o.insert(QStringLiteral("created"), m.created.toString(Qt::ISODate));
        messages.append(o);
    }
    QJsonObject root{{QStringLiteral("format"), QStringLiteral("mneme-chat-conversation")},
                     {QStringLiteral("version"), 1},
                     {QStringLiteral("title"), c.title},
                     {QStringLiteral("codebase"), c.codebaseRoot},
                     {QStringLiteral("model"), c.modelPath},
                     {QStringLiteral("created"), c.created.toString(Qt::ISODate)},
                     {QStringLiteral("messages"), messages}};
    return QJsonDocument(root).toJson(QJsonDocument::Indented);
}

bool exportConversation(const Conversation& c, const QString& path, QString* error) {
    const bool json = path.endsWith(QLatin1String(".json"), Qt::CaseInsensitive);
    const QByteArray data = json ? conversationToJson(c) : conversationToMarkdown(c).toUtf8();
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(data) != data.size() || !file.commit()) {
        if (error) *error = file.errorString();
        return false;
    }
    return true;
}

}  // namespace mneme_chat
