// The right-hand "Codebase" panel: open or drop a folder, the file tree with token counts and
// include checkboxes, the context meter, the planner's memory verdict and the prefill progress
// (with Cancel) of the question being read.
#pragma once

#include <QUrl>
#include <QWidget>

#include "context_budget.h"
#include "engine_types.h"

class QLabel;
class QProgressBar;
class QPushButton;
class QTreeView;

namespace mneme_chat {

class CodebaseTreeModel;

class CodebasePanel : public QWidget {
    Q_OBJECT
public:
    explicit CodebasePanel(QWidget* parent = nullptr);

    CodebaseTreeModel* tree() const { return model_; }
    void setFiles(const QString& root, const QList<FileEntry>& files);
    void setBudget(const ContextBudget& budget);
    void setPlan(const PlanSummary& plan);
    void showProgress(const ProgressInfo& info);
    void hideProgress();
    void setNote(const QString& note);

    QString meterText() const;
    QString planText() const;
    QString progressText() const;
    bool progressVisible() const;

signals:
    void openFolderRequested();
    void closeFolderRequested();
    void pathsDropped(QList<QUrl> urls);
    void cancelRequested();

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    CodebaseTreeModel* model_;
    QTreeView* view_;
    QLabel* root_;
    QLabel* summary_;
    QProgressBar* meter_;
    QLabel* meterLabel_;
    QLabel* advice_;
    QLabel* plan_;
    QWidget* progressRow_;
    QProgressBar* progress_;
    QLabel* progressLabel_;
    QPushButton* cancel_;
    QLabel* note_;
};

// "1,234 / 5,000 tokens · 912 tok/s · ETA 4 s".
QString formatProgress(const ProgressInfo& info);

}  // namespace mneme_chat
