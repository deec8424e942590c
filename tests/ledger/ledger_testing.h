#pragma once
// One ledger backend for a test: SQLite in a temporary file, or PostgreSQL in a fresh schema
// of the server named by $LK_TEST_POSTGRES_URL (dropped afterwards), so tests run in parallel;
// and LedgerBackendTest, the fixture of a suite that runs unchanged on every backend.
#include <gtest/gtest.h>

#include <chrono>
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

// The header line of every roster file the tests write.
inline constexpr char kRosterHeader[] =
    "staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter\n";

// A suite that runs once per backend: TEST_P on a subclass, then LK_ON_EVERY_BACKEND(Suite).
// SetUp makes the backend in dir_ and opens ledger_ on clock_ (2026-02-01 12:00 UTC). Without
// $LK_TEST_POSTGRES_URL the PostgreSQL run is skipped with the reason; with it, a backend that
// does not open is a failure. A subclass's SetUp calls LedgerBackendTest::SetUp() first and
// returns when IsSkipped() or HasFatalFailure().
class LedgerBackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override;
  // Another handle on the same ledger (nullptr, with a test failure, when it does not open).
  std::unique_ptr<Ledger> Open();
  // Writes `content` to dir_/name and returns the path.
  std::filesystem::path Write(const std::string& name, const std::string& content);
  // Imports T1 (teaching, GO, basic, 2000), T2 (support, OGO, secondary, 9000, starter) and T3
  // (administrative, VGO, higher, 1000) for `year`.
  void ImportSmallRoster(int year = 2026);

  lk::testing::TempDir dir_;
  FakeClock clock_{std::chrono::sys_days(std::chrono::year(2026) / std::chrono::February / 1) +
                   std::chrono::hours(12)};
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Ledger> ledger_;
};

}  // namespace lk::ledger::testing

// Instantiates the TEST_Ps of `suite` (a LedgerBackendTest) on SQLite and on PostgreSQL.
#define LK_ON_EVERY_BACKEND(suite)                                                     \
  INSTANTIATE_TEST_SUITE_P(Backends, suite, ::testing::Values("sqlite", "postgresql"), \
                           [](const auto& p) { return p.param; })
