// The whole window offscreen: a codebase loads into the tree and the meter, the diagnostics
// pane lists the backends, the screenshot is a real picture, and (with a chat model) an answer
// streams in, is saved, and is still there after a restart.
#include <QtTest>

#include <QTemporaryDir>
#include <QTreeView>

#include "chat_view.h"
#include "codebase_panel.h"
#include "codebase_tree_model.h"
#include "diagnostics_panel.h"
#include "expert_heatmap.h"
#include "file_heat_tree.h"
#include "main_window.h"
#include "message_view.h"
#include "model_panel.h"
#include "test_support.h"

using namespace mneme_chat;

namespace {

MainWindowOptions optionsFor(const QString& model, const QString& db) {
    MainWindowOptions o;
    o.persistSettings = false;
    o.modelPath = model;
    o.databasePath = db;
    o.config.threads = 1;
    o.config.contextTokens = 8192;
    o.maxAnswerTokens = 12;
    return o;
}

// Distinct colours in a sample of the image: a blank or failed grab has one or two.
int distinctColours(const QImage& image) {
    QSet<QRgb> colours;
    for (int y = 0; y < image.height(); y += 7) {
        for (int x = 0; x < image.width(); x += 7) colours.insert(image.pixel(x, y));
    }
    return static_cast<int>(colours.size());
}

}  // namespace

class MainWindowTest : public QObject {
    Q_OBJECT
private slots:
    void loadsACodebaseAndShowsItsDiagnostics() {
        QTemporaryDir data, code;
        mneme_chat_test::writeSampleCodebase(code);
        MainWindow w(optionsFor(mneme_chat_test::goldenModel(QStringLiteral("v32-tiny")), data.filePath(QStringLiteral("c.sqlite3"))));
        w.show();
        w.start();
        w.openFolder(code.path());
        QVERIFY(QTest::qWaitFor([&] { return w.modelSettled() && w.codebaseLoaded() && !w.isBusy(); }, 30000));
        QVERIFY(w.hasModel());
        CodebaseTreeModel* tree = w.codebasePanel()->tree();
        QVERIFY(tree->itemForPath(QStringLiteral("src/main.cpp")));
        QVERIFY(!tree->itemForPath(QStringLiteral("build/out.txt")));
        QCOMPARE(w.budget().capacity, quint64(8192));
        QVERIFY(w.codebasePanel()->meterText().contains(formatCount(8192)));
        QVERIFY(QTest::qWaitFor([&] { return w.codebasePanel()->planText().contains(QStringLiteral("fits")); }, 5000));
        // A model without a tokenizer says so instead of failing silently.
        QVERIFY(w.chatView()->notice().contains(QStringLiteral("no tokenizer")));
        w.ask(QStringLiteral("hello"));
        QCOMPARE(w.chatView()->count(), 0);
        QVERIFY(w.modelPanel()->pluginText().contains(QStringLiteral("cpu: loaded")));
        w.showPane(QStringLiteral("diagnostics"));
        QVERIFY(w.diagnosticsPanel()->text().contains(QStringLiteral("deepseek_v32")));
        // No answer yet: the per-answer part says what it will show, and shows nothing.
        QVERIFY(w.diagnosticsPanel()->answerText().contains(QStringLiteral("Ask a question")));
        QCOMPARE(w.diagnosticsPanel()->fileHeat()->topLevelItemCount(), 0);

        const QImage shot = w.grab().toImage();
        QCOMPARE(shot.size(), QSize(1280, 800));
        QVERIFY2(distinctColours(shot) > 20, "the screenshot is blank");
    }

