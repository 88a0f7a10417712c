// The codebase tree: folders from paths, token counts, and include checkboxes that report
// every file change (a folder click included) so the meter follows.
#include <QtTest>

#include <QSignalSpy>

#include "codebase_tree_model.h"
#include "context_budget.h"

using namespace mneme_chat;

namespace {

QList<FileEntry> sampleFiles() {
    QList<FileEntry> files;
    auto add = [&](const QString& path, quint64 tokens, bool included, bool includable = true, const QString& reason = {}) {
        FileEntry f;
        f.index = static_cast<int>(files.size());
        f.path = path;
        f.tokens = tokens;
        f.bytes = tokens * 4;
        f.included = included;
        f.includable = includable;
        f.reason = reason;
        files.append(f);
    };
    add(QStringLiteral("README.md"), 100, true);
    add(QStringLiteral("src/main.cpp"), 300, true);
    add(QStringLiteral("src/util/str.h"), 50, true);
    add(QStringLiteral("src/util/str.cpp"), 150, true);
    add(QStringLiteral("package-lock.json"), 9000, false, true, QStringLiteral("generated"));
    add(QStringLiteral("assets/logo.png"), 0, false, false, QStringLiteral("binary"));
    return files;
}

}  // namespace

class CodebaseTreeTest : public QObject {
    Q_OBJECT
private slots:
    void buildsFoldersAndCounts() {
        CodebaseTreeModel model;
        model.setFiles(QStringLiteral("/p"), sampleFiles());
        QCOMPARE(model.fileCount(), 6);
        QCOMPARE(model.includedFileCount(), 4);
        QCOMPARE(model.includedTokens(), quint64(600));
        QStandardItem* str = model.itemForPath(QStringLiteral("src/util/str.cpp"));
        QVERIFY(str);
        QCOMPARE(str->parent()->text(), QStringLiteral("util/"));
        QCOMPARE(str->parent()->parent()->text(), QStringLiteral("src/"));
        QStandardItem* tokens = str->parent()->child(str->row(), CodebaseTreeModel::TokensColumn);
        QCOMPARE(tokens->text(), formatCount(150));
        QStandardItem* logo = model.itemForPath(QStringLiteral("assets/logo.png"));
        QVERIFY(!logo->isCheckable());  // binary: never includable
        QVERIFY(logo->toolTip().contains(QStringLiteral("binary")));
        // Folder totals count the included files only.
        QStandardItem* src = str->parent()->parent();
        QCOMPARE(src->data(CodebaseTreeModel::kTokensRole).toULongLong(), quint64(500));
        QCOMPARE(src->checkState(), Qt::Checked);
    }

    void excludingAFileUpdatesTheMeter() {
        CodebaseTreeModel model;
        model.setFiles(QStringLiteral("/p"), sampleFiles());
        ContextBudget budget;
        budget.capacity = 1000;
        budget.codebaseTokens = model.includedTokens();
        QCOMPARE(budget.permille(), 600);
        QSignalSpy changed(&model, &CodebaseTreeModel::includeChanged);
        connect(&model, &CodebaseTreeModel::includeChanged, this, [&] { budget.codebaseTokens = model.includedTokens(); });
        model.setIncluded(QStringLiteral("src/main.cpp"), false);
        QCOMPARE(changed.size(), 1);
        QCOMPARE(changed.first().at(0).toInt(), 1);
        QCOMPARE(changed.first().at(1).toBool(), false);
        QCOMPARE(budget.codebaseTokens, quint64(300));
        QCOMPARE(budget.permille(), 300);
        QStandardItem* src = model.itemForPath(QStringLiteral("src/main.cpp"))->parent();
        QCOMPARE(src->checkState(), Qt::PartiallyChecked);
    }

    void folderToggleReachesEveryFile() {
        CodebaseTreeModel model;
        model.setFiles(QStringLiteral("/p"), sampleFiles());
        QSignalSpy changed(&model, &CodebaseTreeModel::includeChanged);
        QStandardItem* src = model.itemForPath(QStringLiteral("src/main.cpp"))->parent();
        src->setCheckState(Qt::Unchecked);
        QCOMPARE(changed.size(), 3);  // main.cpp, str.h, str.cpp
        QCOMPARE(model.includedTokens(), quint64(100));
        src->setCheckState(Qt::Checked);
        QCOMPARE(changed.size(), 6);
        QCOMPARE(model.includedTokens(), quint64(600));
        // A generated file can be opted in.
        model.setIncluded(QStringLiteral("package-lock.json"), true);
        QCOMPARE(model.includedTokens(), quint64(9600));
    }
};

QTEST_MAIN(CodebaseTreeTest)
#include "tst_codebase_tree.moc"
