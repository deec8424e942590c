// The real `lerarenkaart serve` while its ledger fails under it: PostgreSQL stopped, crashed and
// restarted under load (a server of the test's own), the SQLite ledger's disk full, its file
// system read-only. Meanwhile clients get 503 with Retry-After and a problem body, never a hang
// or a dropped connection; the service recovers by itself; every card it answered 200/201 for
// is in the ledger afterwards, and `lerarenkaart ledger verify` is clean.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/api/service_fixture.h"
#include "tests/testing/postgres_cluster.h"
#include "tests/testing/scratch_disk.h"

namespace lk::api {
namespace {
using namespace std::chrono;
using ::testing::HasSubstr;
using testing::Http;
using testing::HttpResponse;
using ::testing::Not;

// Client threads that issue cards to staff F<thread>-<n> (each a new card) and verify the
// tokens they got, until stopped. A 503 is checked (Retry-After, problem body naming the
// ledger) and the same card asked for again, as a client would; anything else but success is
// recorded as a problem.
class Load {
 public:
  Load(std::string base_url, std::vector<std::string> staff_auth, std::vector<std::string> partner_auth,
       int year, int issuers)
      : base_(std::move(base_url)),
        staff_(std::move(staff_auth)),
        partner_(std::move(partner_auth)),
        year_(year) {
    for (int t = 0; t < issuers; ++t) threads_.emplace_back([this, t] { Issue(t); });
    threads_.emplace_back([this] { Verify(); });
  }
  ~Load() { Stop(); }
  void Stop() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  size_t acknowledged() {
    std::lock_guard lock(mu_);
    return serials_.size();
  }
  int unavailable() const { return unavailable_; }
  std::set<std::string> serials() {
    std::lock_guard lock(mu_);
    return serials_;
  }
  std::vector<std::string> problems() {
    std::lock_guard lock(mu_);
    return problems_;
  }
  std::string last_unavailable() {
    std::lock_guard lock(mu_);
    return last_503_;
  }
  milliseconds slowest() const { return milliseconds(slowest_ms_.load()); }
  // Waits until `n` more cards than now were acknowledged; false after `limit`.
  bool WaitForMore(size_t n, seconds limit) {
    size_t want = acknowledged() + n;
    for (auto until = steady_clock::now() + limit; steady_clock::now() < until;
         std::this_thread::sleep_for(50ms))
      if (acknowledged() >= want) return true;
    return false;
  }
  // Waits until `n` more 503 answers than now were seen.
  bool WaitForUnavailable(int n, seconds limit) {
    int want = unavailable_ + n;
    for (auto until = steady_clock::now() + limit; steady_clock::now() < until;
         std::this_thread::sleep_for(20ms))
      if (unavailable_ >= want) return true;
    return false;
  }

  static constexpr int kStaffPerThread = 400;

