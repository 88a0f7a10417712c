// One question or answer in the chat: its Markdown rendered with styled code, a line of
// statistics under answers, and a Copy code button when the text has code blocks.
#pragma once

#include <QFrame>
#include <QTimer>

class QLabel;
class QPushButton;
class QTextBrowser;

namespace mneme_chat {

class CodeHighlighter;

class MessageView : public QFrame {
    Q_OBJECT
public:
    MessageView(const QString& role, const QString& markdown, bool dark, QWidget* parent = nullptr);

    QString role() const { return role_; }
    QString markdown() const { return markdown_; }
    void setMarkdown(const QString& markdown);
    // Appends streamed text; the view re-renders at most every few frames.
    void appendText(const QString& text);
    void setStats(const QString& stats);
    QString stats() const;
    // Renders pending text now (end of an answer, before a screenshot).
    void flush();
    // The plain text as displayed (for tests).
    QString displayedText() const;

signals:
    void copyCodeRequested(QString code);

private:
    void render();
    void updateHeight();

    QString role_;
    QString markdown_;
    bool dark_;
    QTextBrowser* body_;
    QLabel* stats_;
    QPushButton* copyCode_;
    CodeHighlighter* highlighter_;
    QTimer renderTimer_;
};

}  // namespace mneme_chat
