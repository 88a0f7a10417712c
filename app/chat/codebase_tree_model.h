// The codebase as a tree of folders and files with per-file token counts and include
// checkboxes. Ticking a folder ticks its files; every change to a file is reported as
// includeChanged(sdkIndex, included) for the engine to apply with mneme_codebase_set_included.
#pragma once

#include <QStandardItemModel>

#include "engine_types.h"

namespace mneme_chat {

class CodebaseTreeModel : public QStandardItemModel {
    Q_OBJECT
public:
    enum Column { NameColumn = 0, TokensColumn = 1 };
    static constexpr int kFileIndexRole = Qt::UserRole + 1;  // SDK file index, -1 on folders
    static constexpr int kTokensRole = Qt::UserRole + 2;

    explicit CodebaseTreeModel(QObject* parent = nullptr);

    void setFiles(const QString& root, const QList<FileEntry>& files);
    QString root() const { return root_; }
    int fileCount() const { return static_cast<int>(files_.size()); }
    int includedFileCount() const;
    // Sum of the token counts of the ticked files (what the SDK reports, when in step).
    quint64 includedTokens() const;
    // The item of a file, by its '/'-separated relative path (nullptr when absent).
    QStandardItem* itemForPath(const QString& path) const;
    void setIncluded(const QString& path, bool included);

signals:
    void includeChanged(int fileIndex, bool included);

private:
    void onItemChanged(QStandardItem* item);
    void setSubtree(QStandardItem* item, Qt::CheckState state);
    void refreshFolder(QStandardItem* folder);
    void refreshAncestors(QStandardItem* item);
    QStandardItem* folderFor(const QString& dir);

    QString root_;
    QList<FileEntry> files_;
    QHash<QString, QStandardItem*> folders_;
    QHash<QString, QStandardItem*> fileItems_;
    bool updating_ = false;  // our own check-state edits are not user changes
};

}  // namespace mneme_chat
