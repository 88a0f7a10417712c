#include "message_view.h"

#include <QAbstractTextDocumentLayout>
#include <QApplication>
#include <QClipboard>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QTextBrowser>
#include <QVBoxLayout>
#include <algorithm>

#include "code_highlighter.h"
#include "markdown_render.h"

namespace mneme_chat {

MessageView::MessageView(const QString& role, const QString& markdown, bool dark, QWidget* parent)
    : QFrame(parent), role_(role), dark_(dark) {
    setObjectName(role == QLatin1String("user") ? QStringLiteral("userMessage") : QStringLiteral("assistantMessage"));
    setFrameShape(QFrame::StyledPanel);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(10, 6, 10, 6);
    layout->setSpacing(2);

    auto* header = new QHBoxLayout;
    auto* who = new QLabel(role == QLatin1String("user") ? tr("You") : tr("Mneme"), this);
    QFont bold = who->font();
    bold.setBold(true);
    who->setFont(bold);
    header->addWidget(who);
    header->addStretch();
    copyCode_ = new QPushButton(tr("Copy code"), this);
    copyCode_->setFlat(true);
    copyCode_->setToolTip(tr("Copy the code blocks of this message"));
    copyCode_->setVisible(false);
    header->addWidget(copyCode_);
    layout->addLayout(header);

    body_ = new QTextBrowser(this);
    body_->setOpenExternalLinks(true);
    body_->setFrameShape(QFrame::NoFrame);
    body_->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    body_->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    body_->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
    body_->viewport()->setAutoFillBackground(false);
    highlighter_ = new CodeHighlighter(body_->document(), dark);
    layout->addWidget(body_);

    stats_ = new QLabel(this);
    stats_->setObjectName(QStringLiteral("answerStats"));
    stats_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    QFont small = stats_->font();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    stats_->setFont(small);
    stats_->setVisible(false);
    layout->addWidget(stats_);

    connect(body_->document()->documentLayout(), &QAbstractTextDocumentLayout::documentSizeChanged, this,
            [this] { updateHeight(); });
    connect(copyCode_, &QPushButton::clicked, this, [this] {
        const QString code = extractCodeBlocks(markdown_).join(QStringLiteral("\n\n"));
        QApplication::clipboard()->setText(code);
        emit copyCodeRequested(code);
    });
    renderTimer_.setSingleShot(true);
    renderTimer_.setInterval(60);
    connect(&renderTimer_, &QTimer::timeout, this, [this] { render(); });
    setMarkdown(markdown);
}

void MessageView::setMarkdown(const QString& markdown) {
    markdown_ = markdown;
    render();
}

void MessageView::appendText(const QString& text) {
    markdown_ += text;
    if (!renderTimer_.isActive()) renderTimer_.start();
}

void MessageView::flush() {
    if (renderTimer_.isActive()) {
        renderTimer_.stop();
        render();
    }
}

void MessageView::render() {
    const QColor codeBg = dark_ ? QColor(0x26, 0x2a, 0x31) : QColor(0xf1, 0xf3, 0xf5);
    renderMarkdown(body_->document(), markdown_, codeBg);
    copyCode_->setVisible(!extractCodeBlocks(markdown_).isEmpty());
    updateHeight();
}

void MessageView::updateHeight() {
    const int h = static_cast<int>(body_->document()->size().height()) + 4;
    if (body_->height() != h) body_->setFixedHeight(std::max(h, body_->fontMetrics().height() + 4));
}

void MessageView::setStats(const QString& stats) {
    stats_->setText(stats);
    stats_->setVisible(!stats.isEmpty());
}

QString MessageView::stats() const { return stats_->text(); }

QString MessageView::displayedText() const { return body_->document()->toPlainText(); }

}  // namespace mneme_chat
