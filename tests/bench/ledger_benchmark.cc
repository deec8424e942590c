// The ledger's three heavy workloads on SQLite and PostgreSQL side by side (like leveldb's
// db_bench_sqlite3): a 250,000-row channel import, 213,132 digital cards recorded in one batch,
// and the adoption query over ten card years of ~200,000 cards each, grouped by province.
// PostgreSQL comes from $LK_TEST_POSTGRES_URL (a fresh schema per run); skipped when unset.
// Setup (rosters, files) is untimed; each timed step runs on a fresh ledger. On PostgreSQL the
// import and the batch also report server_cpu_s: the cluster's CPU seconds during the step
// (with the CPU column, the client's: their sum is the work, less noisy than wall time on a
// shared machine).
// $LK_LEDGER_BENCH_SCALE (default 1) shrinks every size, for smoke runs (./dev.sh test uses 0.02).
#include <benchmark/benchmark.h>
#include <postgresql/libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "ledger/ledger.h"

namespace lk::ledger {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono;

constexpr uint32_t kSeed = 20261127;  // fixed, so every run sees the same data

const char* PgUrl() {
  const char* u = std::getenv("LK_TEST_POSTGRES_URL");
  return u && *u ? u : nullptr;
}

// n scaled by $LK_LEDGER_BENCH_SCALE.
int Scaled(int n) {
  const char* s = std::getenv("LK_LEDGER_BENCH_SCALE");
  double f = s && *s ? std::atof(s) : 1.0;
  if (!(f > 0) || f > 1) f = 1.0;
  return std::max(1, static_cast<int>(n * f));
}

std::string PgExec(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  std::string err;
  if (PQstatus(c) != CONNECTION_OK)
    err = PQerrorMessage(c);
  else {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK) err = PQresultErrorMessage(r);
    PQclear(r);
  }
  PQfinish(c);
  return err;
}

// CPU seconds used so far by the PostgreSQL cluster of `url` (its postmaster, the children it
// has reaped, and its live children), from /proc: a measure of the server's work that the other
// jobs sharing the machine inflate much less than wall time. -1 if unavailable.
double ServerCpuSeconds(const std::string& url) {
  PGconn* c = PQconnectdb(url.c_str());
  int backend = 0;
  if (PQstatus(c) == CONNECTION_OK) {
    PGresult* r = PQexec(c, "SELECT pg_backend_pid()");
    if (PQresultStatus(r) == PGRES_TUPLES_OK) backend = std::atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
  }
  PQfinish(c);
  // Fields after the ")" of /proc/PID/stat: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
  auto stat = [](int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<long long> f(18, 0);
    auto p = text.rfind(')');
    if (p == std::string::npos) return f;
    std::istringstream rest(text.substr(p + 2));
    std::string state;
    rest >> state;
    for (int i = 4; i <= 17; ++i) rest >> f[static_cast<size_t>(i)];
    return f;
  };
  if (backend <= 0) return -1;
  const long long postmaster = stat(backend)[4];
  if (postmaster <= 1) return -1;
  auto pm = stat(static_cast<int>(postmaster));
  long long ticks = pm[14] + pm[15] + pm[16] + pm[17];
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto f = stat(std::stoi(name));
    if (f[4] == postmaster) ticks += f[14] + f[15];
  }
  return static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A fresh, empty ledger in a temp dir (SQLite) or a fresh schema (PostgreSQL); removed afterwards.
