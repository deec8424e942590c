#include "tests/testing/postgres_cluster.h"

#include <cstdlib>
#include <stdexcept>

#include "tests/testing/testing.h"

namespace lk::testing {

PostgresCluster::PostgresCluster(const std::filesystem::path& dir) : dir_(dir / "pg") {
  const char* shared = std::getenv("LK_TEST_POSTGRES_URL");
  if (!shared || !*shared) {
    reason_ = "LK_TEST_POSTGRES_URL is not set; PostgreSQL fault tests skipped (./dev.sh test sets it)";
    return;
  }
  error_ = Start();
}

PostgresCluster::~PostgresCluster() {
  if (reason_.empty()) Stop("immediate");
}

std::string PostgresCluster::url(const std::string& db) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

// Calls `function DIR [arg]` of postgres.sh; learns the port the cluster uses.
std::string PostgresCluster::Shell(const std::string& function, const std::string& arg) {
  auto r = RunProgram({"/bin/bash", "-c", ". \"$0\" && " + function + " \"$1\" $2 && cat \"$1/port\"",
                       (SourceDir() / "tests/testing/postgres.sh").string(), dir_.string(), arg});
  if (r.exit_code != 0)
    return function + " failed (exit " + std::to_string(r.exit_code) + "): " + r.out + r.err;
  port_ = std::atoi(r.out.c_str());
  return "";
}

std::string PostgresCluster::Stop(const std::string& mode) { return Shell("pg_stop", mode); }
std::string PostgresCluster::Start() { return Shell("pg_start", port_ ? std::to_string(port_) : ""); }
std::string PostgresCluster::Restart(const std::string& mode) { return Shell("pg_restart", mode); }

std::string PostgresCluster::Sql(const std::string& sql, const std::string& db) const {
  auto r = RunProgram({"psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url(db), "-c", sql});
  if (r.exit_code != 0) throw std::runtime_error("psql: " + r.err);
  while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r.out;
}

}  // namespace lk::testing
