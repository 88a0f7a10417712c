// Answer rendering: code blocks are found, styled monospace and copyable; a large paste turns
// into an attachment instead of landing in the editor.
#include <QtTest>

#include <QApplication>
#include <QClipboard>
#include <QPushButton>
#include <QTextBlock>
#include <QTextDocument>

#include "attachment_bar.h"
#include "markdown_render.h"
#include "message_view.h"
#include "prompt_edit.h"

using namespace mneme_chat;

class MarkdownRenderTest : public QObject {
    Q_OBJECT
private slots:
    void extractsFencedBlocks() {
        const QString md = QStringLiteral("Intro\n```cpp\nint a = 1;\n\nint b = 2;\n```\ntext\n~~~\nplain\n~~~\n");
        const QStringList blocks = extractCodeBlocks(md);
        QCOMPARE(blocks.size(), 2);
        QCOMPARE(blocks[0], QStringLiteral("int a = 1;\n\nint b = 2;"));
        QCOMPARE(blocks[1], QStringLiteral("plain"));
    }
    void keepsAnUnterminatedBlock() {
        // A stopped answer may end inside a code block: Copy code still gets it.
        QCOMPARE(extractCodeBlocks(QStringLiteral("```py\nprint(1)\n")), QStringList{QStringLiteral("print(1)")});
        QVERIFY(extractCodeBlocks(QStringLiteral("no code here")).isEmpty());
    }
    void stylesCodeBlocksMonospace() {
        QTextDocument doc;
        renderMarkdown(&doc, QStringLiteral("Some **bold** text\n\n```cpp\nint main() { return 0; }\n```\n"), Qt::lightGray);
        int codeBlocks = 0;
        for (QTextBlock b = doc.begin(); b.isValid(); b = b.next()) {
            if (!isCodeBlock(b)) continue;
            ++codeBlocks;
            QVERIFY(b.text().contains(QStringLiteral("int main")));
            QCOMPARE(b.blockFormat().background().color(), QColor(Qt::lightGray));
        }
        QCOMPARE(codeBlocks, 1);
        QVERIFY(doc.toPlainText().contains(QStringLiteral("bold")));
    }
    void messageViewCopiesCode() {
        MessageView view(QStringLiteral("assistant"), QStringLiteral("Use this:\n```\nls -la\n```\n"), false);
        QString copied;
        connect(&view, &MessageView::copyCodeRequested, this, [&](const QString& c) { copied = c; });
        auto* button = view.findChild<QPushButton*>();
        QVERIFY(button);
        button->click();
        QCOMPARE(copied, QStringLiteral("ls -la"));
        QCOMPARE(QApplication::clipboard()->text(), QStringLiteral("ls -la"));
    }
    void streamedTextIsRenderedOnFlush() {
        MessageView view(QStringLiteral("assistant"), QString(), false);
        view.appendText(QStringLiteral("Hello "));
        view.appendText(QStringLiteral("*world*"));
        view.flush();
        QCOMPARE(view.displayedText().trimmed(), QStringLiteral("Hello world"));
    }
    void largePasteBecomesAnAttachment() {
        PromptEdit edit;
        QString pasted;
        connect(&edit, &PromptEdit::largePaste, this, [&](const QString& t) { pasted = t; });
        QString big;
        for (int i = 0; i < 5000; ++i) big += QStringLiteral("line %1 of a long log\n").arg(i);
        QApplication::clipboard()->setText(big);
        QElapsedTimer clock;
        clock.start();
        edit.paste();
        QVERIFY(clock.elapsed() < 100);  // never lays the text out in the editor
        QCOMPARE(pasted, big);
        QVERIFY(edit.toPlainText().isEmpty());

        QApplication::clipboard()->setText(QStringLiteral("short"));
        edit.paste();
        QCOMPARE(edit.toPlainText(), QStringLiteral("short"));

        AttachmentBar bar;
        bar.add({QStringLiteral("Pasted text"), big});
        QCOMPARE(bar.attachments().size(), 1);
        QVERIFY(bar.asPromptText().startsWith(QStringLiteral("Pasted text:\n```\nline 0")));
        bar.clear();
        QVERIFY(bar.attachments().isEmpty());
    }
};

QTEST_MAIN(MarkdownRenderTest)
#include "tst_markdown_render.moc"
