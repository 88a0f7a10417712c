#include "model_panel.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QThread>
#include <QVBoxLayout>

#include "context_budget.h"
#include "model_locator.h"

namespace mneme_chat {

ModelPanel::ModelPanel(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("modelPanel"));
    auto* layout = new QVBoxLayout(this);
    auto* form = new QFormLayout;

    auto* modelRow = new QHBoxLayout;
    models_ = new QComboBox(this);
    models_->setObjectName(QStringLiteral("modelPicker"));
    models_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    models_->setMinimumContentsLength(14);
    auto* browse = new QPushButton(tr("Browse…"), this);
    modelRow->addWidget(models_, 1);
    modelRow->addWidget(browse);
    form->addRow(tr("Model"), modelRow);
    modelInfo_ = new QLabel(tr("No model loaded."), this);
    modelInfo_->setWordWrap(true);
    form->addRow(QString(), modelInfo_);

    backend_ = new QComboBox(this);
    backend_->addItem(tr("Best available"), QString());
    form->addRow(tr("Backend"), backend_);
    device_ = new QSpinBox(this);
    device_->setRange(-1, 64);
    device_->setSpecialValueText(tr("Best"));
    form->addRow(tr("Device"), device_);
    threads_ = new QSpinBox(this);
    threads_->setRange(0, 1024);
    threads_->setSpecialValueText(tr("All cores (%1)").arg(QThread::idealThreadCount()));
    form->addRow(tr("Threads"), threads_);
    budgetGiB_ = new QDoubleSpinBox(this);
    budgetGiB_->setRange(0, 4096);
    budgetGiB_->setDecimals(1);
    budgetGiB_->setSuffix(tr(" GiB"));
    budgetGiB_->setSpecialValueText(tr("No limit"));
    form->addRow(tr("Memory budget"), budgetGiB_);
    context_ = new QComboBox(this);
    context_->setObjectName(QStringLiteral("contextPicker"));
    for (quint32 n : {4096u, 8192u, 16384u, 32768u, 65536u, 131072u, 262144u, 524288u, 1048576u}) {
        context_->addItem(tr("%1 tokens").arg(formatCount(n)), n);
    }
    form->addRow(tr("Context"), context_);
    verdict_ = new QLabel(this);
    verdict_->setObjectName(QStringLiteral("planVerdict"));
    verdict_->setWordWrap(true);
    form->addRow(QString(), verdict_);
    layout->addLayout(form);

    auto* apply = new QPushButton(tr("Apply and reload"), this);
    apply->setToolTip(tr("Backend, device, threads and budget take effect when the runtime restarts."));
    layout->addWidget(apply, 0, Qt::AlignLeft);

    auto* pluginTitle = new QLabel(tr("<b>Backends</b>"), this);
    layout->addWidget(pluginTitle);
    plugins_ = new QLabel(this);
    plugins_->setObjectName(QStringLiteral("pluginList"));
    plugins_->setWordWrap(true);
    plugins_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(plugins_);
    layout->addStretch(1);

    refreshModels(QString());
    connect(models_, &QComboBox::activated, this, [this](int i) { emit modelChosen(models_->itemData(i).toString()); });
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Model folder (config.json + *.safetensors)"));
        if (dir.isEmpty()) return;
        setModelPath(dir);
        emit modelChosen(dir);
    });
    connect(apply, &QPushButton::clicked, this, &ModelPanel::applyRequested);
    connect(context_, &QComboBox::activated, this,
            [this](int i) { emit contextChanged(context_->itemData(i).toUInt()); });
}

void ModelPanel::refreshModels(const QString& select) {
    models_->clear();
    for (const ModelChoice& m : discoverModels()) {
        models_->addItem(m.hasTokenizer ? m.name : tr("%1 (no tokenizer)").arg(m.name), m.path);
        models_->setItemData(models_->count() - 1, m.path, Qt::ToolTipRole);
    }
    if (!select.isEmpty()) {
        int i = models_->findData(select);
        if (i < 0) {
            const ModelChoice m = describeModel(select);
            models_->addItem(m.hasTokenizer ? m.name : tr("%1 (no tokenizer)").arg(m.name), m.path);
            i = models_->count() - 1;
        }
        models_->setCurrentIndex(i);
    }
}

