// Light and dark themes: the Fusion style with a palette, so every widget follows.
#pragma once

class QApplication;

namespace mneme_chat {

void applyTheme(QApplication& app, bool dark);

}  // namespace mneme_chat
