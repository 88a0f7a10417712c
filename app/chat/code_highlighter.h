// Simple syntax colouring for code blocks inside an answer: keywords, strings, numbers and
// comments of the C family, Python, Rust, Go and shell. Good enough to read code at a glance;
// no grammar, so it never stalls on a long answer.
#pragma once

#include <QSyntaxHighlighter>
#include <QTextCharFormat>

namespace mneme_chat {

class CodeHighlighter : public QSyntaxHighlighter {
    Q_OBJECT
public:
    CodeHighlighter(QTextDocument* document, bool dark);

protected:
    void highlightBlock(const QString& text) override;

private:
    QTextCharFormat keyword_;
    QTextCharFormat string_;
    QTextCharFormat number_;
    QTextCharFormat comment_;
};

}  // namespace mneme_chat