 private:
  // One request, timed; a 503 is checked here. Returns the response, status 0 on a transport error.
  HttpResponse Call(const std::string& path, const std::string& body,
                    const std::vector<std::string>& headers) {
    auto start = steady_clock::now();
    HttpResponse r;
    try {
      r = Http("POST", base_ + path, body, headers);
    } catch (const std::exception& e) {
      Problem(path + ": " + e.what());
    }
    int64_t took = duration_cast<milliseconds>(steady_clock::now() - start).count();
    for (int64_t seen = slowest_ms_; took > seen && !slowest_ms_.compare_exchange_weak(seen, took);) {
    }
    if (r.status == 503) {
      ++unavailable_;
      auto p = nlohmann::json::parse(r.body, nullptr, false);
      std::string detail = p.is_object() ? p.value("detail", "") : "";
      if (r.header("retry-after").empty() ||
          !r.header("content-type").starts_with("application/problem+json") ||
          detail.find("ledger") == std::string::npos)
        Problem(path + ": 503 without Retry-After or a problem body naming the ledger: " + r.body);
      std::lock_guard lock(mu_);
      last_503_ = detail;
    }
    return r;
  }
  void Issue(int thread) {
    for (int n = 1; n <= kStaffPerThread && !stop_;) {
      std::string staff = "F" + std::to_string(thread) + "-" + std::to_string(n);
      auto r = Call("/v1/cards", nlohmann::json{{"staff_id", staff}, {"year", year_}}.dump(), staff_);
      if (r.status == 200 || r.status == 201) {
        auto card = nlohmann::json::parse(r.body, nullptr, false);
        std::lock_guard lock(mu_);
        serials_.insert(card.value("serial", ""));
        tokens_.push_back(card.value("token", ""));
        ++n;
      } else if (r.status == 503) {
        std::this_thread::sleep_for(100ms);  // shorter than Retry-After: the test wants many tries
      } else if (r.status != 0) {
        Problem("issue " + staff + ": " + std::to_string(r.status) + " " + r.body);
        ++n;
      }
    }
  }
  void Verify() {
    for (size_t i = 0; !stop_; ++i) {
      std::string token;
      {
        std::lock_guard lock(mu_);
        if (!tokens_.empty()) token = tokens_[i % tokens_.size()];
      }
      if (token.empty()) {
        std::this_thread::sleep_for(20ms);
        continue;
      }
      auto r = Call("/v1/verify", nlohmann::json{{"token", token}}.dump(), partner_);
      if (r.status == 200 && r.body.find("\"status\":\"active\"") == std::string::npos)
        Problem("verify: " + r.body);
      else if (r.status != 200 && r.status != 503 && r.status != 429 && r.status != 0)
        Problem("verify: " + std::to_string(r.status) + " " + r.body);
      // 429: the partner key's own rate limit (1,000 a second), which this loop without pauses
      // reaches when verifies need not wait for the issuers' writes (PostgreSQL's read pool).
      if (r.status == 503 || r.status == 429) std::this_thread::sleep_for(100ms);
    }
  }
  void Problem(std::string what) {
    std::lock_guard lock(mu_);
    if (problems_.size() < 20) problems_.push_back(std::move(what));
  }

  std::string base_;
  std::vector<std::string> staff_, partner_;
  int year_;
  std::atomic<bool> stop_{false};
  std::atomic<int> unavailable_{0};
  std::atomic<int64_t> slowest_ms_{0};
  std::mutex mu_;
  std::set<std::string> serials_;
  std::vector<std::string> tokens_;
  std::vector<std::string> problems_;
  std::string last_503_;
  std::vector<std::thread> threads_;
};

class LedgerFaultServiceTest : public testing::ServiceFixture {
 protected:
  static constexpr int kIssuers = 3;

  // Points the CLI and the service at `url` (children inherit the environment), then sets up
  // the fixture's data and a roster of the load's staff.
  void SetUpOn(const std::string& url) {
    ::setenv("LK_LEDGER_URL", url.c_str(), 1);
    ServiceFixture::SetUp();
    if (HasFatalFailure()) return;
    std::string roster = testing::kRosterHeader;
    for (int t = 0; t < kIssuers; ++t)
      for (int n = 1; n <= Load::kStaffPerThread; ++n)
        roster += "F" + std::to_string(t) + "-" + std::to_string(n) +
                  ",Voornaam,Achternaam,teaching,GO,basic,12345,2000,no\n";
    lk::testing::WriteText(dir_ / "load-roster.csv", roster);
    auto imp =
        Cli({"import", "roster", (dir_ / "load-roster.csv").string(), "--year", std::to_string(year_)});
    ASSERT_EQ(imp.exit_code, 0) << imp.err;
  }
  void TearDown() override {
    load_.reset();
    server_.reset();
    ::unsetenv("LK_LEDGER_URL");
  }
  void StartLoad() {
    load_ = std::make_unique<Load>(Server().url(""), StaffAuth(), PartnerAuth(), year_, kIssuers);
    ASSERT_TRUE(load_->WaitForMore(20, 60s)) << "no cards issued before the fault";
  }
  // Stops the load and checks its verdict: no answer but success or a proper 503, none slow,
  // the service alive and healthy, every acknowledged card among the ledger's cards (read once
  // the load has stopped), `ledger verify` clean.
  void ExpectNothingLost(const std::function<std::set<std::string>()>& stored_serials) {
    load_->Stop();
    EXPECT_THAT(load_->problems(), ::testing::IsEmpty());
    EXPECT_LT(load_->slowest(), 5s) << "a client waited that long for an answer";
    EXPECT_EQ(::kill(Server().pid(), 0), 0) << "the service died: " << Server().Log();
    EXPECT_EQ(Http("GET", Server().url("/healthz")).status, 200);
    size_t missing = 0;
    const std::set<std::string> stored = stored_serials();
    for (const auto& serial : load_->serials()) missing += !stored.contains(serial);
    EXPECT_EQ(missing, 0u) << "of " << load_->serials().size() << " acknowledged cards";
    auto verify = Cli({"ledger", "verify"});
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  }
  static std::set<std::string> Lines(const std::string& text) {
    std::set<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.insert(line);
    return out;
  }

