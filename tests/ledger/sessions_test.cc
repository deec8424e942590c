// Sessions (ledger/sessions.h) on every backend: a session is found by its id until it expires
// (FakeClock), is ended or rebound; kinds do not see each other's sessions; expired ones are
// pruned a bounded number at a time; the per-kind cap ends the oldest first; the table never
// holds the id itself; and a second handle on the ledger (another process, a restarted one) sees
// the same sessions.
#include "ledger/sessions.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "ledger/ledger.h"
#include "tests/ledger/ledger_testing.h"

namespace lk::ledger {
namespace {
using namespace std::chrono;

constexpr auto kDay = hours(24);

class SessionsTest : public testing::LedgerBackendTest {
 protected:
  Sessions& sessions() { return ledger_->sessions(); }
  std::string Create(SessionKind kind, const std::string& subject, seconds lifetime = kDay,
                     int64_t max = 1000) {
    auto id = sessions().Create(kind, subject, lifetime, max);
    EXPECT_TRUE(id.has_value()) << id.error().message;
    return id.value_or("");
  }
  std::optional<Session> Find(SessionKind kind, const std::string& id) {
    auto s = sessions().Find(kind, id);
    EXPECT_TRUE(s.has_value()) << s.error().message;
    return s.value_or(std::nullopt);
  }
  // Rows of `kind` in the table, and what session_counts says of them (they must agree).
  int64_t Rows(const std::string& kind) {
    const std::string counted =
        backend_->Value("SELECT sessions FROM session_counts WHERE kind = '" + kind + "'");
    const std::string rows = backend_->Value("SELECT count(*) FROM sessions WHERE kind = '" + kind + "'");
    EXPECT_EQ(counted, rows) << kind;
    return std::stoll(rows);
  }
};

TEST_P(SessionsTest, ASessionIsFoundUntilItExpires) {
  const Time start = clock_.Now();
  std::string id = Create(SessionKind::kTeacher, "ABCDEFGHJK12", hours(2));
  EXPECT_EQ(id.size(), 43u);
  auto s = Find(SessionKind::kTeacher, id);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->subject, "ABCDEFGHJK12");
  EXPECT_EQ(s->expires, start + hours(2));
  EXPECT_EQ(s->moved_from, "");
  EXPECT_EQ(s->moves, 0);
  EXPECT_GE(s->csrf.size(), 32u);
  EXPECT_EQ(Find(SessionKind::kTeacher, id)->csrf, s->csrf);  // the same token on every request
  EXPECT_EQ(*sessions().Count(SessionKind::kTeacher), 1);

