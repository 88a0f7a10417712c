// The context meter's arithmetic.
#include <QtTest>

#include "context_budget.h"

using mneme_chat::ContextBudget;

class ContextBudgetTest : public QObject {
    Q_OBJECT
private slots:
    void sumsEverySource() {
        ContextBudget b;
        b.capacity = 10000;
        b.codebaseTokens = 6000;
        b.conversationTokens = 1500;
        b.pendingTokens = 500;
        QCOMPARE(b.used(), quint64(8000));
        QCOMPARE(b.free(), quint64(2000));
        QCOMPARE(b.fraction(), 0.8);
        QCOMPARE(b.permille(), 800);
        QCOMPARE(b.level(), ContextBudget::Level::Ok);
        QVERIFY(b.advice().isEmpty());
        QVERIFY(b.text().contains(QStringLiteral("80%")));
    }
    void tightWhenTheAnswerReserveDoesNotFit() {
        ContextBudget b;
        b.capacity = 10000;
        b.answerReserve = 1024;
        b.codebaseTokens = 9000;
        QCOMPARE(b.level(), ContextBudget::Level::Tight);
        QVERIFY(b.advice().contains(QStringLiteral("left for the answer")));
    }
    void overflowSaysByHowMuch() {
        ContextBudget b;
        b.capacity = 1000;
        b.codebaseTokens = 1500;
        QCOMPARE(b.level(), ContextBudget::Level::Over);
        QCOMPARE(b.free(), quint64(0));
        QCOMPARE(b.permille(), 1000);  // the bar is clamped; the text is not
        QVERIFY(b.text().contains(QStringLiteral("150%")));
        QVERIFY(b.advice().contains(QStringLiteral("Exclude files")));
    }
    void unknownCapacity() {
        ContextBudget b;
        b.codebaseTokens = 42;
        QCOMPARE(b.fraction(), 0.0);
        QCOMPARE(b.level(), ContextBudget::Level::Ok);
        QVERIFY(b.text().startsWith(QStringLiteral("42")));
    }
    void estimatesRoundUp() {
        QCOMPARE(ContextBudget::estimateTokens(0), quint64(0));
        QCOMPARE(ContextBudget::estimateTokens(1), quint64(1));
        QCOMPARE(ContextBudget::estimateTokens(8), quint64(2));
        QCOMPARE(ContextBudget::estimateTokens(9), quint64(3));
    }
    void formatsBytes() {
        QCOMPARE(mneme_chat::formatBytes(512), QStringLiteral("512 B"));
        QCOMPARE(mneme_chat::formatBytes(3ull << 30), QStringLiteral("3.0 GiB"));
    }
};

QTEST_GUILESS_MAIN(ContextBudgetTest)
#include "tst_context_budget.moc"
