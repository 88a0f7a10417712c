#include "diagnostics_panel.h"

#include <mneme/mneme.h>

#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSplitter>
#include <QTextBrowser>
#include <QTextDocument>
#include <QVBoxLayout>

#include "context_budget.h"
#include "expert_heatmap.h"
#include "file_heat_tree.h"

namespace mneme_chat {
namespace {

QString row(const QString& key, const QString& value) {
    return QStringLiteral("<tr><td style='padding-right:12px'>%1</td><td>%2</td></tr>").arg(key.toHtmlEscaped(), value.toHtmlEscaped());
}

QString seconds(double s) { return s < 0 ? QStringLiteral("–") : QStringLiteral("%1 s").arg(s, 0, 'f', 2); }

QString percent(double share) {
    return QStringLiteral("%1%").arg(100.0 * share, 0, 'f', 1);
}

}  // namespace

DiagnosticsPanel::DiagnosticsPanel(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("diagnosticsPanel"));
    auto* layout = new QVBoxLayout(this);
    auto* split = new QSplitter(Qt::Vertical, this);
    auto* answer = new QWidget(split);
    auto* answerLayout = new QVBoxLayout(answer);
    answerLayout->setContentsMargins(0, 0, 0, 0);
    summary_ = new QLabel(answer);
    summary_->setObjectName(QStringLiteral("answerSummary"));
    summary_->setWordWrap(true);
    summary_->setTextFormat(Qt::RichText);
    answerLayout->addWidget(summary_);
    files_ = new FileHeatTree(answer);
    answerLayout->addWidget(files_, 1);
    auto* expertsTitle = new QLabel(tr("<b>Expert utilisation per layer</b> (effective experts at the right)"), answer);
    answerLayout->addWidget(expertsTitle);
    experts_ = new ExpertHeatmap(answer);
    answerLayout->addWidget(experts_);
    view_ = new QTextBrowser(split);
    view_->setObjectName(QStringLiteral("diagnosticsText"));
    split->addWidget(answer);
    split->addWidget(view_);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    layout->addWidget(split, 1);
    auto* buttons = new QHBoxLayout;
    auto* bench = new QPushButton(tr("Benchmark prefill (2,048 tokens)"), this);
    bench->setToolTip(tr("Feeds synthetic tokens: works with any model, tokenizer or not."));
    buttons->addWidget(bench);
    buttons->addStretch();
    layout->addLayout(buttons);
    connect(bench, &QPushButton::clicked, this, [this] { emit benchmarkRequested(2048); });
    render();
    renderAnswer();
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
    renderAnswer();
}

void DiagnosticsPanel::setBenchmark(const AnswerStats& stats) {
    bench_ = stats;
    hasBench_ = true;
    render();
}

QString DiagnosticsPanel::text() const { return view_->toPlainText(); }

QString DiagnosticsPanel::answerText() const {
    QTextDocument doc;
    doc.setHtml(summary_->text());
    return doc.toPlainText();
}

void DiagnosticsPanel::renderAnswer() {
    const AnswerDiagnostics& d = answer_.diagnostics;
    QStringList lines;
    lines << tr("<b>Last answer</b>");
    if (!hasAnswer_ || !d.available) {
        lines << tr(
            "Ask a question: this shows which files the sparse attention read, the Engram cache hit rate, "
            "expert utilisation and the drafting acceptance of the answer.");
        summary_->setText(lines.join(QStringLiteral("<br>")));
        files_->setFiles({});
        experts_->setCounts(0, 0, {});
        return;
    }
    if (!d.indexerLayers) {
        lines << tr("Sparse attention: none (this architecture attends to every position).");
    } else if (!d.selectionsCollected) {
        lines << tr("Sparse attention: selections were not recorded for this answer.");
    } else {
        const double inCode = d.selectedPositions
                                  ? static_cast<double>(d.codebasePositions) / static_cast<double>(d.selectedPositions)
                                  : 0;
        lines << tr("Sparse attention: %1 selections (top-%2 in %3 indexer layers over %4 token positions); %5 of the "
                    "selected positions are in the codebase.")
                     .arg(formatCount(d.selections))
                     .arg(d.indexTopk)
                     .arg(d.indexerLayers)
                     .arg(formatCount(d.forwardedTokens), percent(inCode));
    }
    if (d.engramFromStore) {
        const double rate = d.engramHitRate();
        lines << tr("Engram cache: %1 hit rate (%2 hits, %3 misses, %4 read, %5 stalled).")
                     .arg(rate < 0 ? QStringLiteral("–") : percent(rate), formatCount(d.engramHits),
                          formatCount(d.engramMisses), formatBytes(d.engramBytesRead), seconds(d.engramStallSeconds));
    } else if (d.engramTableBytes) {
        lines << tr("Engram: its %1 of tables are held in memory (no store), so there is no cache to miss.")
                     .arg(formatBytes(d.engramTableBytes));
    } else {
        lines << tr("Engram: this model has no Engram layers.");
    }
    if (d.draftProposed) {
        lines << tr("Drafting: %1 of %2 drafted tokens accepted (%3); %4 of the answer came from drafts.")
                     .arg(formatCount(d.draftAccepted), formatCount(d.draftProposed), percent(d.draftAcceptance),
                          percent(d.draftedFraction));
    } else {
        lines << tr("Drafting: no drafts were proposed for this answer.");
    }
    QStringList escaped;
    for (qsizetype i = 0; i < lines.size(); ++i) escaped << (i == 0 ? lines[i] : lines[i].toHtmlEscaped());
    summary_->setText(escaped.join(QStringLiteral("<br>")));
    files_->setFiles(d.files);
    experts_->setCounts(d.layers, d.experts, d.expertCounts);
}

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
    view_->setHtml(h);
}

}  // namespace mneme_chat
