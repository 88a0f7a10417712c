// Turns an answer's Markdown into a styled QTextDocument: Qt's Markdown importer, then code
// blocks get a monospace font and a tinted background so they read as code.
#pragma once

#include <QColor>
#include <QStringList>

class QTextBlock;
class QTextDocument;

namespace mneme_chat {

// Replaces the document's content with `markdown` and styles its code blocks.
void renderMarkdown(QTextDocument* document, const QString& markdown, const QColor& codeBackground);

// True when the block came from a fenced or indented code block.
bool isCodeBlock(const QTextBlock& block);

// The bodies of the fenced code blocks of `markdown`, in order; an unterminated last fence (an
// answer still streaming, or stopped) counts too.
QStringList extractCodeBlocks(const QString& markdown);

}  // namespace mneme_chat
