// One colour scale for every heat map of the diagnostics pane: from the palette's base colour
// (nothing) to a warm orange (the most), so light and dark themes both read at a glance.
#pragma once

#include <QColor>
#include <QPalette>

namespace mneme_chat {

// `level` in [0, 1].
inline QColor heatColour(const QPalette& palette, double level) {
    const QColor base = palette.color(QPalette::Base), hot(0xf0, 0x7a, 0x1c);
    const double t = level < 0 ? 0 : level > 1 ? 1 : level;
    return QColor::fromRgbF(static_cast<float>(base.redF() + (hot.redF() - base.redF()) * t),
                            static_cast<float>(base.greenF() + (hot.greenF() - base.greenF()) * t),
                            static_cast<float>(base.blueF() + (hot.blueF() - base.blueF()) * t));
}

}  // namespace mneme_chat
