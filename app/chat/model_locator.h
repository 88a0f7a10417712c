// Finds model folders the app can offer without asking: the bundled demo models next to the
// installed executable (share/mneme/models) and, in a build tree, the source's assets/models.
#pragma once

#include <QList>
#include <QString>
#include <QStringList>

namespace mneme_chat {

struct ModelChoice {
    QString path;
    QString name;
    bool hasTokenizer = false;  // tokenizer.json present: usable for chat
};

QStringList modelSearchRoots();
// A checkpoint folder: has config.json.
bool looksLikeModel(const QString& dir);
QList<ModelChoice> discoverModels();
ModelChoice describeModel(const QString& dir);
// The first bundled model that can chat, else the first one found, else "".
QString defaultModelPath();

}  // namespace mneme_chat
