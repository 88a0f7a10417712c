#include "main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QMenuBar>
#include <QPushButton>
#include <QSettings>
#include <QShortcut>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QVBoxLayout>

#include "attachment_bar.h"
#include "chat_view.h"
#include "codebase_panel.h"
#include "codebase_tree_model.h"
#include "conversation_export.h"
#include "diagnostics_panel.h"
#include "message_view.h"
#include "model_locator.h"
#include "model_panel.h"
#include "prompt_edit.h"
#include "theme.h"

namespace mneme_chat {

MainWindow::MainWindow(const MainWindowOptions& options, QWidget* parent)
    : QMainWindow(parent), options_(options), dark_(options.dark) {
    setWindowTitle(tr("Mneme Chat"));
    setObjectName(QStringLiteral("mainWindow"));
    resize(1280, 800);
    buildUi();
    connectEngine();
    if (options_.persistSettings) loadSettings();
    else modelPanel_->setConfig(options_.config);
    chat_->setDark(dark_);
    if (!options_.databasePath.isEmpty() && !store_.open(options_.databasePath)) {
        statusBar()->showMessage(tr("Conversations will not be saved: %1").arg(store_.lastError()));
    }
    refreshConversationList();
    updateButtons();
    updateMeter();
}

MainWindow::~MainWindow() = default;

void MainWindow::buildUi() {
    auto* splitter = new QSplitter(this);
    splitter->setChildrenCollapsible(false);

    // Left: conversations.
    auto* left = new QWidget(splitter);
    auto* leftLayout = new QVBoxLayout(left);
    auto* newChat = new QPushButton(tr("New chat"), left);
    newChat->setToolTip(tr("Ctrl+N"));
    leftLayout->addWidget(newChat);
    conversations_ = new QListWidget(left);
    conversations_->setObjectName(QStringLiteral("conversationList"));
    leftLayout->addWidget(conversations_, 1);
    auto* exportButton = new QPushButton(tr("Export…"), left);
    exportButton->setToolTip(tr("Save this conversation as Markdown or JSON"));
    leftLayout->addWidget(exportButton);
    connect(newChat, &QPushButton::clicked, this, &MainWindow::newChat);
    connect(exportButton, &QPushButton::clicked, this, &MainWindow::exportConversation);
    connect(conversations_, &QListWidget::itemClicked, this,
            [this](QListWidgetItem* item) { loadConversation(item->data(Qt::UserRole).toLongLong()); });

    // Centre: the chat.
    auto* centre = new QWidget(splitter);
    auto* centreLayout = new QVBoxLayout(centre);
    modelLabel_ = new QLabel(tr("Starting…"), centre);
    modelLabel_->setObjectName(QStringLiteral("modelLabel"));
    centreLayout->addWidget(modelLabel_);
    chat_ = new ChatView(centre);
    centreLayout->addWidget(chat_, 1);
    attachments_ = new AttachmentBar(centre);
    centreLayout->addWidget(attachments_);
    prompt_ = new PromptEdit(centre);
    prompt_->setMaximumHeight(120);
    centreLayout->addWidget(prompt_);
    auto* buttons = new QHBoxLayout;
    send_ = new QPushButton(tr("Send"), centre);
    send_->setToolTip(tr("Ctrl+Enter"));
    stop_ = new QPushButton(tr("Stop"), centre);
    stop_->setToolTip(tr("Esc. The partial answer is kept."));
    regenerate_ = new QPushButton(tr("Regenerate"), centre);
    edit_ = new QPushButton(tr("Edit last question"), centre);
    buttons->addWidget(send_);
    buttons->addWidget(stop_);
    buttons->addStretch();
    buttons->addWidget(edit_);
    buttons->addWidget(regenerate_);
    centreLayout->addLayout(buttons);
    connect(send_, &QPushButton::clicked, this, &MainWindow::send);
    connect(stop_, &QPushButton::clicked, this, &MainWindow::stop);
    connect(regenerate_, &QPushButton::clicked, this, &MainWindow::regenerate);
    connect(edit_, &QPushButton::clicked, this, &MainWindow::editLastQuestion);
    connect(prompt_, &PromptEdit::submitRequested, this, &MainWindow::send);
    connect(prompt_, &PromptEdit::largePaste, this, [this](const QString& text) {
        attachments_->add({tr("Pasted text"), text});
    });
    connect(prompt_, &PromptEdit::pathsDropped, this, &MainWindow::handlePaths);
    connect(attachments_, &AttachmentBar::changed, this, &MainWindow::updateMeter);
    connect(prompt_, &QPlainTextEdit::textChanged, this, &MainWindow::updateMeter);

    // Right: codebase, model, diagnostics.
    tabs_ = new QTabWidget(splitter);
    codebase_ = new CodebasePanel(tabs_);
    modelPanel_ = new ModelPanel(tabs_);
    diagnostics_ = new DiagnosticsPanel(tabs_);
    tabs_->addTab(codebase_, tr("Codebase"));
    tabs_->addTab(modelPanel_, tr("Model"));
    tabs_->addTab(diagnostics_, tr("Diagnostics"));
    connect(codebase_, &CodebasePanel::openFolderRequested, this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Open a codebase"));
        if (!dir.isEmpty()) openFolder(dir);
    });
    connect(codebase_, &CodebasePanel::closeFolderRequested, this, [this] {
        engine_.post([w = engine_.worker()] { w->closeCodebase(); });
        codebase_->setFiles(QString(), {});
        current_.codebaseRoot.clear();
        codebaseLoaded_ = false;
    });
    connect(codebase_, &CodebasePanel::pathsDropped, this, &MainWindow::handlePaths);
    connect(codebase_, &CodebasePanel::cancelRequested, this, &MainWindow::stop);
    connect(codebase_->tree(), &CodebaseTreeModel::includeChanged, this, [this](int index, bool included) {
        engine_.post([w = engine_.worker(), index, included] { w->setFileIncluded(index, included); });
    });
    connect(modelPanel_, &ModelPanel::modelChosen, this, &MainWindow::openModel);
    connect(modelPanel_, &ModelPanel::applyRequested, this, &MainWindow::applyEngineConfig);
    connect(modelPanel_, &ModelPanel::contextChanged, this, [this](quint32 tokens) {
        options_.config.contextTokens = tokens;
        budget_.capacity = model_.maxContext ? std::min<quint64>(tokens, model_.maxContext) : tokens;
        updateMeter();
        // The planner is cheap: show the verdict for the new size right away; the session is
        // rebuilt with it on the next reload.
        engine_.post([w = engine_.worker(), tokens] { w->plan(tokens); });
    });
    connect(diagnostics_, &DiagnosticsPanel::benchmarkRequested, this, [this](int tokens) {
        engine_.post([w = engine_.worker(), tokens] { w->benchPrefill(tokens); });
    });

