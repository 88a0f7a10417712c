#include "engine_thread.h"

namespace mneme_chat {

void registerEngineTypes() {
    qRegisterMetaType<EngineConfig>();
    qRegisterMetaType<PluginRow>();
    qRegisterMetaType<DeviceRow>();
    qRegisterMetaType<ModelSummary>();
    qRegisterMetaType<PlanSummary>();
    qRegisterMetaType<FileEntry>();
    qRegisterMetaType<ProgressInfo>();
    qRegisterMetaType<AnswerStats>();
    qRegisterMetaType<ChatTurn>();
    qRegisterMetaType<QList<PluginRow>>();
    qRegisterMetaType<QList<DeviceRow>>();
    qRegisterMetaType<QList<FileEntry>>();
    qRegisterMetaType<QList<ChatTurn>>();
}

EngineThread::EngineThread() : worker_(new EngineWorker) {
    registerEngineTypes();
    thread_.setObjectName(QStringLiteral("mneme-engine"));
    worker_->moveToThread(&thread_);
    QObject::connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
    thread_.start();
}

EngineThread::~EngineThread() {
    worker_->requestCancel();
    QMetaObject::invokeMethod(worker_, &EngineWorker::shutdown, Qt::BlockingQueuedConnection);
    thread_.quit();
    thread_.wait();
}

}  // namespace mneme_chat
