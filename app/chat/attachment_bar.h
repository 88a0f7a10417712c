// The chips above the question box: pasted text and dropped files that go with the next
// question. Each chip shows its size and can be removed.
#pragma once

#include <QList>
#include <QWidget>

class QHBoxLayout;

namespace mneme_chat {

struct Attachment {
    QString name;  // "Pasted text" or the file name
    QString text;
};

class AttachmentBar : public QWidget {
    Q_OBJECT
public:
    explicit AttachmentBar(QWidget* parent = nullptr);

    void add(const Attachment& attachment);
    void clear();
    const QList<Attachment>& attachments() const { return items_; }
    qsizetype totalBytes() const;
    // The attachments as fenced blocks, placed before the question in the prompt.
    QString asPromptText() const;

signals:
    void changed();

private:
    void rebuild();

    QHBoxLayout* layout_;
    QList<Attachment> items_;
};

}  // namespace mneme_chat