    splitter->addWidget(left);
    splitter->addWidget(centre);
    splitter->addWidget(tabs_);
    splitter->setStretchFactor(1, 1);
    splitter->setSizes({230, 670, 380});
    setCentralWidget(splitter);

    // Menus and keyboard.
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("New chat"), QKeySequence::New, this, &MainWindow::newChat);
    file->addAction(tr("Open folder…"), QKeySequence::Open, this,
                    [this] { emit codebase_->openFolderRequested(); });
    file->addAction(tr("Export conversation…"), QKeySequence(tr("Ctrl+E")), this, &MainWindow::exportConversation);
    file->addSeparator();
    file->addAction(tr("Quit"), QKeySequence::Quit, this, &QWidget::close);
    QMenu* view = menuBar()->addMenu(tr("&View"));
    QAction* darkAction = view->addAction(tr("Dark theme"));
    darkAction->setCheckable(true);
    darkAction->setChecked(dark_);
    connect(darkAction, &QAction::toggled, this, &MainWindow::setDark);
    view->addAction(tr("Codebase"), QKeySequence(tr("Ctrl+1")), this, [this] { showPane(QStringLiteral("codebase")); });
    view->addAction(tr("Model"), QKeySequence(tr("Ctrl+2")), this, [this] { showPane(QStringLiteral("model")); });
    view->addAction(tr("Diagnostics"), QKeySequence(tr("Ctrl+3")), this, [this] { showPane(QStringLiteral("diagnostics")); });
    auto* esc = new QShortcut(QKeySequence(Qt::Key_Escape), this);
    connect(esc, &QShortcut::activated, this, &MainWindow::stop);
    auto* sendKey = new QShortcut(QKeySequence(tr("Ctrl+Return")), this);
    connect(sendKey, &QShortcut::activated, this, &MainWindow::send);
    statusBar()->showMessage(tr("Ready"));
}

