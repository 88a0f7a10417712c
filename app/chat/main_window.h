// The main window: conversations on the left, the chat in the centre, codebase / model /
// diagnostics on the right. It keeps the conversation, the meter and the store in step with
// what the engine thread reports; it never calls the SDK itself except to cancel.
#pragma once

#include <QMainWindow>
#include <memory>

#include "context_budget.h"
#include "conversation.h"
#include "conversation_store.h"
#include "engine_thread.h"

class QLabel;
class QListWidget;
class QPushButton;
class QTabWidget;

namespace mneme_chat {

class AttachmentBar;
class ChatView;
class CodebasePanel;
class DiagnosticsPanel;
class ModelPanel;
class PromptEdit;

struct MainWindowOptions {
    QString databasePath;       // "" = no saving
    QString snapshotDir;        // "" = no saved prefills
    QString modelPath;          // "" = the last one used, else the bundled default
    bool persistSettings = true; // read and write QSettings
    bool dark = false;
    EngineConfig config;        // used when persistSettings is false
    int maxAnswerTokens = 1024;
};

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(const MainWindowOptions& options, QWidget* parent = nullptr);
    ~MainWindow() override;

    // Starts the runtime and opens the model (asynchronously).
    void start();
    void openFolder(const QString& dir);
    void openModel(const QString& path);
    void ask(const QString& question);
    void stop();
    void regenerate();
    void editLastQuestion();
    void newChat();
    void showPane(const QString& name);  // "codebase", "model" or "diagnostics"
    void setDark(bool dark);

    EngineThread& engine() { return engine_; }
    ChatView* chatView() const { return chat_; }
    CodebasePanel* codebasePanel() const { return codebase_; }
    ModelPanel* modelPanel() const { return modelPanel_; }
    DiagnosticsPanel* diagnosticsPanel() const { return diagnostics_; }
    PromptEdit* promptEdit() const { return prompt_; }
    AttachmentBar* attachments() const { return attachments_; }
    const ContextBudget& budget() const { return budget_; }
    const Conversation& conversation() const { return current_; }
    bool isBusy() const { return busy_ || answering_; }
    bool runtimeStarted() const { return runtimeStarted_; }
    bool modelSettled() const { return modelSettled_; }  // opened, or failed to
    bool hasModel() const { return hasModel_; }
    bool codebaseLoaded() const { return codebaseLoaded_; }
    int answersFinished() const { return answersFinished_; }
    QString lastError() const { return lastError_; }

signals:
    void answerCompleted();

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void buildUi();
    void connectEngine();
    void loadSettings();
    void saveSettings() const;
    void send();
    void askCurrent();
    void updateMeter();
    void updateButtons();
    void refreshConversationList();
    void loadConversation(qint64 id);
    void saveConversation();
    void exportConversation();
    void handlePaths(const QList<QUrl>& urls);
    void applyEngineConfig();
    EngineConfig currentConfig() const;
    static QString statsLine(const AnswerStats& stats);

    MainWindowOptions options_;
    EngineThread engine_;
    ConversationStore store_;
    Conversation current_;
    ContextBudget budget_;
    ModelSummary model_;
    QString answerBuffer_;

    bool busy_ = false;
    bool answering_ = false;
    bool runtimeStarted_ = false;
    bool modelSettled_ = false;
    bool hasModel_ = false;
    bool codebaseLoaded_ = false;
    bool dark_ = false;
    int answersFinished_ = 0;
    QString lastError_;

    QListWidget* conversations_ = nullptr;
    ChatView* chat_ = nullptr;
    PromptEdit* prompt_ = nullptr;
    AttachmentBar* attachments_ = nullptr;
    QPushButton* send_ = nullptr;
    QPushButton* stop_ = nullptr;
    QPushButton* regenerate_ = nullptr;
    QPushButton* edit_ = nullptr;
    QLabel* modelLabel_ = nullptr;
    QTabWidget* tabs_ = nullptr;
    CodebasePanel* codebase_ = nullptr;
    ModelPanel* modelPanel_ = nullptr;
    DiagnosticsPanel* diagnostics_ = nullptr;
};

}  // namespace mneme_chat
