#include "attachment_bar.h"

#include <QHBoxLayout>
#include <QToolButton>

#include "context_budget.h"

namespace mneme_chat {

AttachmentBar::AttachmentBar(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("attachmentBar"));
    layout_ = new QHBoxLayout(this);
    layout_->setContentsMargins(0, 0, 0, 0);
    layout_->addStretch(1);
    setVisible(false);
}

void AttachmentBar::add(const Attachment& attachment) {
    items_.append(attachment);
    rebuild();
}

void AttachmentBar::clear() {
    items_.clear();
    rebuild();
}

qsizetype AttachmentBar::totalBytes() const {
    qsizetype n = 0;
    for (const Attachment& a : items_) n += a.text.toUtf8().size();
    return n;
}

QString AttachmentBar::asPromptText() const {
    QString out;
    for (const Attachment& a : items_) {
        out += QStringLiteral("%1:\n```\n%2\n```\n\n").arg(a.name, a.text);
    }
    return out;
}

void AttachmentBar::rebuild() {
    while (layout_->count() > 1) {
        QLayoutItem* item = layout_->takeAt(0);
        // deleteLater: this may run inside the clicked() of the chip being removed.
        item->widget()->deleteLater();
        delete item;
    }
    for (qsizetype i = 0; i < items_.size(); ++i) {
        const Attachment& a = items_[i];
        auto* chip = new QToolButton(this);
        chip->setObjectName(QStringLiteral("attachmentChip"));
        const qsizetype lines = a.text.count(QLatin1Char('\n')) + 1;
        chip->setText(tr("%1 · %2 lines · ≈%3 tokens  ✕")
                          .arg(a.name)
                          .arg(lines)
                          .arg(formatCount(ContextBudget::estimateTokens(a.text.toUtf8().size()))));
        chip->setToolTip(a.text.left(400));
        chip->setAutoRaise(false);
        connect(chip, &QToolButton::clicked, this, [this, i] {
            items_.removeAt(i);
            rebuild();
        });
        layout_->insertWidget(static_cast<int>(i), chip);
    }
    setVisible(!items_.isEmpty());
    emit changed();
}

}  // namespace mneme_chat