  clock_.Advance(hours(2) - seconds(1));
  EXPECT_TRUE(Find(SessionKind::kTeacher, id).has_value());
  clock_.Advance(seconds(1));  // expires <= now: gone
  EXPECT_FALSE(Find(SessionKind::kTeacher, id).has_value());
  EXPECT_EQ(*sessions().Count(SessionKind::kTeacher), 0);
  auto rebound = sessions().Rebind(SessionKind::kTeacher, id, "ZZZZZZZZZZZZ");
  ASSERT_TRUE(rebound.has_value());
  EXPECT_FALSE(*rebound);  // an expired session does not move
}

TEST_P(SessionsTest, UnknownMalformedAndOtherKindsIdsFindNothing) {
  std::string id = Create(SessionKind::kConsole, "7");
  EXPECT_TRUE(Find(SessionKind::kConsole, id).has_value());
  EXPECT_FALSE(Find(SessionKind::kTeacher, id).has_value());  // a store never reads another kind's
  EXPECT_FALSE(Find(SessionKind::kDesk, id).has_value());
  EXPECT_FALSE(Find(SessionKind::kConsole, "").has_value());
  EXPECT_FALSE(Find(SessionKind::kConsole, id.substr(1)).has_value());
  EXPECT_FALSE(Find(SessionKind::kConsole, std::string(43, 'A')).has_value());
  EXPECT_FALSE(Find(SessionKind::kConsole, id + "x").has_value());
  EXPECT_FALSE(Find(SessionKind::kConsole, std::string(100'000, 'A')).has_value());
  EXPECT_FALSE(*sessions().End(SessionKind::kTeacher, id));  // nor ends it
  EXPECT_TRUE(Find(SessionKind::kConsole, id).has_value());
  EXPECT_FALSE(*sessions().Rebind(SessionKind::kDesk, id, "partner:1"));
  EXPECT_EQ(Find(SessionKind::kConsole, id)->subject, "7");
}

TEST_P(SessionsTest, TheTableHoldsTheIdsHashNeverTheIdNorTheFormToken) {
  std::string id = Create(SessionKind::kTeacher, "ABCDEFGHJK12");
  std::string csrf = Find(SessionKind::kTeacher, id)->csrf;
  EXPECT_EQ(backend_->Value("SELECT id_hash FROM sessions"), HexEncode(Sha256(id)));
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM sessions WHERE id_hash = '" + id + "'"), "0");
  // No column of any row holds the id or the token.
  for (const char* column : {"id_hash", "kind", "subject", "moved_from"})
    for (const std::string& secret : {id, csrf})
      EXPECT_EQ(backend_->Value("SELECT count(*) FROM sessions WHERE " + std::string(column) + " LIKE '%" +
                                secret + "%'"),
                "0")
          << column;
  // Two sessions of one subject have distinct ids and tokens.
  std::string other = Create(SessionKind::kTeacher, "ABCDEFGHJK12");
  EXPECT_NE(other, id);
  EXPECT_NE(Find(SessionKind::kTeacher, other)->csrf, csrf);
}

TEST_P(SessionsTest, RebindMovesTheSubjectAndKeepsIdTokenAndExpiry) {
  std::string id = Create(SessionKind::kTeacher, "AAAAAAAAAAAA");
  auto before = Find(SessionKind::kTeacher, id);
  clock_.Advance(hours(1));
  ASSERT_TRUE(*sessions().Rebind(SessionKind::kTeacher, id, "BBBBBBBBBBBB"));
  auto after = Find(SessionKind::kTeacher, id);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->subject, "BBBBBBBBBBBB");
  EXPECT_EQ(after->moved_from, "AAAAAAAAAAAA");
  EXPECT_EQ(after->moves, 1);
  EXPECT_EQ(after->csrf, before->csrf);
  EXPECT_EQ(after->expires, before->expires);
  // To the subject it already shows: nothing changes, and it still counts as live.
  ASSERT_TRUE(*sessions().Rebind(SessionKind::kTeacher, id, "BBBBBBBBBBBB"));
  EXPECT_EQ(Find(SessionKind::kTeacher, id)->moves, 1);
  ASSERT_TRUE(*sessions().Rebind(SessionKind::kTeacher, id, "CCCCCCCCCCCC"));
  EXPECT_EQ(Find(SessionKind::kTeacher, id)->moved_from, "BBBBBBBBBBBB");
  EXPECT_EQ(Find(SessionKind::kTeacher, id)->moves, 2);
  EXPECT_FALSE(*sessions().Rebind(SessionKind::kTeacher, std::string(43, 'x'), "CCCCCCCCCCCC"));
  auto bad = sessions().Rebind(SessionKind::kTeacher, id, std::string(101, 'S'));
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, Code::kInvalidArgument);
  auto empty = sessions().Create(SessionKind::kTeacher, "", kDay, 10);
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code, Code::kInvalidArgument);
}

TEST_P(SessionsTest, EndEndsOneSessionOnly) {
  std::string a = Create(SessionKind::kDesk, "partner:1"), b = Create(SessionKind::kDesk, "partner:1");
  EXPECT_TRUE(*sessions().End(SessionKind::kDesk, a));
  EXPECT_FALSE(*sessions().End(SessionKind::kDesk, a));  // already ended
  EXPECT_FALSE(Find(SessionKind::kDesk, a).has_value());
  EXPECT_TRUE(Find(SessionKind::kDesk, b).has_value());
  EXPECT_FALSE(*sessions().Rebind(SessionKind::kDesk, a, "partner:2"));
  EXPECT_EQ(Rows("desk"), 1);
}

TEST_P(SessionsTest, ExpiredSessionsArePrunedABoundedNumberPerSignIn) {
  const int64_t n = kSessionPrunePerCreate + 36;
  for (int64_t i = 0; i < n; ++i) Create(SessionKind::kTeacher, "AAAAAAAAAAAA", hours(1));
  Create(SessionKind::kConsole, "1", hours(1));
  EXPECT_EQ(Rows("teacher"), n);
  clock_.Advance(hours(1));
  // One sign-in removes at most kSessionPrunePerCreate expired sessions of its kind, oldest first.
  std::string live = Create(SessionKind::kTeacher, "BBBBBBBBBBBB", hours(1));
  EXPECT_EQ(Rows("teacher"), n - kSessionPrunePerCreate + 1);
  EXPECT_EQ(Rows("console"), 1);  // another kind's expired session waits for its own sign-in
  Create(SessionKind::kTeacher, "BBBBBBBBBBBB", hours(1));
  EXPECT_EQ(Rows("teacher"), 2);
  // Prune (a timer's job) takes every kind, `limit` of each at most.
  auto pruned = sessions().Prune(10);
  ASSERT_TRUE(pruned.has_value()) << pruned.error().message;
  EXPECT_EQ(*pruned, 1);
  EXPECT_EQ(Rows("console"), 0);
  EXPECT_TRUE(Find(SessionKind::kTeacher, live).has_value());
  EXPECT_EQ(*sessions().Prune(10), 0);
}

TEST_P(SessionsTest, TheCapEndsTheOldestSessionsOfThatKindFirst) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(Create(SessionKind::kConsole, std::to_string(i), kDay, 3));
    clock_.Advance(seconds(1));
  }
  std::string teacher = Create(SessionKind::kTeacher, "AAAAAAAAAAAA", kDay, 3);
  EXPECT_EQ(Rows("console"), 3);
  EXPECT_FALSE(Find(SessionKind::kConsole, ids[0]).has_value());
  EXPECT_FALSE(Find(SessionKind::kConsole, ids[1]).has_value());
  for (int i = 2; i < 5; ++i) EXPECT_TRUE(Find(SessionKind::kConsole, ids[i]).has_value()) << i;
  EXPECT_TRUE(Find(SessionKind::kTeacher, teacher).has_value());  // another kind's cap is its own
  // A smaller cap (a new configuration) takes the table down to it at the next sign-in.
  std::string last = Create(SessionKind::kConsole, "9", kDay, 1);
  EXPECT_EQ(Rows("console"), 1);
  EXPECT_TRUE(Find(SessionKind::kConsole, last).has_value());
  // A flood of sign-ins never holds more than the cap.
  for (int i = 0; i < 50; ++i) Create(SessionKind::kDesk, "partner:1", kDay, 20);
  EXPECT_EQ(Rows("desk"), 20);
}

