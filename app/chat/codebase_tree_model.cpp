#include "codebase_tree_model.h"

#include <algorithm>

#include "context_budget.h"

namespace mneme_chat {

CodebaseTreeModel::CodebaseTreeModel(QObject* parent) : QStandardItemModel(parent) {
    setHorizontalHeaderLabels({tr("File"), tr("Tokens")});
    connect(this, &QStandardItemModel::itemChanged, this, &CodebaseTreeModel::onItemChanged);
}

QStandardItem* CodebaseTreeModel::folderFor(const QString& dir) {
    if (dir.isEmpty()) return invisibleRootItem();
    if (QStandardItem* f = folders_.value(dir)) return f;
    const qsizetype slash = dir.lastIndexOf(QLatin1Char('/'));
    QStandardItem* parentItem = folderFor(slash < 0 ? QString() : dir.left(slash));
    auto* item = new QStandardItem(dir.mid(slash + 1) + QLatin1Char('/'));
    item->setCheckable(true);
    item->setEditable(false);
    item->setData(-1, kFileIndexRole);
    auto* tokens = new QStandardItem;
    tokens->setEditable(false);
    tokens->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    parentItem->appendRow({item, tokens});
    folders_.insert(dir, item);
    return item;
}

void CodebaseTreeModel::setFiles(const QString& root, const QList<FileEntry>& files) {
    updating_ = true;
    removeRows(0, rowCount());
    folders_.clear();
    fileItems_.clear();
    root_ = root;
    files_ = files;
    // The SDK lists files in rendering order (recent last); the tree reads better sorted by path.
    QList<FileEntry> sorted = files;
    std::sort(sorted.begin(), sorted.end(), [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
    for (const FileEntry& f : sorted) {
        const qsizetype slash = f.path.lastIndexOf(QLatin1Char('/'));
        QStandardItem* parentItem = folderFor(slash < 0 ? QString() : f.path.left(slash));
        auto* item = new QStandardItem(f.path.mid(slash + 1));
        item->setEditable(false);
        item->setData(f.index, kFileIndexRole);
        item->setData(static_cast<qulonglong>(f.tokens), kTokensRole);
        item->setCheckable(f.includable);
        item->setCheckState(f.included ? Qt::Checked : Qt::Unchecked);
        if (!f.includable) item->setEnabled(false);
        item->setToolTip(f.reason.isEmpty() ? tr("%1, %2").arg(f.path, formatBytes(f.bytes))
                                            : tr("%1: %2").arg(f.path, f.reason));
        auto* tokens = new QStandardItem(f.includable ? formatCount(f.tokens) : f.reason);
        tokens->setEditable(false);
        tokens->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        tokens->setEnabled(f.includable);
        parentItem->appendRow({item, tokens});
        fileItems_.insert(f.path, item);
    }
    // Deepest folders first, so each folder sums children that are already settled.
    QStringList dirs = folders_.keys();
    std::sort(dirs.begin(), dirs.end(), [](const QString& a, const QString& b) {
        return a.count(QLatin1Char('/')) > b.count(QLatin1Char('/'));
    });
    for (const QString& d : dirs) refreshFolder(folders_.value(d));
    updating_ = false;
}

int CodebaseTreeModel::includedFileCount() const {
    int n = 0;
    for (QStandardItem* item : fileItems_) n += item->isCheckable() && item->checkState() == Qt::Checked;
    return n;
}

quint64 CodebaseTreeModel::includedTokens() const {
    quint64 n = 0;
    for (QStandardItem* item : fileItems_) {
        if (item->isCheckable() && item->checkState() == Qt::Checked) n += item->data(kTokensRole).toULongLong();
    }
    return n;
}

QStandardItem* CodebaseTreeModel::itemForPath(const QString& path) const { return fileItems_.value(path); }

void CodebaseTreeModel::setIncluded(const QString& path, bool included) {
    if (QStandardItem* item = itemForPath(path)) item->setCheckState(included ? Qt::Checked : Qt::Unchecked);
}

void CodebaseTreeModel::onItemChanged(QStandardItem* item) {
    if (updating_ || item->column() != NameColumn || !item->isCheckable()) return;
    updating_ = true;
    const int index = item->data(kFileIndexRole).toInt();
    if (index < 0) {
        // A folder: a partial state from a click means "tick everything".
        const Qt::CheckState state = item->checkState() == Qt::Unchecked ? Qt::Unchecked : Qt::Checked;
        item->setCheckState(state);
        setSubtree(item, state);
    } else {
        emit includeChanged(index, item->checkState() == Qt::Checked);
    }
    refreshAncestors(item);
    updating_ = false;
}

void CodebaseTreeModel::setSubtree(QStandardItem* item, Qt::CheckState state) {
    for (int r = 0; r < item->rowCount(); ++r) {
        QStandardItem* child = item->child(r, NameColumn);
        if (!child->isCheckable()) continue;
        const int index = child->data(kFileIndexRole).toInt();
        if (index < 0) {
            child->setCheckState(state);
            setSubtree(child, state);
            refreshFolder(child);
        } else if (child->checkState() != state) {
            child->setCheckState(state);
            emit includeChanged(index, state == Qt::Checked);
        }
    }
}

void CodebaseTreeModel::refreshFolder(QStandardItem* folder) {
    int checked = 0, unchecked = 0;
    quint64 tokens = 0;
    for (int r = 0; r < folder->rowCount(); ++r) {
        QStandardItem* child = folder->child(r, NameColumn);
        if (!child->isCheckable()) continue;
        switch (child->checkState()) {
            case Qt::Checked: ++checked; break;
            case Qt::Unchecked: ++unchecked; break;
            case Qt::PartiallyChecked: ++checked, ++unchecked; break;
        }
        const bool isFolder = child->data(kFileIndexRole).toInt() < 0;
        if (isFolder || child->checkState() == Qt::Checked) tokens += child->data(kTokensRole).toULongLong();
    }
    folder->setCheckState(checked && unchecked ? Qt::PartiallyChecked : checked ? Qt::Checked : Qt::Unchecked);
    folder->setData(static_cast<qulonglong>(tokens), kTokensRole);
    QStandardItem* parentItem = folder->parent() ? folder->parent() : invisibleRootItem();
    if (QStandardItem* t = parentItem->child(folder->row(), TokensColumn)) t->setText(formatCount(tokens));
}

void CodebaseTreeModel::refreshAncestors(QStandardItem* item) {
    for (QStandardItem* p = item->data(kFileIndexRole).toInt() < 0 ? item : item->parent(); p; p = p->parent()) {
        refreshFolder(p);
    }
}

}  // namespace mneme_chat
