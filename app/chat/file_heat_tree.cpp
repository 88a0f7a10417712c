#include "file_heat_tree.h"

#include <QHash>
#include <QHeaderView>
#include <algorithm>
#include <functional>
#include <vector>

#include "context_budget.h"
#include "heat_colour.h"

namespace mneme_chat {
namespace {

enum column { name_column, share_column, tokens_column };
constexpr int k_path_role = Qt::UserRole;
constexpr int k_count_role = Qt::UserRole + 1;

// Sorts by selections (stored in the item), then by name.
class HeatItem : public QTreeWidgetItem {
  public:
    using QTreeWidgetItem::QTreeWidgetItem;
    bool operator<(const QTreeWidgetItem& other) const override {
        const quint64 a = data(0, k_count_role).toULongLong(), b = other.data(0, k_count_role).toULongLong();
        if (a != b) return a < b;
        return text(name_column) > other.text(name_column);  // descending sort shows A before B
    }
};

}  // namespace

FileHeatTree::FileHeatTree(QWidget* parent) : QTreeWidget(parent) {
    setObjectName(QStringLiteral("fileHeatTree"));
    setColumnCount(3);
    setHeaderLabels({tr("File"), tr("Selected"), tr("Tokens")});
    header()->setSectionResizeMode(name_column, QHeaderView::Stretch);
    header()->setSectionResizeMode(share_column, QHeaderView::ResizeToContents);
    header()->setSectionResizeMode(tokens_column, QHeaderView::ResizeToContents);
    header()->setStretchLastSection(false);
    setUniformRowHeights(true);
    setSelectionMode(QAbstractItemView::NoSelection);
    setToolTip(tr("Share of the sparse attention's selections that fell on each file during the last answer"));
}

void FileHeatTree::setFiles(const QList<FileSelection>& list) {
    files_ = list;
    clear();
    quint64 total = 0;
    for (const FileSelection& f : files_) total += f.selections;
    // Folders first: every prefix of every path gets one item that sums its files.
    QHash<QString, QTreeWidgetItem*> folders;
    QHash<QTreeWidgetItem*, quint64> sums;
    std::function<QTreeWidgetItem*(const QString&)> folder = [&](const QString& path) -> QTreeWidgetItem* {
        if (path.isEmpty()) return nullptr;
        if (auto* it = folders.value(path)) return it;
        const qsizetype slash = path.lastIndexOf(QLatin1Char('/'));
        QTreeWidgetItem* parentItem = folder(slash < 0 ? QString() : path.left(slash));
        auto* item = parentItem ? new HeatItem(parentItem) : new HeatItem(this);
        item->setText(name_column, path.mid(slash + 1) + QLatin1Char('/'));
        item->setData(name_column, k_path_role, path);
        folders.insert(path, item);
        return item;
    };
    std::vector<std::pair<QTreeWidgetItem*, quint64>> leaves;
    for (const FileSelection& f : files_) {
        const qsizetype slash = f.path.lastIndexOf(QLatin1Char('/'));
        QTreeWidgetItem* parentItem = folder(slash < 0 ? QString() : f.path.left(slash));
        auto* item = parentItem ? new HeatItem(parentItem) : new HeatItem(this);
        item->setText(name_column, f.path.mid(slash + 1));
        item->setData(name_column, k_path_role, f.path);
        item->setText(tokens_column, formatCount(f.tokens));
        item->setTextAlignment(tokens_column, Qt::AlignRight | Qt::AlignVCenter);
        for (QTreeWidgetItem* up = item; up; up = up->parent()) sums[up] += f.selections;
        leaves.emplace_back(item, f.tokens);
    }
    // Folders sum their tokens too.
    QHash<QTreeWidgetItem*, quint64> tokens;
    for (const auto& [item, n] : leaves) {
        for (QTreeWidgetItem* up = item->parent(); up; up = up->parent()) tokens[up] += n;
    }
    quint64 hottest = 0;
    for (auto it = sums.cbegin(); it != sums.cend(); ++it) {
        if (it.key()->childCount() == 0) hottest = std::max(hottest, it.value());
    }
    for (auto it = sums.cbegin(); it != sums.cend(); ++it) {
        QTreeWidgetItem* item = it.key();
        const quint64 n = it.value();
        item->setData(name_column, k_count_role, n);
        item->setText(share_column, total ? QStringLiteral("%1%").arg(
                                                100.0 * static_cast<double>(n) / static_cast<double>(total), 0, 'f', 1)
                                          : QStringLiteral("–"));
        item->setTextAlignment(share_column, Qt::AlignRight | Qt::AlignVCenter);
        if (item->childCount()) item->setText(tokens_column, formatCount(tokens.value(item)));
        item->setTextAlignment(tokens_column, Qt::AlignRight | Qt::AlignVCenter);
        // Files are shaded against the hottest file; folders by their share, so a folder of many
        // lukewarm files still stands out.
        const double level = item->childCount() ? (total ? static_cast<double>(n) / static_cast<double>(total) : 0)
                                                : (hottest ? static_cast<double>(n) / static_cast<double>(hottest) : 0);
        const QColor c = heatColour(palette(), level);
        for (int col = 0; col < columnCount(); ++col) item->setBackground(col, c);
        item->setToolTip(
            name_column,
            tr("%1: %2 selected positions").arg(item->data(name_column, k_path_role).toString(), formatCount(n)));
    }
    // A flat folder needs no branch column.
    setRootIsDecorated(!folders.isEmpty());
    sortItems(name_column, Qt::DescendingOrder);
    expandAll();
}

int FileHeatTree::selectedFileCount() const {
    return static_cast<int>(
        std::count_if(files_.begin(), files_.end(), [](const FileSelection& f) { return f.selections > 0; }));
}

QTreeWidgetItem* FileHeatTree::itemForPath(const QString& path) const {
    QList<QTreeWidgetItem*> stack;
    for (int i = 0; i < topLevelItemCount(); ++i) stack.append(topLevelItem(i));
    while (!stack.isEmpty()) {
        QTreeWidgetItem* item = stack.takeLast();
        if (item->data(name_column, k_path_role).toString() == path) return item;
        for (int i = 0; i < item->childCount(); ++i) stack.append(item->child(i));
    }
    return nullptr;
}

}  // namespace mneme_chat
