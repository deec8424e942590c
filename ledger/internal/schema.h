#pragma once
// The ledger schema as numbered migrations, written once and rendered per dialect.
#include <string>

#include "ledger/internal/db.h"

namespace lk::ledger::internal {

// Applies every migration newer than the database's, each in its own write transaction.
Result<> Migrate(Db& db, Time now);
// The newest migration number this build knows.
int LatestSchemaVersion();
// SQL for the adoption mask bit of a card's channel column (digital 1, subscription 2, starter 4,
// library 8), e.g. ChannelBitSql("c.channel").
std::string ChannelBitSql(const std::string& column);

}  // namespace lk::ledger::internal
