// Runs an EngineWorker on a thread of its own and tears both down in the right order: cancel
// the running work, release the SDK objects on the worker thread, then stop the thread.
#pragma once

#include <QThread>

#include "engine_worker.h"

namespace mneme_chat {

class EngineThread {
public:
    EngineThread();
    ~EngineThread();
    EngineThread(const EngineThread&) = delete;
    EngineThread& operator=(const EngineThread&) = delete;

    EngineWorker* worker() const { return worker_; }

    // Queues a call to a worker slot; it runs on the worker thread, in order.
    template <typename Fn>
    void post(Fn&& fn) {
        QMetaObject::invokeMethod(worker_, std::forward<Fn>(fn), Qt::QueuedConnection);
    }

private:
    QThread thread_;
    EngineWorker* worker_;
};

// Registers the engine value types with Qt's meta-type system (once per process).
void registerEngineTypes();

}  // namespace mneme_chat
