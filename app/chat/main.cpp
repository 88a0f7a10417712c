// mneme-chat: the desktop app. With --screenshot it runs unattended (open a folder, optionally
// ask one question and wait for the answer, save a picture of the window, exit), for the
// documentation and for CI; it then neither reads nor writes the user's settings and history.
#include <QApplication>
#include <QCommandLineParser>
#include <QDeadlineTimer>
#include <QDir>
#include <QSettings>
#include <QThread>
#include <cstdio>
#include <functional>

#include "app_paths.h"
#include "chat_view.h"
#include "main_window.h"
#include "theme.h"

namespace {

// Runs the event loop until `done` holds or the deadline passes.
bool waitUntil(const std::function<bool()>& done, QDeadlineTimer deadline) {
    while (!done()) {
        if (deadline.hasExpired()) return false;
        QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
        QThread::msleep(10);
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QCoreApplication::setOrganizationName(QStringLiteral("mneme"));
    QCoreApplication::setApplicationName(QStringLiteral("mneme-chat"));
    QGuiApplication::setApplicationDisplayName(QStringLiteral("Mneme Chat"));
    QCoreApplication::setApplicationVersion(QStringLiteral(MNEME_CHAT_VERSION));

    QCommandLineParser cli;
    cli.setApplicationDescription(QStringLiteral("Chat with a codebase using a local DeepSeek-family model."));
    cli.addHelpOption();
    cli.addVersionOption();
    const QCommandLineOption open(QStringLiteral("open"), QStringLiteral("Open the folder DIR as the codebase."), QStringLiteral("DIR"));
    const QCommandLineOption model(QStringLiteral("model"), QStringLiteral("Model folder to load."), QStringLiteral("M"));
    const QCommandLineOption ask(QStringLiteral("ask"), QStringLiteral("Ask TEXT and wait for the answer."), QStringLiteral("TEXT"));
    const QCommandLineOption shot(QStringLiteral("screenshot"),
                                  QStringLiteral("Save the window to FILE.png and exit (history and settings untouched)."),
                                  QStringLiteral("FILE.png"));
    const QCommandLineOption pane(QStringLiteral("pane"), QStringLiteral("Right panel to show: codebase, model or diagnostics."),
                                  QStringLiteral("NAME"), QStringLiteral("codebase"));
    const QCommandLineOption dark(QStringLiteral("dark"), QStringLiteral("Use the dark theme."));
    const QCommandLineOption threads(QStringLiteral("threads"), QStringLiteral("Worker threads (0 = all cores)."), QStringLiteral("N"), QStringLiteral("0"));
    const QCommandLineOption context(QStringLiteral("context"), QStringLiteral("Context size in tokens."), QStringLiteral("N"), QStringLiteral("32768"));
    const QCommandLineOption maxTokens(QStringLiteral("max-tokens"), QStringLiteral("Longest answer in tokens."), QStringLiteral("N"), QStringLiteral("1024"));
    const QCommandLineOption timeout(QStringLiteral("timeout"), QStringLiteral("Give up on --screenshot after SECONDS."), QStringLiteral("SECONDS"), QStringLiteral("300"));
    cli.addOptions({open, model, ask, shot, pane, dark, threads, context, maxTokens, timeout});
    cli.process(app);

    const bool screenshotMode = cli.isSet(shot);
    mneme_chat::MainWindowOptions options;
    options.persistSettings = !screenshotMode;
    options.dark = cli.isSet(dark) || (!screenshotMode && QSettings().value(QStringLiteral("ui/dark")).toBool());
    options.modelPath = cli.value(model);
    options.maxAnswerTokens = cli.value(maxTokens).toInt();
    options.config.threads = cli.value(threads).toInt();
    options.config.contextTokens = cli.value(context).toUInt();
    options.snapshotDir = mneme_chat::snapshotDir();
    if (!screenshotMode) options.databasePath = mneme_chat::databasePath();
    mneme_chat::applyTheme(app, options.dark);

    mneme_chat::MainWindow window(options);
    window.show();
    window.start();
    if (cli.isSet(open)) window.openFolder(QDir(cli.value(open)).absolutePath());
    if (!screenshotMode) return app.exec();

    const QDeadlineTimer deadline(qint64(cli.value(timeout).toInt()) * 1000);
    auto settled = [&] {
        return window.modelSettled() && (!cli.isSet(open) || window.codebaseLoaded() || !window.lastError().isEmpty()) &&
               !window.isBusy();
    };
    if (!waitUntil(settled, deadline)) std::fprintf(stderr, "mneme-chat: timed out while loading\n");
    if (cli.isSet(ask)) {
        window.ask(cli.value(ask));
        if (!waitUntil([&] { return window.answersFinished() > 0 || !window.isBusy(); }, deadline)) {
            std::fprintf(stderr, "mneme-chat: timed out waiting for the answer\n");
            window.stop();
        }
    }
    window.showPane(cli.value(pane));
    window.chatView()->flush();
    waitUntil([] { return false; }, QDeadlineTimer(300));  // let layouts settle
    if (!window.lastError().isEmpty()) std::fprintf(stderr, "mneme-chat: %s\n", qPrintable(window.lastError()));
    const QString file = cli.value(shot);
    if (!window.grab().save(file)) {
        std::fprintf(stderr, "mneme-chat: cannot write %s\n", qPrintable(file));
        return 1;
    }
    std::printf("%s\n", qPrintable(file));
    return 0;
}
