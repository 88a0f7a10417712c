// The question box. A large paste does not go into the editor (where laying out megabytes of
// text would freeze typing); it is handed out as an attachment instead. Ctrl+Enter sends.
#pragma once

#include <QPlainTextEdit>
#include <QUrl>

namespace mneme_chat {

class PromptEdit : public QPlainTextEdit {
    Q_OBJECT
public:
    // Pastes longer than this many characters or lines become attachments.
    static constexpr qsizetype kMaxInlineChars = 2000;
    static constexpr qsizetype kMaxInlineLines = 30;

    explicit PromptEdit(QWidget* parent = nullptr);
    static bool isLargePaste(const QString& text);

signals:
    void submitRequested();
    void largePaste(QString text);
    void pathsDropped(QList<QUrl> urls);

protected:
    void keyPressEvent(QKeyEvent* event) override;
    bool canInsertFromMimeData(const QMimeData* source) const override;
    void insertFromMimeData(const QMimeData* source) override;
};

}  // namespace mneme_chat
