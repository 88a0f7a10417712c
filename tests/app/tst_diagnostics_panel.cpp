// The per-answer parts of the diagnostics pane on hand-made statistics: folder rows of the file
// heat map add up their files, busiest first, and the expert rows' effective expert counts follow
// the definition (n for an even load, 1 for a single expert).
#include <QtTest>

#include "diagnostics_panel.h"
#include "expert_heatmap.h"
#include "file_heat_tree.h"

using namespace mneme_chat;

class DiagnosticsPanelTest : public QObject {
    Q_OBJECT
  private slots:
    void foldersSumTheirFilesAndTheHottestComesFirst() {
        FileHeatTree tree;
        tree.setFiles({{QStringLiteral("README.md"), 10, 5},
                       {QStringLiteral("src/a.cpp"), 100, 30},
                       {QStringLiteral("src/b.cpp"), 50, 0},
                       {QStringLiteral("src/sub/c.h"), 20, 65}});
        QCOMPARE(tree.selectedFileCount(), 3);
        QTreeWidgetItem* src = tree.itemForPath(QStringLiteral("src"));
        QVERIFY(src);
        QCOMPARE(src->text(1), QStringLiteral("95.0%"));  // (30 + 0 + 65) / 100
        QCOMPARE(src->text(2), QStringLiteral("170"));    // tokens of its three files
        QCOMPARE(tree.itemForPath(QStringLiteral("src/sub"))->text(1), QStringLiteral("65.0%"));
        QCOMPARE(tree.itemForPath(QStringLiteral("src/b.cpp"))->text(1), QStringLiteral("0.0%"));
        QCOMPARE(tree.topLevelItem(0), src);  // 95% before README's 5%
        QCOMPARE(src->child(0)->text(0), QStringLiteral("sub/"));
        // The hottest file is shaded differently from an unselected one.
        QVERIFY(tree.itemForPath(QStringLiteral("src/sub/c.h"))->background(0) !=
                tree.itemForPath(QStringLiteral("src/b.cpp"))->background(0));
    }

    void effectiveExpertsFollowTheEntropy() {
        ExpertHeatmap map;
        map.setCounts(3, 4, {0, 0, 0, 0, 5, 5, 5, 5, 8, 0, 0, 0});
        QCOMPARE(map.layers(), 3u);
        QCOMPARE(map.effectiveExperts(0), 0.0);  // dense
        QVERIFY(qAbs(map.effectiveExperts(1) - 4.0) < 1e-9);
        QVERIFY(qAbs(map.effectiveExperts(2) - 1.0) < 1e-9);
        // Counts that do not match the shape are not drawn.
        map.setCounts(3, 4, {1, 2});
        QCOMPARE(map.layers(), 0u);
    }

    void anAnswerWithoutSelectionsSaysSo() {
        DiagnosticsPanel panel;
        AnswerStats stats;
        stats.diagnostics.available = true;
        stats.diagnostics.indexerLayers = 2;
        stats.diagnostics.selectionsCollected = false;
        stats.diagnostics.draftProposed = 10;
        stats.diagnostics.draftAccepted = 4;
        stats.diagnostics.draftAcceptance = 0.4;
        stats.diagnostics.draftedFraction = 0.25;
        panel.setLastAnswer(stats);
        const QString text = panel.answerText();
        QVERIFY2(text.contains(QStringLiteral("not recorded")), qPrintable(text));
        QVERIFY(text.contains(QStringLiteral("4 of 10 drafted tokens accepted (40.0%)")));
    }
};

QTEST_MAIN(DiagnosticsPanelTest)
#include "tst_diagnostics_panel.moc"
