// Which files the sparse attention read during the last answer: the codebase's folder tree with
// each file's and folder's share of the selections, shaded as a heat map, busiest first.
#pragma once

#include <QTreeWidget>

#include "engine_types.h"

namespace mneme_chat {

class FileHeatTree : public QTreeWidget {
    Q_OBJECT
  public:
    explicit FileHeatTree(QWidget* parent = nullptr);

    void setFiles(const QList<FileSelection>& list);
    const QList<FileSelection>& files() const { return files_; }
    // Files with at least one selection.
    int selectedFileCount() const;
    // The item of a file or folder ("src/main.cpp", "src"), or null.
    QTreeWidgetItem* itemForPath(const QString& path) const;

  private:
    QList<FileSelection> files_;
};

}  // namespace mneme_chat