void MainWindow::connectEngine() {
    EngineWorker* w = engine_.worker();
    connect(w, &EngineWorker::busyChanged, this, [this](bool busy) {
        busy_ = busy;
        if (!busy) codebase_->hideProgress();
        updateButtons();
    });
    connect(w, &EngineWorker::runtimeReady, this, [this](const QList<PluginRow>& plugins, const QList<DeviceRow>& devices) {
        runtimeStarted_ = true;
        modelPanel_->setPlugins(plugins, devices);
        diagnostics_->setPlugins(plugins, devices);
    });
    connect(w, &EngineWorker::modelReady, this, [this](const ModelSummary& m) {
        model_ = m;
        hasModel_ = true;
        modelSettled_ = true;
        modelPanel_->setModel(m);
        diagnostics_->setModel(m);
        const quint64 ctx = options_.config.contextTokens;
        budget_.capacity = m.maxContext ? std::min<quint64>(ctx, m.maxContext) : ctx;
        modelLabel_->setText(tr("<b>%1</b> · %2 on %3").arg(QFileInfo(m.path).fileName(), m.architecture, m.backend));
        if (!m.hasTokenizer) {
            chat_->setNotice(tr("The model “%1” has no tokenizer (tokenizer.json), so it cannot chat. It is a test "
                                "checkpoint: pick a chat model in the Model tab, such as the bundled demo model.")
                                 .arg(QFileInfo(m.path).fileName()));
        } else {
            chat_->setNotice({});
        }
        current_.modelPath = m.path;
        updateMeter();
        updateButtons();
    });
    connect(w, &EngineWorker::modelClosed, this, [this] {
        hasModel_ = false;
        modelSettled_ = true;
        updateButtons();
    });
    connect(w, &EngineWorker::planReady, this, [this](const PlanSummary& plan) {
        codebase_->setPlan(plan);
        modelPanel_->setPlan(plan);
        diagnostics_->setPlan(plan);
    });
    connect(w, &EngineWorker::codebaseReady, this,
            [this](const QString& root, const QList<FileEntry>& files, quint64 tokens) {
                codebase_->setFiles(root, files);
                statusBar()->showMessage(tr("Read %1 files from %2").arg(files.size()).arg(root));
                budget_.codebaseTokens = tokens;
                codebaseLoaded_ = true;
                current_.codebaseRoot = root;
                updateMeter();
            });
    connect(w, &EngineWorker::codebaseTokensChanged, this, [this](quint64 tokens) {
        budget_.codebaseTokens = tokens;
        updateMeter();
    });
    connect(w, &EngineWorker::progress, this, [this](const ProgressInfo& info) {
        codebase_->showProgress(info);
        statusBar()->showMessage(formatProgress(info));
    });
    connect(w, &EngineWorker::answerText, this, [this](const QString& text) {
        answerBuffer_ += text;
        chat_->appendToLast(text);
    });
    connect(w, &EngineWorker::answerFinished, this, [this](const AnswerStats& stats) {
        answering_ = false;
        ++answersFinished_;
        diagnostics_->setLastAnswer(stats);
        MessageView* last = chat_->last();
        const bool empty = answerBuffer_.isEmpty();
        if (!stats.error.isEmpty()) {
            lastError_ = stats.error;
            chat_->setNotice(stats.error);
        }
        if (empty && (!stats.error.isEmpty() || stats.cancelled)) {
            // Nothing was written: drop the placeholder, keep the question for another try.
            if (last && last->role() == QLatin1String("assistant")) chat_->removeLast();
            if (stats.cancelled) statusBar()->showMessage(tr("Stopped before the answer began."));
        } else {
            const QString line = statsLine(stats);
            chat_->flush();
            chat_->setLastStats(line);
            current_.messages.append({0, QStringLiteral("assistant"), answerBuffer_, line, QDateTime::currentDateTime()});
            saveConversation();
        }
        if (stats.tokensReused) {
            codebase_->setNote(tr("Reused %1 tokens from a saved snapshot.").arg(formatCount(stats.tokensReused)));
        } else if (stats.snapshotSaved) {
            codebase_->setNote(tr("Saved a snapshot: the next chat over this code starts without re-reading it."));
        }
        if (stats.contextTokens) {
            budget_.conversationTokens = stats.contextTokens > budget_.codebaseTokens ? stats.contextTokens - budget_.codebaseTokens : 0;
        }
        answerBuffer_.clear();
        updateMeter();
        updateButtons();
        emit answerCompleted();
    });
    connect(w, &EngineWorker::benchFinished, this, [this](const AnswerStats& stats) {
        diagnostics_->setBenchmark(stats);
        statusBar()->showMessage(stats.error.isEmpty()
                                     ? tr("Prefill: %1 tokens at %2 tok/s")
                                           .arg(formatCount(stats.tokensEvaluated))
                                           .arg(stats.prefillTokensPerSecond(), 0, 'f', 0)
                                     : stats.error);
    });
    connect(w, &EngineWorker::failed, this, [this](const QString& what, const QString& message) {
        lastError_ = QStringLiteral("%1: %2").arg(what, message);
        statusBar()->showMessage(lastError_);
        if (what.startsWith(tr("Opening the model"))) {
            modelSettled_ = true;
            modelPanel_->setModelError(lastError_);
            modelLabel_->setText(tr("No model loaded"));
            chat_->setNotice(lastError_);
        }
        if (what.startsWith(tr("Reading the folder"))) codebaseLoaded_ = false;
    });
}