class Scratch {
 public:
  explicit Scratch(bool postgres) {
    dir_ = fs::temp_directory_path() / ("lk-bench-" + HexEncode(RandomBytes(6)));
    fs::create_directories(dir_);
    options_.data_dir = dir_;
    // LK_BENCH_POSTGRES_READERS=0 runs the reads on the writer's connection, as before the pool.
    if (const char* r = std::getenv("LK_BENCH_POSTGRES_READERS"); r && *r)
      options_.postgres_readers = std::atoi(r);
    if (postgres && !PgUrl()) {
      error_ = "LK_TEST_POSTGRES_URL is not set: PostgreSQL skipped";
    } else if (postgres) {
      admin_ = PgUrl();
      schema_ = "bench_" + HexEncode(RandomBytes(6));
      if (auto e = PgExec(admin_, "CREATE SCHEMA " + schema_); !e.empty()) error_ = e;
      options_.url =
          admin_ + (admin_.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema_;
    }
    if (error_.empty()) {
      auto l = OpenLedger(options_, clock_);
      if (l)
        ledger_ = std::move(*l);
      else
        error_ = l.error().message;
    }
  }
  ~Scratch() {
    ledger_.reset();
    if (!schema_.empty()) PgExec(admin_, "DROP SCHEMA " + schema_ + " CASCADE");
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Ledger* ledger() { return ledger_.get(); }
  const std::string& error() const { return error_; }
  fs::path Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
    return dir_ / name;
  }

 private:
  FakeClock clock_{sys_days(2026y / March / 2) + 10h};
  fs::path dir_;
  std::string admin_, schema_, error_;
  LedgerOptions options_;
  std::unique_ptr<Ledger> ledger_;
};

std::string StaffId(int year, int i) { return "Y" + std::to_string(year % 100) + "-" + std::to_string(i); }

// Staff ids of the same people in every card year ("P-i"), for ledgers where most staff stay.
std::string PersonId(int, int i) { return "P-" + std::to_string(i); }

std::string RosterCsv(int year, int n, std::mt19937& rng, int from = 0,
                      std::string (*id)(int, int) = StaffId) {
  static const char* kRoles[] = {"teaching", "teaching", "teaching", "support", "administrative"};
  static const char* kNets[] = {"GO", "OGO", "VGO"};
  static const char* kLevels[] = {"basic", "secondary", "higher", "adult", "part_time_arts", "other"};
  std::string s = "staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter\n";
  s.reserve(static_cast<size_t>(n) * 60);
  std::uniform_int_distribution<int> pc(1000, 9999), school(10000, 99999), pick(0, 99);
  for (int i = from; i < from + n; ++i)
    s += id(year, i) + ",First,Last," + kRoles[pick(rng) % 5] + "," + kNets[pick(rng) % 3] + "," +
         kLevels[pick(rng) % 6] + "," + std::to_string(school(rng)) + "," + std::to_string(pc(rng)) + "," +
         (pick(rng) < 8 ? "yes" : "no") + "\n";
  return s;
}

// Staff [from, to) of `year`, with dates spread over the year.
// `shift` moves each person's month by that many (a person's pickups in two years then fall in
// different months).
std::string ChannelCsv(int year, int from, int to, std::string (*id)(int, int) = StaffId, int shift = 0) {
  std::string s = "staff_id,date\n";
  s.reserve(static_cast<size_t>(to - from) * 24);
  for (int i = from; i < to; ++i) {
    const int m = (i + shift) % 12;
    s += id(year, i) + "," + std::to_string(year) + "-" + (m < 9 ? "0" : "") + std::to_string(1 + m) + "-" +
         (i % 28 < 9 ? "0" : "") + std::to_string(1 + i % 28) + "\n";
  }
  return s;
}

bool SkipUnlessReady(benchmark::State& state, Scratch& s, bool postgres) {
  if (postgres && !PgUrl()) {
    state.SkipWithError("LK_TEST_POSTGRES_URL is not set: PostgreSQL skipped");
    return true;
  }
  if (!s.error().empty()) {
    state.SkipWithError(s.error().c_str());
    return true;
  }
  return false;
}

// A fresh ledger holding `roster` as card year 2026; nullptr (after SkipWithError) when it cannot
// be made.
std::unique_ptr<Scratch> ScratchWithRoster(benchmark::State& state, bool postgres,
                                           const std::string& roster) {
  auto s = std::make_unique<Scratch>(postgres);
  if (SkipUnlessReady(state, *s, postgres)) return nullptr;
  if (auto r = s->ledger()->imports().ImportRoster(s->Write("roster.csv", roster), 2026); !r) {
    state.SkipWithError(r.error().message.c_str());
    return nullptr;
  }
  return s;
}

// The PostgreSQL server's CPU seconds spent in timed steps, reported per step as server_cpu_s.
class ServerCpu {
 public:
  explicit ServerCpu(bool postgres) : postgres_(postgres) {}
  // Runs `step` with the timing resumed (it must be paused on entry; it is paused again on
  // return) and adds the server's CPU time during it.
  template <typename Step>
  auto Timed(benchmark::State& state, Step step) {
    const double cpu0 = postgres_ ? ServerCpuSeconds(PgUrl()) : 0;
    state.ResumeTiming();
    auto result = step();
    state.PauseTiming();
    // A server process that exits during the step and is not yet reaped drops out of the sum:
    // such a (negative) reading is left out.
    if (const double d = postgres_ ? ServerCpuSeconds(PgUrl()) - cpu0 : -1; d >= 0) sum_ += d, ++readings_;
    return result;
  }
  void Report(benchmark::State& state) const {
    if (postgres_ && readings_) state.counters["server_cpu_s"] = sum_ / readings_;
  }