    void excludingAFileInTheTreeReachesTheMeter() {
        const QString chat = mneme_chat_test::chatModel();
        QVERIFY2(!chat.isEmpty(), "the bundled demo model (assets/models/mneme-demo-v4e) was not found");
        QTemporaryDir data, code;
        mneme_chat_test::writeSampleCodebase(code);
        MainWindow w(optionsFor(chat, data.filePath(QStringLiteral("c.sqlite3"))));
        w.show();
        w.start();
        w.openFolder(code.path());
        QVERIFY(QTest::qWaitFor([&] { return w.modelSettled() && w.codebaseLoaded() && !w.isBusy(); }, 60000));
        const quint64 before = w.budget().codebaseTokens;
        QVERIFY(before > 0);
        w.codebasePanel()->tree()->setIncluded(QStringLiteral("src/main.cpp"), false);
        QVERIFY(QTest::qWaitFor([&] { return w.budget().codebaseTokens < before; }, 5000));
        QCOMPARE(w.budget().codebaseTokens, w.codebasePanel()->tree()->includedTokens());
    }

    void diagnosticsShowWhatTheLastAnswerSelected() {
        const QString chat = mneme_chat_test::chatModel();
        QVERIFY2(!chat.isEmpty(), "the bundled demo model (assets/models/mneme-demo-v4e) was not found");
        QTemporaryDir data, code;
        mneme_chat_test::writeSampleCodebase(code);
        MainWindow w(optionsFor(chat, data.filePath(QStringLiteral("c.sqlite3"))));
        w.show();
        w.start();
        w.openFolder(code.path());
        QVERIFY(QTest::qWaitFor([&] { return w.modelSettled() && w.codebaseLoaded() && !w.isBusy(); }, 60000));
        w.ask(QStringLiteral("What does main return?"));
        QVERIFY(QTest::qWaitFor([&] { return w.answersFinished() == 1; }, 60000));
        DiagnosticsPanel* d = w.diagnosticsPanel();
        // Every included file of the tree is in the heat map, and the sparse attention selected some.
        const QList<FileSelection>& files = d->fileHeat()->files();
        QCOMPARE(quint64(files.size()), quint64(4));  // main.cpp, util.h, README.md, notes.txt
        QVERIFY(d->fileHeat()->selectedFileCount() > 0);
        quint64 tokens = 0;
        for (const FileSelection& f : files) tokens += f.tokens;
        QCOMPARE(tokens, w.budget().codebaseTokens);
        QVERIFY(d->fileHeat()->itemForPath(QStringLiteral("src")));
        QVERIFY(d->fileHeat()->itemForPath(QStringLiteral("src/main.cpp")));
        const QString summary = d->answerText();
        QVERIFY2(summary.contains(QStringLiteral("Sparse attention:")), qPrintable(summary));
        QVERIFY(summary.contains(QStringLiteral("Engram")));
        QVERIFY(summary.contains(QStringLiteral("Drafting")));
        // One heat row per layer, each routed layer spreading over at least one expert.
        QVERIFY(d->expertHeatmap()->layers() > 0);
        for (quint32 l = 0; l < d->expertHeatmap()->layers(); ++l)
            QVERIFY(d->expertHeatmap()->effectiveExperts(l) >= 1.0);
    }

    void answersAndRemembersAcrossARestart() {
        const QString chat = mneme_chat_test::chatModel();
        QVERIFY2(!chat.isEmpty(), "the bundled demo model (assets/models/mneme-demo-v4e) was not found");
        QTemporaryDir data;
        const QString db = data.filePath(QStringLiteral("c.sqlite3"));
        {
            MainWindow w(optionsFor(chat, db));
            w.show();
            w.start();
            QVERIFY(QTest::qWaitFor([&] { return w.modelSettled() && !w.isBusy(); }, 60000));
            w.ask(QStringLiteral("Say hello."));
            QVERIFY(QTest::qWaitFor([&] { return w.answersFinished() == 1; }, 60000));
            QCOMPARE(w.chatView()->count(), 2);
            QVERIFY(!w.chatView()->last()->stats().isEmpty());  // TTFT and tok/s under the answer
            QCOMPARE(w.conversation().messages.size(), 2);
        }
        MainWindow again(optionsFor(chat, db));
        ConversationStore store;
        QVERIFY(store.open(db));
        const QList<Conversation> all = store.list();
        QCOMPARE(all.size(), 1);
        QCOMPARE(store.load(all.first().id)->messages.size(), 2);
    }
};

QTEST_MAIN(MainWindowTest)
#include "tst_main_window.moc"
