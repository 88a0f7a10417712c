// The engine thread: ingestion through the SDK, prefill cancel, the GUI staying responsive
// during a long prefill, and (with a chat model present) a streamed answer.
#include <QtTest>

#include <QSignalSpy>
#include <QTemporaryDir>

#include "engine_thread.h"
#include "test_support.h"

using namespace mneme_chat;

namespace {

// Waits until `spy` holds one more signal than when called... or already holds one: signals from
// the worker thread are recorded there directly and may arrive before the wait begins.
bool waitForSignal(QSignalSpy& spy, int ms, qsizetype atLeast = 1) {
    return QTest::qWaitFor([&] { return spy.size() >= atLeast; }, ms);
}

EngineConfig testConfig(quint32 contextTokens = 8192) {
    EngineConfig c;
    c.threads = 1;  // the test machine is shared; one worker thread keeps timings honest
    c.contextTokens = contextTokens;
    return c;
}

// Starts the runtime and opens `model`; returns the summary.
ModelSummary openModel(EngineThread& engine, const QString& model, quint32 contextTokens = 8192) {
    QSignalSpy ready(engine.worker(), &EngineWorker::modelReady);
    QSignalSpy failed(engine.worker(), &EngineWorker::failed);
    const EngineConfig config = testConfig(contextTokens);
    engine.post([w = engine.worker(), config] { w->configure(config); });
    engine.post([w = engine.worker(), model] { w->openModel(model); });
    if (!waitForSignal(ready, 30000)) {
        qWarning() << "open failed:" << (failed.isEmpty() ? QVariantList() : failed.first());
        return {};
    }
    return ready.first().first().value<ModelSummary>();
}

}  // namespace