QString MainWindow::statsLine(const AnswerStats& s) {
    QStringList parts;
    if (s.timeToFirstTokenSeconds >= 0) parts << tr("first token %1 s").arg(s.timeToFirstTokenSeconds, 0, 'f', 2);
    parts << tr("%1 tok/s").arg(s.decodeTokensPerSecond(), 0, 'f', 1);
    parts << tr("%1 tokens").arg(formatCount(s.generatedTokens));
    if (s.tokensEvaluated) parts << tr("read %1 at %2 tok/s").arg(formatCount(s.tokensEvaluated)).arg(s.prefillTokensPerSecond(), 0, 'f', 0);
    if (s.tokensReused) parts << tr("reused %1 from a snapshot").arg(formatCount(s.tokensReused));
    if (s.cancelled) parts << tr("stopped");
    return parts.join(QStringLiteral(" · "));
}

EngineConfig MainWindow::currentConfig() const {
    EngineConfig c = modelPanel_->config();
    c.snapshotDir = options_.snapshotDir;
    return c;
}

void MainWindow::start() {
    options_.config = currentConfig();
    const EngineConfig config = options_.config;
    engine_.post([w = engine_.worker(), config] { w->configure(config); });
    QString path = options_.modelPath;
    if (path.isEmpty()) path = defaultModelPath();
    if (path.isEmpty()) {
        modelSettled_ = true;
        modelLabel_->setText(tr("No model"));
        chat_->setNotice(tr("No model was found. Pick a model folder (config.json, *.safetensors and tokenizer.json) in "
                            "the Model tab."));
        return;
    }
    openModel(path);
}

void MainWindow::applyEngineConfig() {
    options_.config = currentConfig();
    const EngineConfig config = options_.config;
    hasModel_ = false;
    modelSettled_ = false;
    engine_.post([w = engine_.worker(), config] { w->configure(config); });  // reopens the model
    if (options_.persistSettings) saveSettings();
}

void MainWindow::openModel(const QString& path) {
    if (path.isEmpty()) return;
    hasModel_ = false;
    modelSettled_ = false;
    modelPanel_->setModelPath(path);
    modelLabel_->setText(tr("Loading %1…").arg(QFileInfo(path).fileName()));
    options_.modelPath = path;
    engine_.post([w = engine_.worker(), path] { w->openModel(path); });
    if (options_.persistSettings) saveSettings();
}

void MainWindow::openFolder(const QString& dir) {
    codebaseLoaded_ = false;
    current_.codebaseRoot = dir;
    engine_.post([w = engine_.worker(), dir] { w->scanCodebase(dir); });
    showPane(QStringLiteral("codebase"));
    if (options_.persistSettings) QSettings().setValue(QStringLiteral("codebase/last"), dir);
}