  std::unique_ptr<Load> load_;
};

class PostgresFaultServiceTest : public LedgerFaultServiceTest {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<lk::testing::PostgresCluster>(dir_.path());
    if (!cluster_->reason().empty()) GTEST_SKIP() << cluster_->reason();
    ASSERT_EQ(cluster_->error(), "");
    SetUpOn(cluster_->url());
  }
  void TearDown() override {
    LedgerFaultServiceTest::TearDown();
    cluster_.reset();
  }
  std::unique_ptr<lk::testing::PostgresCluster> cluster_;
};

// PostgreSQL stopped for two seconds, then crashed and restarted, while three clients issue
// cards and one verifies them.
TEST_F(PostgresFaultServiceTest, RestartUnderLoadAnswers503MeanwhileAndLosesNothing) {
  StartLoad();
  ASSERT_EQ(cluster_->Stop("fast"), "");
  EXPECT_TRUE(load_->WaitForUnavailable(5, 10s)) << "no 503 while the database was down";
  std::this_thread::sleep_for(2s);
  // Clients read a sentence without the database's address; the log says it is unreachable.
  EXPECT_THAT(load_->last_unavailable(), HasSubstr("the ledger cannot be reached or written right now"));
  EXPECT_THAT(load_->last_unavailable(), Not(HasSubstr("127.0.0.1")));
  EXPECT_THAT(Server().Log(), HasSubstr("is unreachable"));
  ASSERT_EQ(cluster_->Start(), "");
  EXPECT_TRUE(load_->WaitForMore(20, 20s)) << "the service did not recover after the database came back";

  ASSERT_EQ(cluster_->Restart("immediate"), "");
  EXPECT_TRUE(load_->WaitForMore(20, 20s)) << "the service did not recover after a database crash";
  ExpectNothingLost([&] { return Lines(cluster_->Sql("SELECT serial FROM cards")); });
}

// While the database is down, /readyz says so (load balancers route around the instance) and
// /healthz does not (the process is alive); partners still get the revocation list signed last,
// whose iat tells its age, instead of nothing.
TEST_F(PostgresFaultServiceTest, OutageKeepsTheSignedRevocationListAndIsNotReady) {
  EXPECT_EQ(Http("GET", Server().url("/readyz")).status, 200);
  auto before = Http("GET", Server().url("/v1/revocations"));
  ASSERT_EQ(before.status, 200) << before.body;
  ASSERT_EQ(cluster_->Stop("fast"), "");
  auto during = Http("GET", Server().url("/v1/revocations"));
  EXPECT_EQ(during.status, 200) << during.body;
  EXPECT_EQ(during.body, before.body);
  auto ready = Http("GET", Server().url("/readyz"));
  testing::Problem(ready, 503);
  EXPECT_FALSE(ready.header("retry-after").empty());
  EXPECT_EQ(Http("GET", Server().url("/healthz")).status, 200);
  EXPECT_THAT(Server().Log(), HasSubstr("serving the revocation list signed at"));
  ASSERT_EQ(cluster_->Start(), "");
  auto start = std::chrono::steady_clock::now();
  while (Http("GET", Server().url("/readyz")).status != 200 && std::chrono::steady_clock::now() - start < 20s)
    std::this_thread::sleep_for(100ms);
  EXPECT_EQ(Http("GET", Server().url("/readyz")).status, 200);
}

class SqliteDiskFaultServiceTest : public LedgerFaultServiceTest {
 protected:
  void SetUp() override {
    disk_ = std::make_unique<lk::testing::ScratchDisk>(dir_ / "disk", "16m");
    if (!disk_->mounted()) GTEST_SKIP() << disk_->error();
    ledger_ = (disk_->path() / "ledger.sqlite").string();
    SetUpOn(ledger_);
  }
  void TearDown() override {
    LedgerFaultServiceTest::TearDown();
    disk_.reset();
  }
  std::set<std::string> StoredSerials() {
    auto r = lk::testing::RunProgram({"sqlite3", "-readonly", ledger_, "SELECT serial FROM cards"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Lines(r.out);
  }
  std::string IntegrityCheck() {
    auto r = lk::testing::RunProgram({"sqlite3", "-readonly", ledger_, "PRAGMA integrity_check"});
    return testing::Trim(r.out + r.err);
  }

  std::unique_ptr<lk::testing::ScratchDisk> disk_;
  std::string ledger_;
};

// The disk fills up under load: issuing answers 503 saying the disk is full while verifying
// goes on; once space is freed the service issues again without a restart.
TEST_F(SqliteDiskFaultServiceTest, FullDiskUnderLoadAnswers503AndRecoversWhenSpaceReturns) {
  StartLoad();
  ASSERT_EQ(disk_->Fill(), "");
  ASSERT_TRUE(load_->WaitForUnavailable(5, 30s)) << "the service kept issuing on a full disk";
  // Clients read a sentence without the server's paths; the log names the file and the remedy.
  EXPECT_THAT(load_->last_unavailable(), HasSubstr("the ledger cannot be reached or written right now"));
  EXPECT_THAT(load_->last_unavailable(), Not(HasSubstr(ledger_)));
  EXPECT_THAT(Server().Log(), HasSubstr("the disk holding the ledger " + ledger_ + " is full"));
  EXPECT_THAT(Server().Log(), HasSubstr("free space, then retry"));
  EXPECT_EQ(IntegrityCheck(), "ok");
  disk_->Free();
  EXPECT_TRUE(load_->WaitForMore(20, 20s)) << "the service did not recover when space returned";
  ExpectNothingLost([&] { return StoredSerials(); });
  EXPECT_EQ(IntegrityCheck(), "ok");
}

// A service started on a read-only file system verifies cards and answers 503 to issuing,
// naming the file system; remounted read-write, it issues again without a restart.
TEST_F(SqliteDiskFaultServiceTest, ReadOnlyFileSystemVerifiesAnd503sIssuingUntilWritable) {
  auto issue = [&](const std::string& staff) {
    return Http("POST", Server().url("/v1/cards"),
                nlohmann::json{{"staff_id", staff}, {"year", year_}}.dump(), StaffAuth());
  };
  auto first = issue("F0-1");
  ASSERT_EQ(first.status, 201) << first.body;
  const std::string token = testing::Json(first)["token"];
  server_.reset();  // a mount with a file open for writing cannot be made read-only
  ASSERT_EQ(disk_->Remount(true), "");

  EXPECT_EQ(Verify(token)["status"], "active");
  auto refused = issue("F0-2");
  auto p = testing::Problem(refused, 503);
  EXPECT_FALSE(refused.header("retry-after").empty());
  // The client reads a sentence without the server's paths; the log says what and where.
  EXPECT_THAT(p.value("detail", ""), HasSubstr("the ledger cannot be reached or written right now"));
  EXPECT_THAT(refused.body, Not(HasSubstr(ledger_)));
  EXPECT_THAT(Server().Log(), HasSubstr("the file system holding the ledger " + ledger_ + " is read-only"));

  ASSERT_EQ(disk_->Remount(false), "");
  auto second = issue("F0-2");
  EXPECT_EQ(second.status, 201) << second.body;
  auto verify = Cli({"ledger", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_EQ(IntegrityCheck(), "ok");
}

}  // namespace
}  // namespace lk::api