TEST_P(SessionsTest, ASecondHandleOnTheLedgerSharesSessionsAcrossARestart) {
  std::string id = Create(SessionKind::kConsole, "3");
  auto other = Open();
  ASSERT_TRUE(other);
  auto seen = other->sessions().Find(SessionKind::kConsole, id);
  ASSERT_TRUE(seen.has_value() && seen->has_value());
  EXPECT_EQ((*seen)->subject, "3");
  EXPECT_EQ((*seen)->csrf, Find(SessionKind::kConsole, id)->csrf);
  ledger_.reset();  // the first process stops
  ASSERT_TRUE(*other->sessions().End(SessionKind::kConsole, id));
  ledger_ = Open();
  ASSERT_TRUE(ledger_);
  EXPECT_FALSE(Find(SessionKind::kConsole, id).has_value());
}

TEST_P(SessionsTest, ThreadsSigningInAndOutAtOnceKeepTheCountTrue) {
  // Two handles (two processes) and two threads each: creates, finds and ends interleave, and the
  // kept count of rows matches the rows, so the cap stays exact.
  auto other = Open();
  ASSERT_TRUE(other);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      Sessions& store = t % 2 ? other->sessions() : ledger_->sessions();
      for (int i = 0; i < 25; ++i) {
        clock_.Advance(seconds(1));  // sign-ins a second apart: the oldest (by expiry) go first
        auto id = store.Create(SessionKind::kDesk, "partner:" + std::to_string(t), kDay, 1000);
        if (!id) {
          ADD_FAILURE() << "create: " << id.error().message;
          ++failures;
          continue;
        }
        auto found = store.Find(SessionKind::kDesk, *id);
        if (!found || !*found || (*found)->subject != "partner:" + std::to_string(t)) {
          ADD_FAILURE() << "find: " << (found ? "not found" : found.error().message);
          ++failures;
        }
        if (i % 3 != 0) continue;
        if (auto ended = store.End(SessionKind::kDesk, *id); !ended) {
          ADD_FAILURE() << "end: " << ended.error().message;
          ++failures;
        }
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Rows("desk"), 100 - 4 * 9);  // every third of each thread's 25 ended
  // The count kept through it all makes the cap exact.
  Create(SessionKind::kDesk, "partner:9", kDay, 30);
  EXPECT_EQ(Rows("desk"), 30);
}

LK_ON_EVERY_BACKEND(SessionsTest);

}  // namespace
}  // namespace lk::ledger
