#include "chat_view.h"

#include <QLabel>
#include <QScrollBar>
#include <QTimer>
#include <QVBoxLayout>

#include "message_view.h"

namespace mneme_chat {

ChatView::ChatView(QWidget* parent) : QScrollArea(parent) {
    setObjectName(QStringLiteral("chatView"));
    setWidgetResizable(true);
    setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    column_ = new QWidget(this);
    layout_ = new QVBoxLayout(column_);
    layout_->setContentsMargins(12, 12, 12, 12);
    layout_->setSpacing(10);
    notice_ = new QLabel(column_);
    notice_->setObjectName(QStringLiteral("chatNotice"));
    notice_->setWordWrap(true);
    notice_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    notice_->setVisible(false);
    layout_->addWidget(notice_);
    layout_->addStretch(1);
    setWidget(column_);
}

bool ChatView::atBottom() const { return verticalScrollBar()->value() >= verticalScrollBar()->maximum() - 8; }

void ChatView::scrollToBottomIfFollowing(bool wasAtBottom) {
    if (!wasAtBottom) return;  // the user scrolled up to read: leave them there
    QTimer::singleShot(0, this, [this] { verticalScrollBar()->setValue(verticalScrollBar()->maximum()); });
}

void ChatView::clear() {
    for (MessageView* m : messages_) m->deleteLater();
    messages_.clear();
    setNotice({});
}

void ChatView::showConversation(const QList<Message>& messages) {
    clear();
    for (const Message& m : messages) addMessage(m.role, m.content, m.stats);
}

MessageView* ChatView::addMessage(const QString& role, const QString& markdown, const QString& stats) {
    const bool follow = atBottom();
    auto* view = new MessageView(role, markdown, dark_, column_);
    view->setStats(stats);
    // Messages go above the notice and the stretch.
    layout_->insertWidget(static_cast<int>(messages_.size()), view);
    messages_.append(view);
    scrollToBottomIfFollowing(follow);
    return view;
}

void ChatView::appendToLast(const QString& text) {
    if (messages_.isEmpty()) return;
    const bool follow = atBottom();
    messages_.last()->appendText(text);
    scrollToBottomIfFollowing(follow);
}

void ChatView::setLastStats(const QString& stats) {
    if (!messages_.isEmpty()) messages_.last()->setStats(stats);
}

void ChatView::removeLast() {
    if (messages_.isEmpty()) return;
    messages_.takeLast()->deleteLater();
}

MessageView* ChatView::last() const { return messages_.isEmpty() ? nullptr : messages_.last(); }

int ChatView::count() const { return static_cast<int>(messages_.size()); }

void ChatView::flush() {
    for (MessageView* m : messages_) m->flush();
}

void ChatView::setNotice(const QString& text) {
    notice_->setText(text);
    notice_->setVisible(!text.isEmpty());
    if (!text.isEmpty()) scrollToBottomIfFollowing(true);
}

QString ChatView::notice() const { return notice_->text(); }

}  // namespace mneme_chat
