#include "diagnostics_panel.h"

#include <mneme/mneme.h>

#include <QHBoxLayout>
#include <QPushButton>
#include <QTextBrowser>
#include <QVBoxLayout>

#include "context_budget.h"

namespace mneme_chat {
namespace {

QString row(const QString& key, const QString& value) {
    return QStringLiteral("<tr><td style='padding-right:12px'>%1</td><td>%2</td></tr>").arg(key.toHtmlEscaped(), value.toHtmlEscaped());
}

QString seconds(double s) { return s < 0 ? QStringLiteral("–") : QStringLiteral("%1 s").arg(s, 0, 'f', 2); }

}  // namespace

DiagnosticsPanel::DiagnosticsPanel(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("diagnosticsPanel"));
    auto* layout = new QVBoxLayout(this);
    view_ = new QTextBrowser(this);
    view_->setObjectName(QStringLiteral("diagnosticsText"));
    layout->addWidget(view_, 1);
    auto* buttons = new QHBoxLayout;
    auto* bench = new QPushButton(tr("Benchmark prefill (2,048 tokens)"), this);
    bench->setToolTip(tr("Feeds synthetic tokens: works with any model, tokenizer or not."));
    buttons->addWidget(bench);
    buttons->addStretch();
    layout->addLayout(buttons);
    connect(bench, &QPushButton::clicked, this, [this] { emit benchmarkRequested(2048); });
    render();
}

void DiagnosticsPanel::setPlugins(const QList<PluginRow>& plugins, const QList<DeviceRow>& devices) {
    plugins_ = plugins;
    devices_ = devices;
    render();
}

void DiagnosticsPanel::setModel(const ModelSummary& model) {
    model_ = model;
    hasModel_ = true;
    render();
}

void DiagnosticsPanel::setPlan(const PlanSummary& plan) {
    plan_ = plan;
    hasPlan_ = true;
    render();
}

void DiagnosticsPanel::setLastAnswer(const AnswerStats& stats) {
    answer_ = stats;
    hasAnswer_ = true;
    render();
}

void DiagnosticsPanel::setBenchmark(const AnswerStats& stats) {
    bench_ = stats;
    hasBench_ = true;
    render();
}

QString DiagnosticsPanel::text() const { return view_->toPlainText(); }

void DiagnosticsPanel::render() {
    QString h;
    h += QStringLiteral("<h3>SDK</h3><table>") + row(tr("Mneme"), QString::fromUtf8(mneme_version_string())) +
         QStringLiteral("</table>");
    h += QStringLiteral("<h3>Backends</h3><table>");
    for (const PluginRow& p : plugins_) {
        h += row(p.name, QStringLiteral("%1%2 — %3").arg(p.state, p.message.isEmpty() ? QString() : QStringLiteral(": ") + p.message, p.path));
    }
    for (const DeviceRow& d : devices_) {
        h += row(QStringLiteral("%1 #%2").arg(d.backend).arg(d.index),
                 QStringLiteral("%1 (%2), %3 total, %4 free")
                     .arg(d.name, d.type, formatBytes(d.memoryTotal), d.memoryFree ? formatBytes(d.memoryFree) : tr("unknown")));
    }
    if (plugins_.isEmpty()) h += row(tr("(none)"), tr("the runtime has not started"));
    h += QStringLiteral("</table>");
    if (hasModel_) {
        h += QStringLiteral("<h3>Model</h3><table>") + row(tr("Folder"), model_.path) +
             row(tr("Architecture"), model_.architecture) + row(tr("Backend"), model_.backend) +
             row(tr("Parameters"), formatCount(model_.params)) +
             row(tr("Layers / hidden"), QStringLiteral("%1 / %2").arg(model_.layers).arg(model_.hiddenSize)) +
             row(tr("Vocabulary"), formatCount(model_.vocabSize)) + row(tr("Max context"), formatCount(model_.maxContext)) +
             row(tr("Weights"), formatBytes(model_.weightsBytes)) +
             row(tr("Cache per token"), formatBytes(model_.cacheBytesPerToken)) +
             row(tr("Tokenizer"), model_.hasTokenizer ? tr("yes") : tr("no (cannot chat)")) + QStringLiteral("</table>");
    }
    if (hasPlan_) {
        h += QStringLiteral("<h3>Memory plan</h3><table>") + row(tr("Context"), formatCount(plan_.contextTokens)) +
             row(tr("Weights"), formatBytes(plan_.weightsBytes)) + row(tr("Cache"), formatBytes(plan_.cacheBytes)) +
             row(tr("Engram"), formatBytes(plan_.engramBytes)) + row(tr("Scratch"), formatBytes(plan_.scratchBytes)) +
             row(tr("Total"), formatBytes(plan_.totalBytes)) +
             row(tr("Limit"), plan_.limitBytes ? QStringLiteral("%1 (%2)").arg(formatBytes(plan_.limitBytes), plan_.limitSource) : tr("none")) +
             row(tr("Verdict"), plan_.fits ? tr("fits") : tr("does not fit")) + QStringLiteral("</table>");
    }
    if (hasAnswer_) {
        h += QStringLiteral("<h3>Last answer</h3><table>") + row(tr("Prompt tokens"), formatCount(answer_.promptTokens)) +
             row(tr("Kept from the previous turn"), formatCount(answer_.tokensKept)) +
             row(tr("Reused from a snapshot"), formatCount(answer_.tokensReused)) +
             row(tr("Evaluated"), formatCount(answer_.tokensEvaluated)) +
             row(tr("Prefill"), QStringLiteral("%1, %2 tok/s").arg(seconds(answer_.prefillSeconds)).arg(answer_.prefillTokensPerSecond(), 0, 'f', 0)) +
             row(tr("Snapshot saved"), answer_.snapshotSaved ? tr("yes") : tr("no")) +
             row(tr("Time to first token"), seconds(answer_.timeToFirstTokenSeconds)) +
             row(tr("Generated"), QStringLiteral("%1 tokens (%2 drafted)").arg(formatCount(answer_.generatedTokens), formatCount(answer_.draftedTokens))) +
             row(tr("Decode"), QStringLiteral("%1, %2 tok/s").arg(seconds(answer_.decodeSeconds)).arg(answer_.decodeTokensPerSecond(), 0, 'f', 1)) +
             row(tr("Session size"), formatCount(answer_.contextTokens)) + QStringLiteral("</table>");
    }
    if (hasBench_) {
        h += QStringLiteral("<h3>Prefill benchmark</h3><table>") + row(tr("Tokens"), formatCount(bench_.tokensEvaluated)) +
             row(tr("Time"), seconds(bench_.prefillSeconds)) +
             row(tr("Speed"), QStringLiteral("%1 tok/s").arg(bench_.prefillTokensPerSecond(), 0, 'f', 0)) +
             row(tr("Result"), !bench_.error.isEmpty() ? bench_.error : bench_.cancelled ? tr("cancelled") : tr("done")) +
             QStringLiteral("</table>");
    }
    h += QStringLiteral("<h3>Not available yet</h3><p>");
    h += tr("Which files the sparse attention selected, the Engram hit rate, expert utilisation and drafting "
            "acceptance per answer need statistics the SDK does not expose yet.")
             .toHtmlEscaped();
    h += QStringLiteral("</p>");
    view_->setHtml(h);
}

}  // namespace mneme_chat
