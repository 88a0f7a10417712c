// The "Diagnostics" panel: everything the SDK reports today (version, plugins and devices,
// model, memory plan, the last prefill and answer), a prefill benchmark, and a list of the
// per-answer statistics that the SDK does not expose yet.
#pragma once

#include <QWidget>

#include "engine_types.h"

class QTextBrowser;

namespace mneme_chat {

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

signals:
    void benchmarkRequested(int tokens);

private:
    void render();

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
};

}  // namespace mneme_chat