void MainWindow::handlePaths(const QList<QUrl>& urls) {
    for (const QUrl& url : urls) {
        const QFileInfo info(url.toLocalFile());
        if (info.isDir()) {
            openFolder(info.absoluteFilePath());
        } else if (info.isFile()) {
            QFile f(info.absoluteFilePath());
            if (info.size() > 4 * 1024 * 1024 || !f.open(QIODevice::ReadOnly)) {
                statusBar()->showMessage(tr("%1 is too large or unreadable to attach.").arg(info.fileName()));
                continue;
            }
            attachments_->add({info.fileName(), QString::fromUtf8(f.readAll())});
        }
    }
}

void MainWindow::ask(const QString& question) {
    prompt_->setPlainText(question);
    send();
}

void MainWindow::send() {
    if (isBusy()) return;
    if (!hasModel_ || !model_.hasTokenizer) {
        // Keep the question in the box: it is not lost, it just cannot be answered yet.
        chat_->setNotice(hasModel_ ? tr("The model “%1” has no tokenizer (tokenizer.json), so it cannot chat. Pick a "
                                        "chat model in the Model tab, such as the bundled demo model.")
                                         .arg(QFileInfo(model_.path).fileName())
                                   : tr("No model is loaded yet. Pick a model folder in the Model tab."));
        return;
    }
    const QString text = prompt_->toPlainText().trimmed();
    if (text.isEmpty() && attachments_->attachments().isEmpty()) return;
    const QString content = attachments_->asPromptText() + text;
    current_.messages.append({0, QStringLiteral("user"), content, QString(), QDateTime::currentDateTime()});
    if (current_.title.isEmpty()) current_.title = text.left(60).simplified();
    chat_->addMessage(QStringLiteral("user"), content);
    prompt_->clear();
    attachments_->clear();
    askCurrent();
}

void MainWindow::askCurrent() {
    QList<ChatTurn> turns;
    for (const Message& m : std::as_const(current_.messages)) turns.append({m.role, m.content});
    chat_->setNotice({});
    chat_->addMessage(QStringLiteral("assistant"), QString());
    answerBuffer_.clear();
    answering_ = true;
    updateButtons();
    const int maxTokens = options_.maxAnswerTokens;
    engine_.post([w = engine_.worker(), turns, maxTokens] { w->ask(turns, maxTokens); });
}

void MainWindow::stop() {
    if (isBusy()) engine_.worker()->requestCancel();
}

void MainWindow::regenerate() {
    if (isBusy() || current_.messages.isEmpty()) return;
    if (current_.messages.last().role == QLatin1String("assistant")) {
        current_.messages.removeLast();
        chat_->removeLast();
    }
    if (current_.messages.isEmpty()) return;
    askCurrent();
}

void MainWindow::editLastQuestion() {
    if (isBusy()) return;
    while (!current_.messages.isEmpty() && current_.messages.last().role == QLatin1String("assistant")) {
        current_.messages.removeLast();
        chat_->removeLast();
    }
    if (current_.messages.isEmpty()) return;
    prompt_->setPlainText(current_.messages.takeLast().content);
    chat_->removeLast();
    prompt_->setFocus();
    saveConversation();
    updateButtons();
}

void MainWindow::newChat() {
    if (isBusy()) return;
    const QString root = current_.codebaseRoot;
    current_ = {};
    current_.codebaseRoot = root;
    current_.modelPath = model_.path;
    chat_->clear();
    budget_.conversationTokens = 0;
    conversations_->clearSelection();
    updateMeter();
    updateButtons();
    prompt_->setFocus();
}

void MainWindow::saveConversation() {
    if (!store_.isOpen() || current_.messages.isEmpty()) return;
    if (!store_.save(current_)) {
        statusBar()->showMessage(tr("Could not save the conversation: %1").arg(store_.lastError()));
        return;
    }
    refreshConversationList();
}

void MainWindow::refreshConversationList() {
    conversations_->clear();
    for (const Conversation& c : store_.list()) {
        auto* item = new QListWidgetItem(c.title.isEmpty() ? tr("(untitled)") : c.title, conversations_);
        item->setData(Qt::UserRole, c.id);
        item->setToolTip(tr("%1\n%2").arg(c.updated.toString(QStringLiteral("yyyy-MM-dd hh:mm")), c.codebaseRoot));
        if (c.id == current_.id) item->setSelected(true);
    }
}