 private:
  bool postgres_;
  double sum_ = 0;
  int readings_ = 0;
};

// Importing a 250,000-row library file (a year of pickups with room to spare).
void BM_ImportChannelFile(benchmark::State& state) {
  const bool postgres = state.range(0) == 1;
  const int kRows = Scaled(250000);
  std::mt19937 rng(kSeed);
  std::string roster = RosterCsv(2026, kRows, rng), library = ChannelCsv(2026, 0, kRows);
  ServerCpu server_cpu(postgres);
  for (auto _ : state) {
    state.PauseTiming();
    auto fresh = ScratchWithRoster(state, postgres, roster);
    if (!fresh) return;
    Scratch& s = *fresh;
    auto file = s.Write("library.csv", library);
    auto r = server_cpu.Timed(
        state, [&] { return s.ledger()->imports().ImportChannel(Channel::kLibrary, file, 2026); });
    if (!r || r->added != static_cast<uint64_t>(kRows)) {
      state.SkipWithError(r ? "wrong number of cards added" : r.error().message.c_str());
      return;
    }
    state.ResumeTiming();
  }
  state.counters["rows_per_s"] =
      benchmark::Counter(kRows * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  server_cpu.Report(state);
}

// Importing a 250,000-row roster (a card year's eligible staff, with room to spare) into a fresh
// ledger: the entries, their staff keys (HMAC) and the adoption aggregate's roster counts.
void BM_ImportRosterFile(benchmark::State& state) {
  const bool postgres = state.range(0) == 1;
  const int kRows = Scaled(250000);
  std::mt19937 rng(kSeed);
  std::string roster = RosterCsv(2026, kRows, rng);
  for (auto _ : state) {
    state.PauseTiming();
    Scratch s(postgres);
    if (SkipUnlessReady(state, s, postgres)) return;
    auto file = s.Write("roster.csv", roster);
    state.ResumeTiming();
    auto r = s.ledger()->imports().ImportRoster(file, 2026);
    state.PauseTiming();
    if (!r || r->added != static_cast<uint64_t>(kRows))
      return state.SkipWithError(r ? "wrong number of roster entries added" : r.error().message.c_str());
    state.ResumeTiming();
  }
  state.counters["rows_per_s"] =
      benchmark::Counter(kRows * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// Times importing `library` (2026's pickups) into a fresh ledger that already holds the 2025
// and 2026 rosters and 2025's library pickups (untimed). `ledger verify` runs after each import
// (untimed): the counts the upkeep kept must be the ones a recount gives.
void TimeImportNextTo2025(benchmark::State& state, const std::string& roster25, const std::string& library25,
                          const std::string& roster, const std::string& library, int rows) {
  const bool postgres = state.range(0) == 1;
  for (auto _ : state) {
    state.PauseTiming();
    Scratch s(postgres);
    if (SkipUnlessReady(state, s, postgres)) return;
    for (auto [year, csv] : {std::pair{2025, &roster25}, std::pair{2026, &roster}})
      if (auto r = s.ledger()->imports().ImportRoster(s.Write("roster.csv", *csv), year); !r)
        return state.SkipWithError(r.error().message.c_str());
    if (auto r =
            s.ledger()->imports().ImportChannel(Channel::kLibrary, s.Write("library25.csv", library25), 2025);
        !r)
      return state.SkipWithError(r.error().message.c_str());
    auto file = s.Write("library.csv", library);
    state.ResumeTiming();
    auto r = s.ledger()->imports().ImportChannel(Channel::kLibrary, file, 2026);
    state.PauseTiming();
    if (!r || r->added != static_cast<uint64_t>(rows))
      return state.SkipWithError(r ? "wrong number of cards added" : r.error().message.c_str());
    auto v = s.ledger()->audit().Verify();
    if (!v || !v->ok) return state.SkipWithError(v ? v->problem.c_str() : v.error().message.c_str());
    state.ResumeTiming();
  }
  state.counters["rows_per_s"] =
      benchmark::Counter(rows * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// The same import next to a card year whose cards share its school years (2025's 250,000 library
// pickups of other people): the general upkeep, which looks up every new card's holder's other
// cards, instead of the shortcut a ledger without such cards takes.
void BM_ImportChannelFileNextToCards(benchmark::State& state) {
  const int kRows = Scaled(250000);
  std::mt19937 rng(kSeed);
  std::string roster25 = RosterCsv(2025, kRows, rng), roster = RosterCsv(2026, kRows, rng);
  TimeImportNextTo2025(state, roster25, ChannelCsv(2025, 0, kRows), roster, ChannelCsv(2026, 0, kRows),
                       kRows);
}

// The same next to the previous card year's cards of mostly the same people, as a ledger in its
// second year holds them: 90% of 2026's staff were on 2025's roster and picked up a card there.
// Each person's 2026 pickup is six months after the month of their 2025 one, so a third of those
// holders (2025 from September, 2026 until August) hold both cards in one school year, and their
// new card moves their school-year holder counts from one channel mask to another.
void BM_ImportChannelFileNextToSameHolders(benchmark::State& state) {
  const int kRows = Scaled(250000), kLeft = kRows / 10;  // 2025's first tenth left before 2026
  std::mt19937 rng(kSeed);
  std::string roster25 = RosterCsv(2025, kRows, rng, 0, PersonId),
              roster = RosterCsv(2026, kRows, rng, kLeft, PersonId);
  TimeImportNextTo2025(state, roster25, ChannelCsv(2025, 0, kRows, PersonId), roster,
                       ChannelCsv(2026, kLeft, kLeft + kRows, PersonId, 6), kRows);
}

// Recording 213,132 digital cards (2019's eligible staff) in one batch: the records, not the passes.
void BM_IssueDigitalBatch(benchmark::State& state) {
  const bool postgres = state.range(0) == 1;
  const int kCards = Scaled(213132);
  std::mt19937 rng(kSeed);
  std::string roster = RosterCsv(2026, kCards, rng);
  std::vector<std::string> ids;
  for (int i = 0; i < kCards; ++i) ids.push_back(StaffId(2026, i));
  ServerCpu server_cpu(postgres);
  for (auto _ : state) {
    state.PauseTiming();
    auto fresh = ScratchWithRoster(state, postgres, roster);
    if (!fresh) return;
    Scratch& s = *fresh;
    auto cards = server_cpu.Timed(state, [&] { return s.ledger()->cards().IssueDigitalBatch(ids, 2026); });
    if (!cards || cards->size() != ids.size() || !cards->back().is_new) {
      state.SkipWithError(cards ? "wrong cards" : cards.error().message.c_str());
      return;
    }
    state.ResumeTiming();
  }
  state.counters["cards_per_s"] =
      benchmark::Counter(kCards * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  server_cpu.Report(state);
}

// The adoption query over ten card years of ~200,000 cards each (2,000,000 cards, 2,000,000
// roster entries), by province. The ledger is built once per backend, outside the timing.
void BM_CountsTenYearsByProvince(benchmark::State& state) {
  const bool postgres = state.range(0) == 1;
  const Period period = state.range(1) == 1 ? Period::kSchool : Period::kCalendar;
  constexpr int kYears = 10;
  static std::unique_ptr<Scratch> built[2];
  auto& s = built[postgres];
  if (!s) {
    s = std::make_unique<Scratch>(postgres);
    if (SkipUnlessReady(state, *s, postgres)) return;
    std::mt19937 rng(kSeed);
    for (int year = 2017; year < 2017 + kYears; ++year) {
      // 210,000 eligible; 200,000 cards: 100k library, 20k subscription, 15k starter, 65k digital
      // (10k of the digital holders also hold a library card).
      auto roster = s->Write("roster.csv", RosterCsv(year, Scaled(210000), rng));
      if (auto r = s->ledger()->imports().ImportRoster(roster, year); !r)
        return state.SkipWithError(r.error().message.c_str());
      struct Part {
        Channel ch;
        int from, to;
      };
      for (Part p : {Part{Channel::kLibrary, 0, Scaled(100000)},
                     Part{Channel::kSubscription, Scaled(100000), Scaled(120000)},
                     Part{Channel::kStarter, Scaled(120000), Scaled(135000)}}) {
        auto f = s->Write("channel.csv", ChannelCsv(year, p.from, p.to));
        if (auto r = s->ledger()->imports().ImportChannel(p.ch, f, year); !r)
          return state.SkipWithError(r.error().message.c_str());
      }
      std::vector<std::string> ids;
      for (int i = Scaled(90000); i < Scaled(190000); ++i)  // 10,000 library holders + 55,000 others
        if (i < Scaled(100000) || i >= Scaled(135000)) ids.push_back(StaffId(year, i));
      if (auto r = s->ledger()->cards().IssueDigitalBatch(ids, year); !r)
        return state.SkipWithError(r.error().message.c_str());
    }
  }
  if (!s->error().empty()) return state.SkipWithError(s->error().c_str());
  size_t rows = 0;
  int64_t cards = 0;
  for (auto _ : state) {
    auto r = s->ledger()->counts().Query({period, Dimension::kProvince, 2017, 2017 + kYears - 1});
    if (!r) return state.SkipWithError(r.error().message.c_str());
    rows = r->size();
    cards = 0;
    for (auto& row : *r) cards += row.digital + row.subscription + row.starter + row.library;
    benchmark::DoNotOptimize(rows);
  }
  state.counters["cells"] = static_cast<double>(rows);
  state.counters["cards"] = static_cast<double>(cards);
}

// Card lookups (what a scan or a pass download asks) from 1, 4 and 8 threads at once on one
// ledger of 2,000 digital cards: how far reads run side by side. PostgreSQL only (SQLite reads
// share its one connection by design). Items per second is the figure to compare.
void BM_ConcurrentFindCard(benchmark::State& state) {
  struct Shared {
    std::unique_ptr<Scratch> scratch;
    std::vector<std::string> serials;
    std::string error;
  };
  static Shared* shared = [] {
    auto* s = new Shared;
    if (!PgUrl()) return s;
    s->scratch = std::make_unique<Scratch>(true);
    if (!s->scratch->error().empty()) {
      s->error = s->scratch->error();
      return s;
    }
    std::string roster =
        "staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter\n";
    std::vector<std::string> ids;
    for (int i = 0; i < 2000; ++i) {
      ids.push_back("R" + std::to_string(i));
      roster += ids.back() + ",V,A,teaching,GO,basic,12345,2000,no\n";
    }
    Ledger* l = s->scratch->ledger();
    if (auto r = l->imports().ImportRoster(CsvSource{"roster.csv", roster}, 2026); !r)
      s->error = r.error().message;
    else if (auto c = l->cards().IssueDigitalBatch(ids, 2026); !c)
      s->error = c.error().message;
    else
      for (auto& card : *c) s->serials.push_back(card.serial);
    return s;
  }();
  if (!PgUrl()) return state.SkipWithError("LK_TEST_POSTGRES_URL is not set");
  if (!shared->error.empty()) return state.SkipWithError(shared->error.c_str());
  std::mt19937 rng(kSeed + static_cast<uint32_t>(state.thread_index()));
  for (auto _ : state) {
    auto card = shared->scratch->ledger()->cards().FindCard(shared->serials[rng() % shared->serials.size()]);
    if (!card) return state.SkipWithError(card.error().message.c_str());
    benchmark::DoNotOptimize(card->year);
  }
  state.SetItemsProcessed(state.iterations());
}

// Baseline for the same run (the machine is shared, so absolute times drift): 250,000 rows of
// two text columns into a bare table, in one transaction, with no constraints or indexes.
// SQLite: one prepared INSERT per row; PostgreSQL: generated server-side.
void BM_BaselineBareInsert(benchmark::State& state) {
  const bool postgres = state.range(0) == 1;
  const int kRows = Scaled(250000);
  for (auto _ : state) {
    state.PauseTiming();
    Scratch s(postgres);
    if (SkipUnlessReady(state, s, postgres)) return;
    auto path = s.Write("bare.sqlite", "");
    state.ResumeTiming();
    if (postgres) {
      std::string url = PgUrl();
      if (auto e = PgExec(url,
                          "BEGIN; CREATE TEMP TABLE bare (a TEXT, b TEXT); INSERT INTO bare SELECT 'S' || i, "
                          "'2026-03-0' || (1 + i % 9) FROM generate_series(1, " +
                              std::to_string(kRows) + ") i; COMMIT");
          !e.empty())
        return state.SkipWithError(e.c_str());
    } else {
      sqlite3* db = nullptr;
      sqlite3_open(path.c_str(), &db);
      sqlite3_exec(
          db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE bare (a TEXT, b TEXT); BEGIN",
          nullptr, nullptr, nullptr);
      sqlite3_stmt* st = nullptr;
      sqlite3_prepare_v2(db, "INSERT INTO bare VALUES (?1, ?2)", -1, &st, nullptr);
      for (int i = 0; i < kRows; ++i) {
        std::string a = "S" + std::to_string(i), b = "2026-03-0" + std::to_string(1 + i % 9);
        sqlite3_bind_text(st, 1, a.data(), static_cast<int>(a.size()), SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, b.data(), static_cast<int>(b.size()), SQLITE_TRANSIENT);
        sqlite3_step(st);
        sqlite3_reset(st);
      }
      sqlite3_finalize(st);
      sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
      sqlite3_close(db);
    }
  }
}

// Moving a card to a new device (Cards::ReplaceDigital: revoke, replacement, audit entry, one
// durable transaction) in a ledger of 20,000 holders with a digital card each; every iteration
// moves another holder's current card. Counter p99_ms: the 99th percentile of the moves.
void BM_ReplaceDigital(benchmark::State& state) {
  const bool postgres = state.range(0) == 1;
  const int kHolders = Scaled(20000);
  std::mt19937 rng(kSeed);
  Scratch s(postgres);
  if (SkipUnlessReady(state, s, postgres)) return;
  auto imported =
      s.ledger()->imports().ImportRoster(s.Write("roster.csv", RosterCsv(2026, kHolders, rng)), 2026);
  std::vector<std::string> ids;
  for (int i = 0; i < kHolders; ++i) ids.push_back(StaffId(2026, i));
  auto cards = s.ledger()->cards().IssueDigitalBatch(ids, 2026);
  if (!imported || !cards) return state.SkipWithError("setting up the ledger failed");
  std::vector<std::string> serials;
  for (const auto& c : *cards) serials.push_back(c.serial);
  std::vector<double> ms;
  size_t next = 0;
  for (auto _ : state) {
    std::string& serial = serials[next++ % serials.size()];
    auto start = std::chrono::steady_clock::now();
    auto moved = s.ledger()->cards().ReplaceDigital(serial, "moved to a new device");
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    if (!moved) return state.SkipWithError(moved.error().message.c_str());
    serial = moved->serial;
  }
  std::sort(ms.begin(), ms.end());
  if (!ms.empty()) state.counters["p99_ms"] = ms[ms.size() * 99 / 100];
  auto report = s.ledger()->audit().Verify();
  if (!report || !report->ok) state.SkipWithError("the ledger does not verify after the moves");
}

BENCHMARK(BM_BaselineBareInsert)
    ->ArgName("postgres")
    ->Arg(0)
    ->Arg(1)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_ImportRosterFile)
    ->ArgName("postgres")
    ->Arg(0)
    ->Arg(1)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_ImportChannelFile)
    ->ArgName("postgres")
    ->Arg(0)
    ->Arg(1)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_ImportChannelFileNextToCards)
    ->ArgName("postgres")
    ->Arg(0)
    ->Arg(1)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_ImportChannelFileNextToSameHolders)
    ->ArgName("postgres")
    ->Arg(0)
    ->Arg(1)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_IssueDigitalBatch)
    ->ArgName("postgres")
    ->Arg(0)
    ->Arg(1)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_CountsTenYearsByProvince)
    ->ArgNames({"postgres", "school"})
    ->Args({0, 0})
    ->Args({0, 1})
    ->Args({1, 0})
    ->Args({1, 1})
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_ReplaceDigital)
    ->ArgName("postgres")
    ->Arg(0)
    ->Arg(1)
    ->Iterations(500)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_ConcurrentFindCard)->Threads(1)->Threads(4)->Threads(8)->MinTime(2.0)->UseRealTime();

}  // namespace
}  // namespace lk::ledger

BENCHMARK_MAIN();
