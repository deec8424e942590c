#pragma once
// The ledger schema as numbered migrations, written once and rendered per dialect.
#include "ledger/internal/db.h"

namespace lk::ledger::internal {

// Applies every migration newer than the database's, each in its own write transaction.
Result<> Migrate(Db& db, Time now);
// The newest migration number this build knows.
int LatestSchemaVersion();

}  // namespace lk::ledger::internal