class EngineWorkerTest : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { registerEngineTypes(); }

    void reportsPluginsAndPlan() {
        EngineThread engine;
        QSignalSpy runtime(engine.worker(), &EngineWorker::runtimeReady);
        QSignalSpy plan(engine.worker(), &EngineWorker::planReady);
        const ModelSummary m = openModel(engine, mneme_chat_test::goldenModel(QStringLiteral("v32-tiny")));
        QCOMPARE(m.architecture, QStringLiteral("deepseek_v32"));
        QVERIFY(!m.hasTokenizer);
        QCOMPARE(runtime.size(), 1);
        const auto plugins = runtime.first().first().value<QList<PluginRow>>();
        bool cpu = false;
        for (const PluginRow& p : plugins) cpu = cpu || (p.name == QLatin1String("cpu") && p.usable);
        QVERIFY(cpu);
        QVERIFY(waitForSignal(plan, 5000));
        const PlanSummary p = plan.first().first().value<PlanSummary>();
        QCOMPARE(p.contextTokens, quint64(8192));
        QVERIFY(p.totalBytes >= p.weightsBytes);
        QVERIFY(p.weightsBytes > 0);
    }

    void ingestsACodebase() {
        QTemporaryDir dir;
        mneme_chat_test::writeSampleCodebase(dir);
        EngineThread engine;
        const QString chat = mneme_chat_test::chatModel();
        openModel(engine, chat.isEmpty() ? mneme_chat_test::goldenModel(QStringLiteral("v32-tiny")) : chat);
        QSignalSpy scanned(engine.worker(), &EngineWorker::codebaseReady);
        const QString root = dir.path();
        engine.post([w = engine.worker(), root] { w->scanCodebase(root); });
        QVERIFY(waitForSignal(scanned, 20000));
        const auto files = scanned.first().at(1).value<QList<FileEntry>>();
        QStringList paths;
        int mainIndex = -1;
        for (const FileEntry& f : files) {
            paths << f.path;
            if (f.path == QLatin1String("src/main.cpp")) {
                QVERIFY(f.included);
                mainIndex = f.index;
            }
            if (f.path == QLatin1String("assets/logo.bin")) QVERIFY(!f.included && !f.includable && !f.reason.isEmpty());
        }
        QVERIFY2(paths.contains(QStringLiteral("src/util.h")), qPrintable(paths.join(u',')));
        QVERIFY(!paths.contains(QStringLiteral("build/out.txt")));  // .gitignore honoured
        QVERIFY(mainIndex >= 0);

        const quint64 before = scanned.first().at(2).toULongLong();
        QSignalSpy tokens(engine.worker(), &EngineWorker::codebaseTokensChanged);
        engine.post([w = engine.worker(), mainIndex] { w->setFileIncluded(mainIndex, false); });
        QVERIFY(waitForSignal(tokens, 5000));
        const quint64 after = tokens.first().first().toULongLong();
        if (chat.isEmpty()) {
            QCOMPARE(after, before);  // no tokenizer: no counts, but the call round-trips
        } else {
            QVERIFY(before > 0);
            QVERIFY(after < before);
        }
    }

    void cancelStopsAPrefill() {
        EngineThread engine;
        const ModelSummary m = openModel(engine, mneme_chat_test::goldenModel(QStringLiteral("v32-tiny")));
        QVERIFY(m.vocabSize > 0);
        QSignalSpy progress(engine.worker(), &EngineWorker::progress);
        QSignalSpy done(engine.worker(), &EngineWorker::benchFinished);
        const int n = 8000;
        engine.post([w = engine.worker(), n] { w->benchPrefill(n); });
        QVERIFY(waitForSignal(progress, 20000));
        engine.worker()->requestCancel();
        QVERIFY(waitForSignal(done, 20000));
        const AnswerStats s = done.first().first().value<AnswerStats>();
        QVERIFY2(s.cancelled, qPrintable(s.error));
        QVERIFY(s.contextTokens < quint64(n));
        // The session stays usable: a short prefill afterwards completes.
        engine.post([w = engine.worker()] { w->benchPrefill(64); });
        QVERIFY(waitForSignal(done, 20000, 2));
        const AnswerStats again = done.last().first().value<AnswerStats>();
        QVERIFY(!again.cancelled);
        QCOMPARE(again.contextTokens, quint64(64));
    }

    void guiStaysResponsiveDuringAPrefill() {
        EngineThread engine;
        openModel(engine, mneme_chat_test::goldenModel(QStringLiteral("v32-tiny")), 32768);
        QSignalSpy done(engine.worker(), &EngineWorker::benchFinished);
        QElapsedTimer clock;
        qint64 last = 0, worstGap = 0;
        int ticks = 0;
        QTimer probe;
        probe.setInterval(5);
        connect(&probe, &QTimer::timeout, this, [&] {
            const qint64 now = clock.elapsed();
            worstGap = std::max(worstGap, now - last);
            last = now;
            ++ticks;
        });
        clock.start();
        probe.start();
        // A prefill long enough for the probe to mean something (> 0.2 s): the tokens double until
        // one is, since how long 3000 take depends on the machine and the build.
        AnswerStats s;
        for (int tokens = 3000; tokens <= 24000; tokens *= 2) {
            last = clock.elapsed();
            worstGap = 0;
            ticks = 0;
            done.clear();
            engine.post([w = engine.worker(), tokens] { w->benchPrefill(tokens); });
            QVERIFY(waitForSignal(done, 60000));
            s = done.first().first().value<AnswerStats>();
            QVERIFY2(s.error.isEmpty(), qPrintable(s.error));
            if (s.prefillSeconds > 0.2) break;
        }
        probe.stop();
        qInfo("prefill %llu tokens in %.2f s; %d ticks, worst event-loop gap %lld ms",
              static_cast<unsigned long long>(s.tokensEvaluated), s.prefillSeconds, ticks, worstGap);
        QVERIFY(s.prefillSeconds > 0.2);
        QVERIFY2(worstGap < 100, qPrintable(QStringLiteral("GUI thread blocked for %1 ms").arg(worstGap)));
    }

    void refusesToChatWithoutATokenizer() {
        EngineThread engine;
        openModel(engine, mneme_chat_test::goldenModel(QStringLiteral("v32-tiny")));
        QSignalSpy done(engine.worker(), &EngineWorker::answerFinished);
        const QList<ChatTurn> turns{{QStringLiteral("user"), QStringLiteral("hello")}};
        engine.post([w = engine.worker(), turns] { w->ask(turns, 8); });
        QVERIFY(waitForSignal(done, 10000));
        const AnswerStats s = done.first().first().value<AnswerStats>();
        QVERIFY(s.error.contains(QStringLiteral("no tokenizer")));
    }

    void streamsAnAnswer() {
        const QString chat = mneme_chat_test::chatModel();
        QVERIFY2(!chat.isEmpty(), "the bundled demo model (assets/models/mneme-demo-v4e) was not found");
        QTemporaryDir snapshots;
        EngineThread engine;
        EngineConfig config = testConfig();
        config.snapshotDir = snapshots.path();
        QSignalSpy ready(engine.worker(), &EngineWorker::modelReady);
        engine.post([w = engine.worker(), config] { w->configure(config); });
        engine.post([w = engine.worker(), chat] { w->openModel(chat); });
        QVERIFY(waitForSignal(ready, 60000));
        QSignalSpy text(engine.worker(), &EngineWorker::answerText);
        QSignalSpy done(engine.worker(), &EngineWorker::answerFinished);
        QList<ChatTurn> turns{{QStringLiteral("user"), QStringLiteral("Say hello.")}};
        engine.post([w = engine.worker(), turns] { w->ask(turns, 12); });
        QVERIFY(waitForSignal(done, 60000));
        const AnswerStats s = done.first().first().value<AnswerStats>();
        QVERIFY2(s.error.isEmpty(), qPrintable(s.error));
        QVERIFY(s.generatedTokens > 0);
        QVERIFY(s.timeToFirstTokenSeconds >= 0);
        // The answer's statistics travel with it: every routed layer chose experts_per_token experts
        // for each token the answer fed back, and without a codebase there are no files.
        const AnswerDiagnostics& d = s.diagnostics;
        QVERIFY(d.available);
        QCOMPARE(qsizetype(d.expertCounts.size()), qsizetype(d.layers) * d.experts);
        QVERIFY(d.forwardedTokens > 0 && d.forwardedTokens <= s.generatedTokens);
        for (quint32 l = 0; l < d.layers; ++l) {
            quint64 row = 0;
            for (quint32 e = 0; e < d.experts; ++e) row += d.expertCounts[qsizetype(l) * d.experts + e];
            QVERIFY(row == 0 || row == d.forwardedTokens * d.expertsPerToken);
        }
        QVERIFY(d.selectionsCollected);
        QVERIFY(d.files.isEmpty());
        QString answer;
        for (const QList<QVariant>& args : text) answer += args.first().toString();
        // A follow-up keeps the first turn in the session instead of reading it again.
        turns.append({QStringLiteral("assistant"), answer});
        turns.append({QStringLiteral("user"), QStringLiteral("Again.")});
        engine.post([w = engine.worker(), turns] { w->ask(turns, 4); });
        QVERIFY(waitForSignal(done, 60000, 2));
        const AnswerStats second = done.last().first().value<AnswerStats>();
        QVERIFY2(second.error.isEmpty(), qPrintable(second.error));
        QVERIFY(second.tokensKept + second.tokensReused > 0);
    }
};

QTEST_MAIN(EngineWorkerTest)
#include "tst_engine_worker.moc"
