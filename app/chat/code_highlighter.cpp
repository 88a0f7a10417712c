#include "code_highlighter.h"

#include <QRegularExpression>
#include <QTextBlock>

#include "markdown_render.h"

namespace mneme_chat {

CodeHighlighter::CodeHighlighter(QTextDocument* document, bool dark) : QSyntaxHighlighter(document) {
    keyword_.setForeground(dark ? QColor(0xc6, 0x92, 0xf0) : QColor(0x7a, 0x1f, 0xa2));
    keyword_.setFontWeight(QFont::DemiBold);
    string_.setForeground(dark ? QColor(0xa5, 0xd6, 0x7f) : QColor(0x2e, 0x7d, 0x32));
    number_.setForeground(dark ? QColor(0xf7, 0x8c, 0x6c) : QColor(0xbf, 0x36, 0x0c));
    comment_.setForeground(dark ? QColor(0x8a, 0x93, 0x9e) : QColor(0x75, 0x75, 0x75));
    comment_.setFontItalic(true);
}

void CodeHighlighter::highlightBlock(const QString& text) {
    if (!isCodeBlock(currentBlock())) return;
    static const QRegularExpression keywords(QStringLiteral(
        "\\b(auto|bool|break|case|catch|char|class|const|constexpr|continue|def|default|delete|do|double|elif|else|"
        "enum|explicit|export|extern|false|fn|float|for|from|func|function|if|impl|import|in|include|inline|int|"
        "interface|let|long|match|mut|namespace|new|nullptr|None|not|operator|or|and|override|package|private|"
        "protected|pub|public|return|self|short|signed|sizeof|static|struct|switch|template|this|throw|true|True|"
        "False|try|type|typedef|typename|union|unsigned|use|using|var|virtual|void|volatile|while|with|yield)\\b"));
    static const QRegularExpression numbers(QStringLiteral("\\b(0x[0-9a-fA-F]+|\\d+(\\.\\d+)?([eE][-+]?\\d+)?)\\b"));
    static const QRegularExpression strings(QStringLiteral("\"(\\\\.|[^\"\\\\])*\"|'(\\\\.|[^'\\\\])*'"));
    static const QRegularExpression comments(QStringLiteral("(//|#(?!include)|--\\s).*$"));

    auto apply = [&](const QRegularExpression& re, const QTextCharFormat& fmt) {
        for (auto it = re.globalMatch(text); it.hasNext();) {
            const QRegularExpressionMatch m = it.next();
            setFormat(static_cast<int>(m.capturedStart()), static_cast<int>(m.capturedLength()), fmt);
        }
    };
    apply(keywords, keyword_);
    apply(numbers, number_);
    apply(strings, string_);
    // A comment marker inside a string is not a comment: only colour markers outside strings.
    for (auto it = comments.globalMatch(text); it.hasNext();) {
        const QRegularExpressionMatch m = it.next();
        const int start = static_cast<int>(m.capturedStart());
        if (format(start) == string_) continue;
        setFormat(start, static_cast<int>(text.size()) - start, comment_);
        break;
    }
}

}  // namespace mneme_chat
