#pragma once
// The ledger schema as numbered migrations, written once and rendered per dialect.
#include <string>
#include <utility>
#include <vector>

#include "ledger/internal/db.h"

namespace lk::ledger::internal {

// Applies every migration newer than the database's, each in its own write transaction.
Result<> Migrate(Db& db, Time now);
// The newest migration number this build knows.
int LatestSchemaVersion();
// SQL for the adoption mask bit of a card's channel column (digital 1, subscription 2, starter 4,
// library 8), e.g. ChannelBitSql("c.channel").
std::string ChannelBitSql(const std::string& column);
// The dimensions of the school-year aggregate (migration 6): (dim, roster column), "all" first
// with no column (group '').
const std::vector<std::pair<std::string, std::string>>& SchoolDimensions();
// A recount of the school-year aggregate from roster and cards: rows (school year, dim, group,
// channel, cards) or, with `holders`, (school year, dim, group, mask, holders).
std::string SchoolCellsRecountSql(bool holders);

}  // namespace lk::ledger::internal
