#include "context_budget.h"

#include <QLocale>
#include <algorithm>

namespace mneme_chat {

ContextBudget::Level ContextBudget::level() const {
    if (!capacity) return Level::Ok;
    if (used() > capacity) return Level::Over;
    if (used() + answerReserve > capacity) return Level::Tight;
    return Level::Ok;
}

int ContextBudget::permille() const { return static_cast<int>(std::clamp(fraction() * 1000.0, 0.0, 1000.0)); }

QString ContextBudget::text() const {
    if (!capacity) return QStringLiteral("%1 tokens").arg(formatCount(used()));
    return QStringLiteral("%1 / %2 tokens (%3%)")
        .arg(formatCount(used()), formatCount(capacity))
        .arg(static_cast<int>(fraction() * 100.0 + 0.5));
}

QString ContextBudget::advice() const {
    switch (level()) {
        case Level::Over:
            return QStringLiteral("Does not fit: %1 tokens too many. Exclude files or raise the context size.")
                .arg(formatCount(used() - capacity));
        case Level::Tight:
            return QStringLiteral("Only %1 tokens left for the answer.").arg(formatCount(free()));
        case Level::Ok: break;
    }
    return {};
}

QString formatBytes(quint64 bytes) {
    const double b = static_cast<double>(bytes);
    if (b >= 1024.0 * 1024 * 1024) return QStringLiteral("%1 GiB").arg(b / (1024.0 * 1024 * 1024), 0, 'f', 1);
    if (b >= 1024.0 * 1024) return QStringLiteral("%1 MiB").arg(b / (1024.0 * 1024), 0, 'f', 1);
    if (b >= 1024.0) return QStringLiteral("%1 KiB").arg(b / 1024.0, 0, 'f', 0);
    return QStringLiteral("%1 B").arg(bytes);
}

QString formatCount(quint64 n) { return QLocale().toString(n); }

}  // namespace mneme_chat
