#include "prompt_edit.h"

#include <QKeyEvent>
#include <QMimeData>

namespace mneme_chat {

PromptEdit::PromptEdit(QWidget* parent) : QPlainTextEdit(parent) {
    setObjectName(QStringLiteral("promptEdit"));
    setPlaceholderText(tr("Ask about the codebase…  (Ctrl+Enter to send, Esc to stop)"));
    setTabChangesFocus(true);
}

bool PromptEdit::isLargePaste(const QString& text) {
    return text.size() > kMaxInlineChars || text.count(QLatin1Char('\n')) >= kMaxInlineLines;
}

void PromptEdit::keyPressEvent(QKeyEvent* event) {
    const bool enter = event->key() == Qt::Key_Return || event->key() == Qt::Key_Enter;
    if (enter && (event->modifiers() & Qt::ControlModifier)) {
        emit submitRequested();
        return;
    }
    QPlainTextEdit::keyPressEvent(event);
}

bool PromptEdit::canInsertFromMimeData(const QMimeData* source) const {
    return source->hasUrls() || QPlainTextEdit::canInsertFromMimeData(source);
}

void PromptEdit::insertFromMimeData(const QMimeData* source) {
    if (source->hasUrls()) {
        QList<QUrl> local;
        for (const QUrl& u : source->urls()) {
            if (u.isLocalFile()) local.append(u);
        }
        if (!local.isEmpty()) {
            emit pathsDropped(local);
            return;
        }
    }
    if (source->hasText() && isLargePaste(source->text())) {
        emit largePaste(source->text());
        return;
    }
    QPlainTextEdit::insertFromMimeData(source);
}

}  // namespace mneme_chat
