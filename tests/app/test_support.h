// Fixtures shared by the app tests: model folders and a small codebase on disk.
#pragma once

#include <QString>

class QTemporaryDir;

namespace mneme_chat_test {

// A golden fixture checkpoint (no tokenizer), e.g. "v32-tiny".
QString goldenModel(const QString& name);
// A model with a tokenizer from assets/models, or "" when none is there yet.
QString chatModel();
// Writes a small project: sources, a README, a binary file and a .gitignore'd build folder.
void writeSampleCodebase(const QTemporaryDir& dir);

}  // namespace mneme_chat_test
