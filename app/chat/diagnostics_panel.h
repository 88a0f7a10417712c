// The "Diagnostics" panel. On top, what the last answer did inside the model: which codebase files
// the sparse attention selected (a heat map over the file tree), the Engram cache hit rate, expert
// utilisation per layer and the n-gram drafting acceptance. Below, everything else the SDK reports
// (version, plugins and devices, model, memory plan, prefill and decode numbers) and a prefill
// benchmark.
#pragma once

#include <QWidget>

#include "engine_types.h"

class QLabel;
class QTextBrowser;

namespace mneme_chat {

class ExpertHeatmap;
class FileHeatTree;

class DiagnosticsPanel : public QWidget {
    Q_OBJECT
public:
    explicit DiagnosticsPanel(QWidget* parent = nullptr);

    void setPlugins(const QList<PluginRow>& plugins, const QList<DeviceRow>& devices);
    void setModel(const ModelSummary& model);
    void setPlan(const PlanSummary& plan);
    void setLastAnswer(const AnswerStats& stats);
    void setBenchmark(const AnswerStats& stats);
    QString text() const;
    // The last answer's summary lines (selections, Engram, drafting).
    QString answerText() const;
    FileHeatTree* fileHeat() const { return files_; }
    ExpertHeatmap* expertHeatmap() const { return experts_; }

signals:
    void benchmarkRequested(int tokens);

private:
    void render();
    void renderAnswer();

    QList<PluginRow> plugins_;
    QList<DeviceRow> devices_;
    ModelSummary model_;
    bool hasModel_ = false;
    PlanSummary plan_;
    bool hasPlan_ = false;
    AnswerStats answer_;
    bool hasAnswer_ = false;
    AnswerStats bench_;
    bool hasBench_ = false;
    QTextBrowser* view_;
    QLabel* summary_;
    FileHeatTree* files_;
    ExpertHeatmap* experts_;
};

}  // namespace mneme_chat