void ModelPanel::setModelPath(const QString& path) { refreshModels(path); }

QString ModelPanel::modelPath() const { return models_->currentData().toString(); }

void ModelPanel::setConfig(const EngineConfig& config) {
    threads_->setValue(config.threads);
    device_->setValue(config.device);
    budgetGiB_->setValue(static_cast<double>(config.memoryBudgetBytes) / (1024.0 * 1024 * 1024));
    int i = backend_->findData(config.backend);
    if (i < 0) {
        backend_->addItem(config.backend, config.backend);
        i = backend_->count() - 1;
    }
    backend_->setCurrentIndex(i);
    i = context_->findData(config.contextTokens);
    if (i < 0) {
        context_->addItem(tr("%1 tokens").arg(formatCount(config.contextTokens)), config.contextTokens);
        i = context_->count() - 1;
    }
    context_->setCurrentIndex(i);
}

EngineConfig ModelPanel::config() const {
    EngineConfig c;
    c.threads = threads_->value();
    c.device = device_->value();
    c.memoryBudgetBytes = static_cast<quint64>(budgetGiB_->value() * 1024.0 * 1024 * 1024);
    c.backend = backend_->currentData().toString();
    c.contextTokens = context_->currentData().toUInt();
    return c;
}

void ModelPanel::setPlugins(const QList<PluginRow>& plugins, const QList<DeviceRow>& devices) {
    const QString current = backend_->currentData().toString();
    backend_->clear();
    backend_->addItem(tr("Best available"), QString());
    QStringList lines;
    for (const PluginRow& p : plugins) {
        if (p.usable && backend_->findData(p.name) < 0) backend_->addItem(p.name, p.name);
        lines << QStringLiteral("%1: %2%3").arg(p.name, p.state, p.message.isEmpty() ? QString() : QStringLiteral(" (%1)").arg(p.message));
    }
    for (const DeviceRow& d : devices) {
        lines << QStringLiteral("  %1 #%2: %3, %4").arg(d.backend).arg(d.index).arg(d.name, formatBytes(d.memoryTotal));
    }
    if (plugins.isEmpty()) lines << tr("No backend plugin was found.");
    plugins_->setText(lines.join(QLatin1Char('\n')));
    const int i = backend_->findData(current);
    backend_->setCurrentIndex(i < 0 ? 0 : i);
}

void ModelPanel::setModel(const ModelSummary& m) {
    QString text = tr("%1 · %2 layers · %3 parameters · %4 of weights · on %5")
                       .arg(m.architecture)
                       .arg(m.layers)
                       .arg(formatCount(m.params), formatBytes(m.weightsBytes), m.backend);
    if (!m.hasTokenizer) {
        text += tr("\nThis checkpoint has no tokenizer.json: it can be benchmarked but not chatted with.");
    }
    modelInfo_->setText(text);
}

void ModelPanel::setModelError(const QString& message) { modelInfo_->setText(message); }

void ModelPanel::setPlan(const PlanSummary& plan) {
    QString text = plan.limitBytes ? tr("%1: %2 of %3 (%4)")
                                         .arg(plan.fits ? tr("fits") : tr("does not fit"), formatBytes(plan.totalBytes),
                                              formatBytes(plan.limitBytes), plan.limitSource)
                                   : tr("needs %1").arg(formatBytes(plan.totalBytes));
    text += tr("\nweights %1 · cache %2 · scratch %3")
                .arg(formatBytes(plan.weightsBytes), formatBytes(plan.cacheBytes), formatBytes(plan.scratchBytes));
    if (!plan.fits && plan.maxContextInBudget) {
        text += tr("\nlargest context that fits: %1 tokens").arg(formatCount(plan.maxContextInBudget));
    }
    verdict_->setText(text);
}

QString ModelPanel::pluginText() const { return plugins_->text(); }
QString ModelPanel::verdictText() const { return verdict_->text(); }

}  // namespace mneme_chat
