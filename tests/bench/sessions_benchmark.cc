// The session stores side by side (like leveldb's db_bench_sqlite3): the ledger's (SQLite, and
// PostgreSQL when $LK_TEST_POSTGRES_URL is set, in a fresh schema dropped afterwards) and the
// in-memory one as the same-run baseline, each holding 10,000 live teacher sessions.
// BM_Find/<store>: one Find of a random live session (what every signed-in request does).
// BM_Create/<store>: one sign-in (Create, with its pruning and cap check).
// Stores: 0 in memory (baseline), 1 SQLite, 2 PostgreSQL.
#include <benchmark/benchmark.h>
#include <postgresql/libpq-fe.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "api/internal/teacher_sessions.h"
#include "ledger/ledger.h"

namespace lk::api::internal {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono;

constexpr int kSessions = 10'000;
constexpr size_t kCap = 1'000'000;

std::string PgExec(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  std::string err;
  if (PQstatus(c) != CONNECTION_OK) {
    err = PQerrorMessage(c);
  } else {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK) err = PQresultErrorMessage(r);
    PQclear(r);
  }
  PQfinish(c);
  return err;
}

// One store with kSessions live sessions, made on first use and kept for the run.
class Store {
 public:
  explicit Store(int which) {
    if (which == 0) {
      sessions_ = NewInMemoryTeacherSessions(clock_, hours(24), kCap);
    } else {
      dir_ = fs::temp_directory_path() / ("lk-sessions-bench-" + HexEncode(RandomBytes(6)));
      ledger::LedgerOptions o;
      o.data_dir = dir_;
      if (which == 2) {
        const char* url = std::getenv("LK_TEST_POSTGRES_URL");
        if (!url || !*url) {
          error_ = "LK_TEST_POSTGRES_URL is not set";
          return;
        }
        admin_ = url;
        schema_ = "bench_" + HexEncode(RandomBytes(6));
        if (auto e = PgExec(admin_, "CREATE SCHEMA " + schema_); !e.empty()) {
          error_ = e;
          return;
        }
        o.url = admin_ + (admin_.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
                schema_;
      }
      auto l = ledger::OpenLedger(o, clock_);
      if (!l) {
        error_ = l.error().message;
        return;
      }
      ledger_ = std::move(*l);
      sessions_ = NewLedgerSessions(ledger_->sessions(), ledger::SessionKind::kTeacher, hours(24), kCap);
    }
    for (int i = 0; i < kSessions; ++i) {
      auto id = sessions_->Create("S" + std::to_string(100'000'000'000 + i));
      if (!id) {
        error_ = id.error().message;
        return;
      }
      ids_.push_back(*id);
    }
  }
  ~Store() {
    sessions_.reset();
    ledger_.reset();
    if (!schema_.empty()) PgExec(admin_, "DROP SCHEMA " + schema_ + " CASCADE");
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  const std::string& error() const { return error_; }
  TeacherSessions& sessions() { return *sessions_; }
  const std::vector<std::string>& ids() const { return ids_; }

 private:
  SystemClock clock_;
  fs::path dir_;
  std::string admin_, schema_, error_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<TeacherSessions> sessions_;
  std::vector<std::string> ids_;
};

Store& StoreOf(int which) {
  static Store memory(0), sqlite(1);
  if (which == 0) return memory;
  if (which == 1) return sqlite;
  static Store postgres(2);
  return postgres;
}

const char* kNames[] = {"memory (baseline)", "sqlite", "postgresql"};

void BM_Find(benchmark::State& state) {
  Store& s = StoreOf(static_cast<int>(state.range(0)));
  if (!s.error().empty()) return state.SkipWithError(s.error().c_str());
  std::mt19937 rng(20261203);
  std::uniform_int_distribution<size_t> pick(0, s.ids().size() - 1);
  for (auto _ : state) {
    auto found = s.sessions().Find(s.ids()[pick(rng)]);
    if (!found || !*found) return state.SkipWithError("a live session was not found");
    benchmark::DoNotOptimize(found);
  }
  state.SetLabel(kNames[state.range(0)]);
}
BENCHMARK(BM_Find)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond);

void BM_Create(benchmark::State& state) {
  Store& s = StoreOf(static_cast<int>(state.range(0)));
  if (!s.error().empty()) return state.SkipWithError(s.error().c_str());
  for (auto _ : state) {
    auto id = s.sessions().Create("ABCDEFGHJK12");
    if (!id) return state.SkipWithError(id.error().message.c_str());
    benchmark::DoNotOptimize(id);
  }
  state.SetLabel(kNames[state.range(0)]);
}
BENCHMARK(BM_Create)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace lk::api::internal

BENCHMARK_MAIN();
