#pragma once
// The ledger: one record of every card of every channel (digital, subscription, starter,
// library), the per-year roster of eligible staff (pseudonymous), published aggregates kept apart,
// and a SHA-256-chained audit log. SQLite (default) and PostgreSQL behave the same.
// Thread safety: a Ledger and its parts may be shared between threads (writes are serialised
// internally; on PostgreSQL reads run side by side on pooled connections); several processes may
// open the same ledger at once (the database arbitrates).
//
// Where each operation lives:  imports.h  roster, channel and published imports
//                              cards.h    issue, revoke, find, QR token, revocation list
//                              access.h   claim codes, staff and partner credentials
//                              counts.h   adoption counts, published figures
//                              audit.h    the audit chain and its verification
//                              usage.h    partner scans per day and outcome (no serials)
//                              pass_updates.h  Apple Wallet registrations, changes, push queue
//                              sessions.h signed-in browsers (teacher, console, desk)
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "base/base.h"
#include "ledger/access.h"
#include "ledger/audit.h"
#include "ledger/cards.h"
#include "ledger/channel.h"
#include "ledger/counts.h"
#include "ledger/imports.h"
#include "ledger/pass_updates.h"
#include "ledger/sessions.h"
#include "ledger/usage.h"

namespace lk::ledger {

struct LedgerOptions {
  // "" = SQLite at <data_dir>/ledger.sqlite; a file path = SQLite there;
  // "postgresql://..." or "postgres://..." = PostgreSQL through libpq.
  std::string url;
  std::filesystem::path data_dir = "var";
  // Holds staff-id-hmac.key (created 0600 on first use). Default "" = <data_dir>/keys.
  // Processes sharing one PostgreSQL ledger must share this key.
  std::filesystem::path keys_dir;
  // PostgreSQL: up to this many connections of their own for reads (card lookups, revocation
  // lists, credentials, counts), opened when first needed, so that reads run side by side and do
  // not wait for a write. 0 = reads share the writer's connection. Default 4. SQLite: unused
  // (one connection; WAL lets other processes read meanwhile).
  int postgres_readers = 4;
  // false: a ledger must already be where `url` and `data_dir` point (a SQLite file, or a
  // PostgreSQL database holding the ledger's tables); otherwise kInvalidArgument naming the place
  // and the likely mistake, and nothing is created. Commands that only read or change an existing
  // ledger use it so that a mistyped data directory does not start a new, empty ledger with a new
  // staff-id key. true (default): an absent ledger is made.
  bool create_if_missing = true;
};

// The parts of one open ledger, sharing its connection, writer lock and staff-id key.
class Ledger {
 public:
  // REQUIRES: `core` open and migrated (OpenLedger does both).
  explicit Ledger(std::unique_ptr<internal::Core> core);
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  std::string_view backend() const;  // "sqlite" or "postgresql"

  Imports& imports() { return imports_; }
  Cards& cards() { return cards_; }
  const Cards& cards() const { return cards_; }
  Access& access() { return access_; }
  const Access& access() const { return access_; }
  const Counts& counts() const { return counts_; }
  const Audit& audit() const { return audit_; }
  Usage& usage() { return usage_; }
  const Usage& usage() const { return usage_; }
  PassUpdates& pass_updates() { return pass_updates_; }
  const PassUpdates& pass_updates() const { return pass_updates_; }
  Sessions& sessions() { return sessions_; }
  const Sessions& sessions() const { return sessions_; }

 private:
  std::unique_ptr<internal::Core> core_;
  Imports imports_;
  Cards cards_;
  Access access_;
  Counts counts_;
  Audit audit_;
  Usage usage_;
  PassUpdates pass_updates_;
  Sessions sessions_;
};

// Opens (creating if needed) the ledger named by options.url and applies pending schema
// migrations. `clock` must outlive the ledger; it stamps issue dates and audit entries.
Result<std::unique_ptr<Ledger>> OpenLedger(const LedgerOptions& options, const Clock& clock);

}  // namespace lk::ledger
