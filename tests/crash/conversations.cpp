// Crash test of the conversation database (app/chat/conversation_store): the writer creates and
// extends conversations (some messages tens of kilobytes, so a save takes a while) and reports
// every save with the conversation's digest. Each conversation's title carries the digest of its
// messages, so a half-saved one would show. After each kill the database opens through the app's
// own store, every conversation is whole, every reported save reads back identical, and at most
// the one save in flight differs from what was reported.
#include <sys/stat.h>

#include <QString>
#include <map>
#include <random>

#include "conversation_store.h"
#include "kill-loop.h"

namespace mneme::crash {
namespace {

using mneme_chat::Conversation;
using mneme_chat::ConversationStore;
using mneme_chat::Message;

constexpr int k_saves = 12;

uint64_t digest(const Conversation& c) {
    uint64_t h = 1469598103934665603ull;
    auto add = [&](const QString& s) {
        const QByteArray u = s.toUtf8();
        for (char ch : u) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
        h = (h ^ 0xff) * 1099511628211ull;  // a separator no UTF-8 byte sequence produces
    };
    add(c.codebaseRoot);
    add(c.modelPath);
    for (const Message& m : c.messages) {
        add(m.role);
        add(m.content);
        add(m.stats);
    }
    return h;
}

QString hex(uint64_t v) {
    return QString::number(v, 16);
}

QString text(std::mt19937_64& rng, std::size_t n) {
    static const QString alphabet = QStringLiteral("abcdefghij klmnopqrst uvwxyz\n{}();=+ äöü→λ中文");
    QString s;
    s.reserve(static_cast<qsizetype>(n));
    for (std::size_t i = 0; i < n; ++i)
        s += alphabet[static_cast<qsizetype>(rng() % static_cast<uint64_t>(alphabet.size()))];
    return s;
}

void add_messages(Conversation& c, std::mt19937_64& rng) {
    const int n = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < n; ++i) {
        Message m;
        m.role = c.messages.size() % 2 ? QStringLiteral("assistant") : QStringLiteral("user");
        m.content = text(rng, rng() % 4 == 0 ? 20000 + rng() % 40000 : 10 + rng() % 2000);
        m.stats = m.role == QStringLiteral("assistant") ? QStringLiteral("TTFT 0.4 s · 31 tok/s") : QString();
        c.messages.append(m);
    }
}

}  // namespace

int write_conversations(const std::string& dir, uint64_t seed) {
    ConversationStore store;
    if (!store.open(QString::fromStdString(dir + "/conversations.sqlite"))) {
        std::fprintf(stderr, "%s\n", qPrintable(store.lastError()));
        return 1;
    }
    std::mt19937_64 rng(seed);
    for (int k = 0; k < k_saves; ++k) {
        const QList<Conversation> all = store.list();
        Conversation c;
        if (all.isEmpty() || rng() % 3 == 0) {
            c.codebaseRoot = QStringLiteral("/home/user/project-%1").arg(rng() % 100);
            c.modelPath = QStringLiteral("/models/v4");
        } else {
            c = *store.load(all[static_cast<qsizetype>(rng() % static_cast<uint64_t>(all.size()))].id);
            if (!c.messages.isEmpty() && rng() % 2)
                c.messages.last().content += text(rng, 500);  // a streamed answer grows
        }
        add_messages(c, rng);
        c.title = QStringLiteral("chat ") + hex(digest(c));
        if (!store.save(c)) {
            std::fprintf(stderr, "%s\n", qPrintable(store.lastError()));
            return 1;
        }
        report(std::to_string(c.id) + " " + hex(digest(c)).toStdString());
    }
    return 0;
}

int check_conversations() {
    kill_loop loop("conversation save", 60);
    scratch_dir d("conversations");
    const std::string path = d.path + "/conversations.sqlite";
    std::map<qint64, QString> committed;  // id -> digest of its last reported save
    int in_flight = 0, checked = 0;

    // Opens the database as the app does and checks it against what was reported.
    auto verify = [&](const writer_run& r) {
        for (const auto& line : r.reports) {
            const auto space = line.find(' ');
            committed[std::stoll(line.substr(0, space))] = QString::fromStdString(line.substr(space + 1));
        }
        ConversationStore store;
        if (!store.open(QString::fromStdString(path))) {
            loop.expect(false, "the database opens: " + store.lastError().toStdString());
            return;
        }
        loop.expect(store.schemaVersion() == ConversationStore::kSchemaVersion, "the schema is current");
        struct stat st {};
        loop.expect(::stat(path.c_str(), &st) == 0 && (st.st_mode & 0777) == 0600, "the database is user-only (0600)");
        int differing = 0;
        std::map<qint64, QString> now;
        for (const Conversation& listed : store.list()) {
            const auto c = store.load(listed.id);
            loop.expect(c.has_value(), "a listed conversation loads");
            if (!c) continue;
            ++checked;
            const QString h = hex(digest(*c));
            loop.expect(c->title == QStringLiteral("chat ") + h, "conversation " + std::to_string(c->id) + " is whole");
            now[c->id] = h;
            const auto it = committed.find(c->id);
            if (it == committed.end() || it->second != h) ++differing;  // the save in flight, committed unreported
        }
        for (const auto& [id, h] : committed) {
            loop.expect(now.count(id) == 1, "reported conversation " + std::to_string(id) + " is there");
        }
        loop.expect(differing <= 1,
                    "only the save in flight differs from the reported ones (" + std::to_string(differing) + ")");
        in_flight += differing;
        committed = now;
    };

    const writer_run full = loop.run({"write", d.path, std::to_string(loop.rng()())}, -1);
    loop.expect(full.exited_ok && full.reports.size() == k_saves, "an uninterrupted writer saves every conversation");
    verify(full);
    const double span = full.seconds * 1.1;
    for (int i = 0; i < loop.kills(); ++i) {
        const double delay = loop.random_delay(span);
        loop.set_iteration(i, delay);
        verify(loop.run({"write", d.path, std::to_string(loop.rng()())}, delay));
    }
    return loop.finish(std::to_string(loop.kills()) + " kills survived; " + std::to_string(checked) +
                       " conversation reads all whole and identical to their reported saves (" +
                       std::to_string(in_flight) + " saves in flight found committed)");
}

}  // namespace mneme::crash
