// Expert utilisation of the last answer: one compact row per layer, one cell per routed expert,
// shaded by how often the router chose it (relative to that layer's busiest expert), with the
// layer's effective number of experts at the right (exp of the routing entropy: n when the load
// is even, 1 when one expert takes every token).
#pragma once

#include <QList>
#include <QWidget>

namespace mneme_chat {

class ExpertHeatmap : public QWidget {
    Q_OBJECT
  public:
    explicit ExpertHeatmap(QWidget* parent = nullptr);

    // counts[layer * experts + expert]; rows that are all zero are dense layers.
    void setCounts(quint32 rows, quint32 columns, const QList<quint64>& counts);
    quint32 layers() const { return layers_; }
    // Effective experts of `layer` (0 for a dense layer).
    double effectiveExperts(quint32 layer) const;

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override { return sizeHint(); }

  protected:
    void paintEvent(QPaintEvent* event) override;

  private:
    quint32 layers_ = 0, experts_ = 0;
    QList<quint64> counts_;
};

}  // namespace mneme_chat
