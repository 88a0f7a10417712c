#include "model_locator.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>

namespace mneme_chat {

QStringList modelSearchRoots() {
    QStringList roots;
    const QString exe = QCoreApplication::applicationDirPath();
    roots << QDir(exe).absoluteFilePath(QStringLiteral("../share/mneme/models"))
          << QDir(exe).absoluteFilePath(QStringLiteral("../assets/models"));
#ifdef MNEME_CHAT_SOURCE_MODELS_DIR
    roots << QStringLiteral(MNEME_CHAT_SOURCE_MODELS_DIR);
#endif
    const QString env = qEnvironmentVariable("MNEME_MODELS_DIR");
    if (!env.isEmpty()) roots.prepend(env);
    QStringList existing;
    for (const QString& r : roots) {
        const QString clean = QDir::cleanPath(r);
        if (QFileInfo(clean).isDir() && !existing.contains(clean)) existing << clean;
    }
    return existing;
}

bool looksLikeModel(const QString& dir) { return QFileInfo::exists(QDir(dir).filePath(QStringLiteral("config.json"))); }

ModelChoice describeModel(const QString& dir) {
    ModelChoice c;
    c.path = QDir::cleanPath(dir);
    c.name = QFileInfo(c.path).fileName();
    c.hasTokenizer = QFileInfo::exists(QDir(dir).filePath(QStringLiteral("tokenizer.json")));
    return c;
}

QList<ModelChoice> discoverModels() {
    QList<ModelChoice> out;
    for (const QString& root : modelSearchRoots()) {
        const QDir d(root);
        for (const QString& sub : d.entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name)) {
            const QString path = d.filePath(sub);
            if (looksLikeModel(path)) out.append(describeModel(path));
        }
    }
    return out;
}

QString defaultModelPath() {
    const QList<ModelChoice> models = discoverModels();
    for (const ModelChoice& m : models) {
        if (m.hasTokenizer) return m.path;
    }
    return models.isEmpty() ? QString() : models.first().path;
}

}  // namespace mneme_chat
