#pragma once
// A PostgreSQL server of a test's own (tests/testing/postgres.sh, as the postgres user when the
// test runs as root), for the fault tests that stop, crash and restart the server under a ledger
// or a service. The shared server of $LK_TEST_POSTGRES_URL is never touched: other suites run
// on it in parallel. Not thread-safe.
#include <filesystem>
#include <string>

namespace lk::testing {

class PostgresCluster {
 public:
  // Creates and starts a cluster in `dir` when PostgreSQL tests are asked for
  // ($LK_TEST_POSTGRES_URL set, as `./dev.sh test` does); else available() is false and reason()
  // says why. A failure to start is an error(), not a reason to skip.
  explicit PostgresCluster(const std::filesystem::path& dir);
  ~PostgresCluster();  // stops the server
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  bool available() const { return reason_.empty() && error_.empty(); }
  const std::string& reason() const { return reason_; }
  const std::string& error() const { return error_; }
  // postgresql://postgres@127.0.0.1:PORT/DB; the port stays the same across restarts.
  std::string url(const std::string& db = "postgres") const;

  // Each returns "" or what went wrong. mode: "fast" (sessions are told and closed) or
  // "immediate" (a crash; the next start recovers).
  std::string Stop(const std::string& mode = "fast");
  std::string Start();
  std::string Restart(const std::string& mode = "fast");
  // Runs SQL with psql on database `db`; returns its output (unaligned, tuples only) or throws.
  std::string Sql(const std::string& sql, const std::string& db = "postgres") const;

 private:
  std::string Shell(const std::string& function, const std::string& arg);

  std::filesystem::path dir_;
  std::string reason_, error_;
  int port_ = 0;
};

}  // namespace lk::testing
