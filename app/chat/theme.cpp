#include "theme.h"

#include <QApplication>
#include <QPalette>
#include <QStyle>
#include <QStyleFactory>

namespace mneme_chat {

void applyTheme(QApplication& app, bool dark) {
    app.setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
    QPalette p;
    if (dark) {
        const QColor window(0x1f, 0x22, 0x27), base(0x17, 0x19, 0x1d), text(0xe6, 0xe8, 0xeb);
        p.setColor(QPalette::Window, window);
        p.setColor(QPalette::WindowText, text);
        p.setColor(QPalette::Base, base);
        p.setColor(QPalette::AlternateBase, window);
        p.setColor(QPalette::Text, text);
        p.setColor(QPalette::Button, QColor(0x2b, 0x2f, 0x36));
        p.setColor(QPalette::ButtonText, text);
        p.setColor(QPalette::ToolTipBase, base);
        p.setColor(QPalette::ToolTipText, text);
        p.setColor(QPalette::PlaceholderText, QColor(0x8a, 0x93, 0x9e));
        p.setColor(QPalette::Highlight, QColor(0x3d, 0x7e, 0xd6));
        p.setColor(QPalette::HighlightedText, Qt::white);
        p.setColor(QPalette::Link, QColor(0x6c, 0xb6, 0xff));
        p.setColor(QPalette::Disabled, QPalette::Text, QColor(0x6b, 0x72, 0x7b));
        p.setColor(QPalette::Disabled, QPalette::WindowText, QColor(0x6b, 0x72, 0x7b));
        p.setColor(QPalette::Disabled, QPalette::ButtonText, QColor(0x6b, 0x72, 0x7b));
    } else {
        p = app.style()->standardPalette();
        p.setColor(QPalette::Highlight, QColor(0x2f, 0x6f, 0xd0));
    }
    app.setPalette(p);
    const char* bubble = dark ? "#262a31" : "#eef3fb";
    app.setStyleSheet(QStringLiteral("QFrame#userMessage { background: %1; border-radius: 6px; }"
                                     "QFrame#assistantMessage { border: none; }"
                                     "QToolButton#attachmentChip { border-radius: 10px; padding: 2px 8px; }")
                          .arg(QLatin1String(bubble)));
}

}  // namespace mneme_chat
