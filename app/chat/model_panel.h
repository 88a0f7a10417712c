// The "Model" panel: which checkpoint folder, which backend and device (with every plugin's
// diagnostics, so "cuda: no device" is visible instead of a silent CPU fallback), threads,
// memory budget and context size with the planner's verdict.
#pragma once

#include <QWidget>

#include "engine_types.h"

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QSpinBox;

namespace mneme_chat {

class ModelPanel : public QWidget {
    Q_OBJECT
public:
    explicit ModelPanel(QWidget* parent = nullptr);

    void setConfig(const EngineConfig& config);
    // The settings as edited (snapshotDir is left empty for the caller to fill).
    EngineConfig config() const;
    void setModelPath(const QString& path);
    QString modelPath() const;
    void setPlugins(const QList<PluginRow>& plugins, const QList<DeviceRow>& devices);
    void setModel(const ModelSummary& model);
    void setModelError(const QString& message);
    void setPlan(const PlanSummary& plan);
    QString pluginText() const;
    QString verdictText() const;

signals:
    void modelChosen(QString path);
    void applyRequested();
    void contextChanged(quint32 tokens);

private:
    void refreshModels(const QString& select);

    QComboBox* models_;
    QLabel* modelInfo_;
    QComboBox* backend_;
    QSpinBox* device_;
    QSpinBox* threads_;
    QDoubleSpinBox* budgetGiB_;
    QComboBox* context_;
    QLabel* verdict_;
    QLabel* plugins_;
};

}  // namespace mneme_chat
