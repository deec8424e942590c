#pragma once
// One ledger backend for a test: SQLite in a temporary file, or PostgreSQL in a fresh schema
// of the server named by $LK_TEST_POSTGRES_URL (dropped afterwards), so tests run in parallel.
#include <memory>
#include <string>

#include "ledger/ledger.h"
#include "tests/testing/testing.h"

namespace lk::ledger::testing {

class Backend {
 public:
  // kind: "sqlite" or "postgresql". available() is false (with a reason) when PostgreSQL is not configured.
  Backend(const std::string& kind, const std::filesystem::path& dir);
  ~Backend();
  bool available() const { return reason_.empty(); }
  const std::string& reason() const { return reason_; }
  const std::string& url() const { return url_; }
  LedgerOptions options() const;
  // Runs raw SQL behind the ledger's back (tamper tests). Returns "" or the error text.
  std::string Sql(const std::string& sql);
  // The first column of the first row of a query behind the ledger's back; "" if none.
  std::string Value(const std::string& sql);

 private:
  std::string kind_, url_, schema_, admin_url_, reason_;
  std::filesystem::path dir_;
};

}  // namespace lk::ledger::testing
