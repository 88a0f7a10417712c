#include "markdown_render.h"

#include <QFontDatabase>
#include <QRegularExpression>
#include <QTextBlock>
#include <QTextCursor>
#include <QTextDocument>

namespace mneme_chat {

bool isCodeBlock(const QTextBlock& block) {
    const QTextBlockFormat f = block.blockFormat();
    return f.hasProperty(QTextFormat::BlockCodeFence) || f.hasProperty(QTextFormat::BlockCodeLanguage) ||
           block.charFormat().fontFixedPitch();
}

void renderMarkdown(QTextDocument* document, const QString& markdown, const QColor& codeBackground) {
    document->setMarkdown(markdown, QTextDocument::MarkdownDialectGitHub);
    const QFont mono = QFontDatabase::systemFont(QFontDatabase::FixedFont);
    QTextCursor cursor(document);
    cursor.beginEditBlock();
    for (QTextBlock b = document->begin(); b.isValid(); b = b.next()) {
        if (!isCodeBlock(b)) continue;
        QTextBlockFormat bf;
        bf.setBackground(codeBackground);
        bf.setLeftMargin(8);
        bf.setRightMargin(8);
        cursor.setPosition(b.position());
        cursor.mergeBlockFormat(bf);
        cursor.setPosition(b.position() + b.length() - 1, QTextCursor::KeepAnchor);
        QTextCharFormat cf;
        cf.setFontFamilies({mono.family()});
        cf.setFontFixedPitch(true);
        cursor.mergeCharFormat(cf);
    }
    cursor.endEditBlock();
}

QStringList extractCodeBlocks(const QString& markdown) {
    static const QRegularExpression fence(QStringLiteral("^\\s{0,3}(```+|~~~+)"));
    QStringList blocks;
    QStringList current;  // lines of the open block
    QString openFence;    // "" when outside a block
    for (const QString& line : markdown.split(QLatin1Char('\n'))) {
        const QRegularExpressionMatch m = fence.match(line);
        if (openFence.isEmpty()) {
            if (m.hasMatch()) {
                openFence = m.captured(1);
                current.clear();
            }
        } else if (m.hasMatch() && m.captured(1).startsWith(openFence) && line.trimmed() == m.captured(1)) {
            blocks.append(current.join(QLatin1Char('\n')));
            openFence.clear();
        } else {
            current.append(line);
        }
    }
    while (!current.isEmpty() && current.last().trimmed().isEmpty()) current.removeLast();
    if (!openFence.isEmpty() && !current.isEmpty()) blocks.append(current.join(QLatin1Char('\n')));
    return blocks;
}

}  // namespace mneme_chat
