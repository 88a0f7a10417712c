#include "test_support.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QTemporaryDir>

#include "model_locator.h"

namespace mneme_chat_test {
namespace {

void write(const QString& path, const QByteArray& data) {
    QDir().mkpath(QFileInfo(path).absolutePath());
    QFile f(path);
    if (f.open(QIODevice::WriteOnly)) f.write(data);
}

}  // namespace

QString goldenModel(const QString& name) { return QStringLiteral(MNEME_TEST_DATA_DIR "/golden/") + name; }

QString chatModel() {
    const QDir root(QStringLiteral(MNEME_SOURCE_DIR "/assets/models"));
    for (const QString& sub : root.entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name)) {
        const mneme_chat::ModelChoice m = mneme_chat::describeModel(root.filePath(sub));
        if (mneme_chat::looksLikeModel(m.path) && m.hasTokenizer) return m.path;
    }
    return {};
}

void writeSampleCodebase(const QTemporaryDir& dir) {
    const QString r = dir.path();
    write(r + QStringLiteral("/src/main.cpp"),
          "#include \"util.h\"\n\nint main() {\n    // Entry point: prints the answer.\n    return answer() - 42;\n}\n");
    write(r + QStringLiteral("/src/util.h"), "#pragma once\ninline int answer() { return 42; }\n");
    write(r + QStringLiteral("/README.md"), "# Sample\n\nA tiny project used by the app tests.\n");
    write(r + QStringLiteral("/docs/notes.txt"), "Design notes: keep it small.\n");
    QByteArray binary(256, '\0');
    for (int i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>(i);
    write(r + QStringLiteral("/assets/logo.bin"), binary);
    write(r + QStringLiteral("/.gitignore"), "build/\n");
    write(r + QStringLiteral("/build/out.txt"), "generated output that must not be listed\n");
}

}  // namespace mneme_chat_test