void MainWindow::loadConversation(qint64 id) {
    if (isBusy()) return;
    const std::optional<Conversation> c = store_.load(id);
    if (!c) return;
    const QString oldRoot = current_.codebaseRoot;
    current_ = *c;
    chat_->showConversation(current_.messages);
    if (!current_.codebaseRoot.isEmpty() && current_.codebaseRoot != oldRoot && QFileInfo(current_.codebaseRoot).isDir()) {
        openFolder(current_.codebaseRoot);
    }
    updateButtons();
}

void MainWindow::exportConversation() {
    if (current_.messages.isEmpty()) {
        statusBar()->showMessage(tr("Nothing to export yet."));
        return;
    }
    QString selected;
    const QString path = QFileDialog::getSaveFileName(this, tr("Export conversation"),
                                                      (current_.title.isEmpty() ? tr("conversation") : current_.title) +
                                                          QStringLiteral(".md"),
                                                      tr("Markdown (*.md);;JSON (*.json)"), &selected);
    if (path.isEmpty()) return;
    QString error;
    if (!mneme_chat::exportConversation(current_, path, &error)) {
        statusBar()->showMessage(tr("Export failed: %1").arg(error));
    } else {
        statusBar()->showMessage(tr("Exported to %1").arg(path));
    }
}

void MainWindow::updateMeter() {
    const qsizetype pending = prompt_->toPlainText().toUtf8().size() + attachments_->totalBytes();
    budget_.pendingTokens = ContextBudget::estimateTokens(pending);
    codebase_->setBudget(budget_);
}

void MainWindow::updateButtons() {
    const bool busy = isBusy();
    const bool canChat = hasModel_ && model_.hasTokenizer;
    send_->setEnabled(!busy && canChat);
    stop_->setEnabled(busy);
    const bool hasTurns = !current_.messages.isEmpty();
    regenerate_->setEnabled(!busy && canChat && hasTurns);
    edit_->setEnabled(!busy && hasTurns);
}

void MainWindow::showPane(const QString& name) {
    if (name == QLatin1String("model")) tabs_->setCurrentWidget(modelPanel_);
    else if (name == QLatin1String("diagnostics")) tabs_->setCurrentWidget(diagnostics_);
    else tabs_->setCurrentWidget(codebase_);
}

void MainWindow::setDark(bool dark) {
    dark_ = dark;
    if (auto* app = qobject_cast<QApplication*>(QCoreApplication::instance())) applyTheme(*app, dark);
    chat_->setDark(dark);
    chat_->showConversation(current_.messages);
    if (options_.persistSettings) QSettings().setValue(QStringLiteral("ui/dark"), dark);
}

void MainWindow::loadSettings() {
    QSettings s;
    EngineConfig c;
    c.threads = s.value(QStringLiteral("engine/threads"), 0).toInt();
    c.memoryBudgetBytes = s.value(QStringLiteral("engine/memoryBudgetBytes"), 0).toULongLong();
    c.backend = s.value(QStringLiteral("engine/backend")).toString();
    c.device = s.value(QStringLiteral("engine/device"), -1).toInt();
    c.contextTokens = s.value(QStringLiteral("engine/contextTokens"), 32768).toUInt();
    modelPanel_->setConfig(c);
    options_.config = c;
    if (options_.modelPath.isEmpty()) {
        const QString last = s.value(QStringLiteral("model/path")).toString();
        if (!last.isEmpty() && looksLikeModel(last)) options_.modelPath = last;
    }
    restoreGeometry(s.value(QStringLiteral("ui/geometry")).toByteArray());
}

void MainWindow::saveSettings() const {
    QSettings s;
    const EngineConfig c = modelPanel_->config();
    s.setValue(QStringLiteral("engine/threads"), c.threads);
    s.setValue(QStringLiteral("engine/memoryBudgetBytes"), static_cast<qulonglong>(c.memoryBudgetBytes));
    s.setValue(QStringLiteral("engine/backend"), c.backend);
    s.setValue(QStringLiteral("engine/device"), c.device);
    s.setValue(QStringLiteral("engine/contextTokens"), c.contextTokens);
    if (!options_.modelPath.isEmpty()) s.setValue(QStringLiteral("model/path"), options_.modelPath);
    s.setValue(QStringLiteral("ui/geometry"), saveGeometry());
}

void MainWindow::closeEvent(QCloseEvent* event) {
    stop();
    if (options_.persistSettings) saveSettings();
    QMainWindow::closeEvent(event);
}

}  // namespace mneme_chat
