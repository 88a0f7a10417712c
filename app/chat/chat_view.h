// The conversation as a scrolling column of MessageViews. Streaming text goes to the last
// answer only, so a long conversation is not re-rendered for every token.
#pragma once

#include <QScrollArea>

#include "conversation.h"

class QVBoxLayout;
class QLabel;

namespace mneme_chat {

class MessageView;

class ChatView : public QScrollArea {
    Q_OBJECT
public:
    explicit ChatView(QWidget* parent = nullptr);

    void setDark(bool dark) { dark_ = dark; }
    void clear();
    void showConversation(const QList<Message>& messages);
    MessageView* addMessage(const QString& role, const QString& markdown, const QString& stats = {});
    // Appends to the last message (the answer being streamed).
    void appendToLast(const QString& text);
    void setLastStats(const QString& stats);
    void removeLast();
    MessageView* last() const;
    int count() const;
    void flush();
    // Shows a notice (an error or a hint) under the messages; "" hides it.
    void setNotice(const QString& text);
    QString notice() const;

private:
    void scrollToBottomIfFollowing(bool wasAtBottom);
    bool atBottom() const;

    QWidget* column_;
    QVBoxLayout* layout_;
    QLabel* notice_;
    QList<MessageView*> messages_;
    bool dark_ = false;
};

}  // namespace mneme_chat
