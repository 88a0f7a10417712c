#include "codebase_panel.h"

#include <QDragEnterEvent>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QTreeView>
#include <QVBoxLayout>

#include "codebase_tree_model.h"

namespace mneme_chat {

QString formatProgress(const ProgressInfo& info) {
    QString unit = info.stage == QLatin1String("prefill") ? QStringLiteral("tokens")
                   : info.stage == QLatin1String("scan")  ? QStringLiteral("files")
                                                          : QStringLiteral("bytes");
    QString s = info.total ? QStringLiteral("%1 / %2 %3").arg(formatCount(info.done), formatCount(info.total), unit)
                           : QStringLiteral("%1 %2").arg(formatCount(info.done), unit);
    if (info.ratePerSecond > 0) {
        const QString rateUnit = info.stage == QLatin1String("prefill") ? QStringLiteral("tok/s") : unit + QStringLiteral("/s");
        s += QStringLiteral(" · %1 %2").arg(QString::number(info.ratePerSecond, 'f', 0), rateUnit);
    }
    if (info.etaSeconds >= 0) s += QStringLiteral(" · ETA %1 s").arg(QString::number(info.etaSeconds, 'f', 0));
    return s;
}

CodebasePanel::CodebasePanel(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("codebasePanel"));
    setAcceptDrops(true);
    auto* layout = new QVBoxLayout(this);

    auto* buttons = new QHBoxLayout;
    auto* open = new QPushButton(tr("Open folder…"), this);
    open->setToolTip(tr("Ctrl+O. You can also drop folders and files here."));
    auto* close = new QPushButton(tr("Close"), this);
    buttons->addWidget(open);
    buttons->addWidget(close);
    buttons->addStretch();
    layout->addLayout(buttons);
    connect(open, &QPushButton::clicked, this, &CodebasePanel::openFolderRequested);
    connect(close, &QPushButton::clicked, this, &CodebasePanel::closeFolderRequested);

    root_ = new QLabel(tr("No folder open. Open one, or drop a folder here."), this);
    root_->setWordWrap(true);
    layout->addWidget(root_);
    summary_ = new QLabel(this);
    layout->addWidget(summary_);

    model_ = new CodebaseTreeModel(this);
    view_ = new QTreeView(this);
    view_->setObjectName(QStringLiteral("codebaseTree"));
    view_->setModel(model_);
    view_->setUniformRowHeights(true);
    view_->header()->setStretchLastSection(false);
    view_->header()->setSectionResizeMode(CodebaseTreeModel::NameColumn, QHeaderView::Stretch);
    view_->header()->setSectionResizeMode(CodebaseTreeModel::TokensColumn, QHeaderView::ResizeToContents);
    layout->addWidget(view_, 1);

    auto* meterTitle = new QLabel(tr("<b>Context</b>"), this);
    layout->addWidget(meterTitle);
    meter_ = new QProgressBar(this);
    meter_->setObjectName(QStringLiteral("contextMeter"));
    meter_->setRange(0, 1000);
    meter_->setTextVisible(false);
    layout->addWidget(meter_);
    meterLabel_ = new QLabel(this);
    layout->addWidget(meterLabel_);
    advice_ = new QLabel(this);
    advice_->setWordWrap(true);
    advice_->setStyleSheet(QStringLiteral("color: #d9534f;"));
    advice_->setVisible(false);
    layout->addWidget(advice_);
    plan_ = new QLabel(tr("Memory: pick a model to see the estimate."), this);
    plan_->setObjectName(QStringLiteral("planLabel"));
    plan_->setWordWrap(true);
    layout->addWidget(plan_);

    progressRow_ = new QWidget(this);
    auto* row = new QVBoxLayout(progressRow_);
    row->setContentsMargins(0, 0, 0, 0);
    auto* top = new QHBoxLayout;
    progress_ = new QProgressBar(progressRow_);
    progress_->setRange(0, 1000);
    cancel_ = new QPushButton(tr("Cancel"), progressRow_);
    cancel_->setToolTip(tr("Stop reading (Esc). Everything read so far stays in the session."));
    top->addWidget(progress_, 1);
    top->addWidget(cancel_);
    row->addLayout(top);
    progressLabel_ = new QLabel(progressRow_);
    row->addWidget(progressLabel_);
    progressRow_->setVisible(false);
    layout->addWidget(progressRow_);
    connect(cancel_, &QPushButton::clicked, this, &CodebasePanel::cancelRequested);

    note_ = new QLabel(this);
    note_->setObjectName(QStringLiteral("snapshotNote"));
    note_->setWordWrap(true);
    layout->addWidget(note_);
}

void CodebasePanel::setFiles(const QString& root, const QList<FileEntry>& files) {
    model_->setFiles(root, files);
    root_->setText(root.isEmpty() ? tr("No folder open. Open one, or drop a folder here.") : root);
    summary_->setText(root.isEmpty() ? QString()
                                     : tr("%1 files, %2 included").arg(files.size()).arg(model_->includedFileCount()));
    view_->expandToDepth(0);
    view_->scrollToTop();
}

void CodebasePanel::setBudget(const ContextBudget& budget) {
    meter_->setValue(budget.permille());
    meterLabel_->setText(budget.text());
    const QString advice = budget.advice();
    advice_->setText(advice);
    advice_->setVisible(!advice.isEmpty());
    if (!model_->root().isEmpty()) {
        summary_->setText(tr("%1 files, %2 included").arg(model_->fileCount()).arg(model_->includedFileCount()));
    }
}

void CodebasePanel::setPlan(const PlanSummary& plan) {
    QString verdict;
    if (plan.limitBytes) {
        verdict = QStringLiteral("%1: %2 of %3 (%4)")
                      .arg(plan.fits ? tr("fits") : tr("does not fit"), formatBytes(plan.totalBytes),
                           formatBytes(plan.limitBytes), plan.limitSource);
    } else {
        verdict = tr("needs %1").arg(formatBytes(plan.totalBytes));
    }
    QString text = tr("Memory for %1 tokens — %2").arg(formatCount(plan.contextTokens), verdict);
    if (!plan.fits && plan.maxContextInBudget) {
        text += tr("; the largest context that fits is %1 tokens").arg(formatCount(plan.maxContextInBudget));
    }
    plan_->setText(text);
}

void CodebasePanel::showProgress(const ProgressInfo& info) {
    progressRow_->setVisible(true);
    progress_->setValue(info.total ? static_cast<int>(1000.0 * static_cast<double>(info.done) / static_cast<double>(info.total)) : 0);
    progressLabel_->setText(tr("%1: %2").arg(info.stage == QLatin1String("prefill") ? tr("Reading") : info.stage,
                                             formatProgress(info)));
}

void CodebasePanel::hideProgress() { progressRow_->setVisible(false); }

void CodebasePanel::setNote(const QString& note) { note_->setText(note); }

QString CodebasePanel::meterText() const { return meterLabel_->text(); }
QString CodebasePanel::planText() const { return plan_->text(); }
QString CodebasePanel::progressText() const { return progressLabel_->text(); }
bool CodebasePanel::progressVisible() const { return !progressRow_->isHidden(); }

void CodebasePanel::dragEnterEvent(QDragEnterEvent* event) {
    if (event->mimeData()->hasUrls()) event->acceptProposedAction();
}

void CodebasePanel::dropEvent(QDropEvent* event) {
    emit pathsDropped(event->mimeData()->urls());
    event->acceptProposedAction();
}

}  // namespace mneme_chat
