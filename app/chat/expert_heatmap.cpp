#include "expert_heatmap.h"

#include <QPainter>
#include <algorithm>
#include <cmath>

#include "heat_colour.h"

namespace mneme_chat {
namespace {

constexpr int k_row = 14;    // px per layer
constexpr int k_label = 34;  // "L12" column
constexpr int k_value = 46;  // effective experts column

}  // namespace

ExpertHeatmap::ExpertHeatmap(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("expertHeatmap"));
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
}

void ExpertHeatmap::setCounts(quint32 rows, quint32 columns, const QList<quint64>& counts) {
    layers_ = counts.size() == static_cast<qsizetype>(rows) * columns ? rows : 0;
    experts_ = columns;
    counts_ = counts;
    updateGeometry();
    update();
}

double ExpertHeatmap::effectiveExperts(quint32 layer) const {
    if (layer >= layers_ || experts_ == 0) return 0;
    const auto row = counts_.mid(static_cast<qsizetype>(layer) * experts_, experts_);
    double total = 0;
    for (quint64 c : row) total += static_cast<double>(c);
    if (total <= 0) return 0;
    double entropy = 0;
    for (quint64 c : row) {
        if (c) entropy -= static_cast<double>(c) / total * std::log(static_cast<double>(c) / total);
    }
    return std::exp(entropy);
}

QSize ExpertHeatmap::sizeHint() const {
    return {240, std::max<int>(1, static_cast<int>(layers_)) * k_row + 2};
}

void ExpertHeatmap::paintEvent(QPaintEvent*) {
    QPainter p(this);
    const QPalette& pal = palette();
    p.fillRect(rect(), pal.color(QPalette::Base));
    if (!layers_ || !experts_) {
        p.setPen(pal.color(QPalette::PlaceholderText));
        p.drawText(rect(), Qt::AlignCenter, tr("no routed experts"));
        return;
    }
    const double cell = std::max(1.0, static_cast<double>(width() - k_label - k_value) / experts_);
    for (quint32 l = 0; l < layers_; ++l) {
        const int y = static_cast<int>(l) * k_row + 1;
        p.setPen(pal.color(QPalette::Text));
        p.drawText(QRect(0, y, k_label - 4, k_row), Qt::AlignRight | Qt::AlignVCenter, QStringLiteral("L%1").arg(l));
        const auto row = counts_.mid(static_cast<qsizetype>(l) * experts_, experts_);
        const quint64 top = *std::max_element(row.begin(), row.end());
        if (top == 0) {
            p.setPen(pal.color(QPalette::PlaceholderText));
            p.drawText(QRect(k_label, y, width() - k_label, k_row), Qt::AlignLeft | Qt::AlignVCenter, tr("dense"));
            continue;
        }
        for (quint32 e = 0; e < experts_; ++e) {
            const QRectF r(k_label + e * cell, y, std::max(1.0, cell - (cell > 3 ? 1 : 0)), k_row - 2);
            p.fillRect(r, heatColour(pal, static_cast<double>(row[e]) / static_cast<double>(top)));
        }
        p.setPen(pal.color(QPalette::Text));
        p.drawText(QRect(width() - k_value, y, k_value, k_row), Qt::AlignRight | Qt::AlignVCenter,
                   QStringLiteral("%1/%2").arg(effectiveExperts(l), 0, 'f', 1).arg(experts_));
    }
}

}  // namespace mneme_chat
