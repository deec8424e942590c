// TrustStore and Judge against the real service on 127.0.0.1: each verdict, revocation after a
// refresh, ETags, offline use of the cache with its age, a stale cache, a replayed older list.
#include <gtest/gtest.h>

#include <map>

#include "scan/scan.h"
#include "tests/scan/live_issuer.h"

namespace lk::scan {
namespace {
using namespace std::chrono_literals;

// Passes every GET to libcurl, keeping the last body per URL; or, once `replay` is set for a URL,
// answers 200 with that body instead.
class RecordingGetter final : public HttpGetter {
 public:
  Result<HttpReply> Get(const std::string& url, const std::string& inm) override {
    if (auto it = replay.find(url); it != replay.end()) return HttpReply{200, it->second, "\"replayed\""};
    auto r = curl_->Get(url, inm);
    if (r && r->status == 200) bodies[url] = r->body;
    return r;
  }
  std::map<std::string, std::string> bodies, replay;

 private:
  std::unique_ptr<HttpGetter> curl_ = CurlGetter(1s, 5s);
};

class TrustStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<TrustStore> Store(std::chrono::seconds max_age = 72h) {
    auto s =
        TrustStore::Open({issuer_.url(), "https://lerarenkaart.be", cache_.path(), max_age}, http_, clock_);
    EXPECT_TRUE(s) << s.error().message;
    return std::move(*s);
  }
  Knowledge Refresh(TrustStore& s) {
    auto k = s.Refresh();
    EXPECT_TRUE(k) << k.error().message;
    return k.value_or(Knowledge{});
  }
  testing::LiveIssuer issuer_;
  testing::TempDir cache_;
  RecordingGetter http_;
  FakeClock clock_{SystemClock().Now()};
};

TEST_F(TrustStoreTest, ValidCardIsValidWithSerialAndYear) {
  std::string serial;
  std::string token = issuer_.IssueCard("L1", &serial);
  auto store = Store();
  auto k = Refresh(*store);
  EXPECT_TRUE(k.online);
  EXPECT_EQ(k.age, 0s);
  EXPECT_FALSE(k.stale);
  auto v = store->Judge(token);
  EXPECT_EQ(v.outcome, Outcome::kValid) << v.reason;
  EXPECT_EQ(v.serial, serial);
  EXPECT_EQ(v.year, issuer_.year());
  EXPECT_EQ(v.Sentence(Lang::kNl),
            "Geldige Lerarenkaart " + std::to_string(issuer_.year()) + " (kaart " + serial + ").");
  EXPECT_NE(v.ToJson(Lang::kEn).find(R"("verdict":"valid")"), std::string::npos);
  EXPECT_EQ(store->Judge("  " + token + "\r\n").outcome, Outcome::kValid);  // as a scanner types it
}

TEST_F(TrustStoreTest, RevokedCardIsRevokedOnceTheListIsRefreshed) {
  std::string serial;
  std::string token = issuer_.IssueCard("L2", &serial);
  auto store = Store();
  auto before = Refresh(*store);
  EXPECT_EQ(store->Judge(token).outcome, Outcome::kValid);
  issuer_.Revoke(serial);
  EXPECT_EQ(store->Judge(token).outcome, Outcome::kValid);  // the list held still predates it
  auto after = Refresh(*store);
  EXPECT_GT(after.list_sequence, before.list_sequence);
  EXPECT_EQ(after.list_status, 200);
  auto v = store->Judge(token);
  EXPECT_EQ(v.outcome, Outcome::kRevoked);
  EXPECT_EQ(v.reason, "revoked");
  EXPECT_EQ(v.serial, serial);
  EXPECT_NE(v.Sentence(Lang::kFr).find("Révoquée"), std::string::npos);
}

TEST_F(TrustStoreTest, EachBadCardGetsItsOwnVerdict) {
  int y = issuer_.year();
  std::string expired = issuer_.Token("EXPIRED1", y - 1, std::to_string(y - 1) + "-06-01T10:00:00Z");
  std::string early = issuer_.Token("EARLY1", y + 1);
  std::string other_iss = issuer_.Token("OTHERISS1", y, "", "https://elders.example");
  std::string unknown = testing::TokenOfAnotherKeyring(y);
  std::string forged = testing::Forge(issuer_.IssueCard("L3"));
  auto store = Store();
  Refresh(*store);
  struct Case {
    std::string name, token;
    Outcome outcome;
    std::string reason;
  };
  for (const auto& c :
       std::vector<Case>{{"expired", expired, Outcome::kExpired, "expired"},
                         {"next year", early, Outcome::kNotYetValid, "not_yet_valid"},
                         {"another issuer", other_iss, Outcome::kNotLerarenkaart, "wrong_issuer"},
                         {"a URL", "https://example.com/menu", Outcome::kNotLerarenkaart, "malformed"},
                         {"unknown key", unknown, Outcome::kUnknownKey, "unknown_kid"},
                         {"forged", forged, Outcome::kDamaged, "bad_signature"}}) {
    auto v = store->Judge(c.token);
    EXPECT_EQ(v.outcome, c.outcome) << c.name << ": " << v.reason;
    EXPECT_EQ(v.reason, c.reason) << c.name;
    for (Lang lang : {Lang::kNl, Lang::kFr, Lang::kEn}) {
      std::string sentence = v.Sentence(lang);
      EXPECT_EQ(sentence.find('{'), std::string::npos) << sentence;
      EXPECT_TRUE(sentence.ends_with('.')) << sentence;
    }
  }
  EXPECT_EQ(store->Judge(expired).serial, "EXPIRED1");
  EXPECT_EQ(store->Judge(forged).serial, "");  // nothing vouches for it
}

TEST_F(TrustStoreTest, SecondFetchIsConditionalAndAnswered304) {
  auto store = Store();
  auto first = Refresh(*store);
  EXPECT_EQ(first.jwks_status, 200);
  EXPECT_EQ(first.list_status, 200);
  auto second = Refresh(*store);
  EXPECT_TRUE(second.online);
  EXPECT_EQ(second.jwks_status, 304);
  EXPECT_EQ(second.list_status, 304);
  // A new store on the same cache folder (the next run of the CLI) sends the ETags too.
  auto third = Refresh(*Store());
  EXPECT_EQ(third.jwks_status, 304);
  EXPECT_EQ(third.list_status, 304);
}

TEST_F(TrustStoreTest, OfflineItWorksFromTheCacheAndSaysHowOld) {
  std::string serial;
  std::string good = issuer_.IssueCard("L4", &serial), bad;
  issuer_.Revoke(serial);
  std::string revoked_serial = serial;
  good = issuer_.IssueCard("L5");
  Refresh(*Store());
  issuer_.Stop();
  clock_.Advance(3h);
  auto store = Store();
  auto k = Refresh(*store);
  EXPECT_FALSE(k.online);
  EXPECT_NE(k.offline_reason.find("cannot reach the issuer"), std::string::npos) << k.offline_reason;
  EXPECT_EQ(k.age, 3h);
  EXPECT_FALSE(k.stale);
  EXPECT_EQ(store->Judge(good).outcome, Outcome::kValid);
  EXPECT_EQ(store->Judge(issuer_.Token(revoked_serial, issuer_.year())).outcome, Outcome::kRevoked);
  EXPECT_NE(KnowledgeSentence(k, Lang::kEn).find("Offline: the keys and revocation list are from 3 h ago"),
            std::string::npos)
      << KnowledgeSentence(k, Lang::kEn);
}

TEST_F(TrustStoreTest, AStaleCacheWarnsAndStillAnswers) {
  std::string good = issuer_.IssueCard("L6");
  Refresh(*Store(24h));
  issuer_.Stop();
  clock_.Advance(25h);
  auto store = Store(24h);
  auto k = Refresh(*store);
  EXPECT_TRUE(k.stale);
  EXPECT_EQ(k.age, 25h);
  std::string warning = KnowledgeSentence(k, Lang::kNl);
  EXPECT_NE(warning.find("Let op: de intrekkingslijst is 25 u oud, ouder dan 24 u"), std::string::npos)
      << warning;
  EXPECT_EQ(store->Judge(good).outcome, Outcome::kValid);
  // Past the list's own exp (72 h) the cached list is still used offline, with the warning.
  clock_.Advance(72h);
  auto later = Refresh(*store);
  EXPECT_TRUE(later.stale);
  EXPECT_EQ(store->Judge(good).outcome, Outcome::kValid);
}

TEST_F(TrustStoreTest, NoNetworkAndNoCacheIsAClearError) {
  issuer_.Stop();
  auto k = Store()->Refresh();
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().code, Code::kUnavailable);
  EXPECT_NE(k.error().message.find("no cached copy in " + cache_.path().string()), std::string::npos)
      << k.error().message;
  EXPECT_NE(k.error().message.find("connect to the network once"), std::string::npos);
}

TEST_F(TrustStoreTest, AnOlderListReplayedIsRefusedAndTheNewerOneKept) {
  std::string serial;
  std::string token = issuer_.IssueCard("L7", &serial);
  auto store = Store();
  Refresh(*store);
  std::string list_url = issuer_.url() + "/v1/revocations";
  std::string older = http_.bodies[list_url];
  ASSERT_FALSE(older.empty());
  issuer_.Revoke(serial);
  Refresh(*store);
  ASSERT_EQ(store->Judge(token).outcome, Outcome::kRevoked);
  http_.replay[list_url] = older;
  auto k = Refresh(*store);
  EXPECT_FALSE(k.online);
  EXPECT_NE(k.offline_reason.find("(stale)"), std::string::npos) << k.offline_reason;
  EXPECT_EQ(store->Judge(token).outcome, Outcome::kRevoked);
  // A tampered list is refused the same way.
  http_.replay[list_url] = testing::Forge(older);
  auto tampered = Refresh(*store);
  EXPECT_NE(tampered.offline_reason.find("revocation list is refused"), std::string::npos)
      << tampered.offline_reason;
  EXPECT_EQ(store->Judge(token).outcome, Outcome::kRevoked);
}

TEST_F(TrustStoreTest, ADamagedCacheIsReplacedOnlineAndReportedOffline) {
  std::string token = issuer_.IssueCard("L8");
  Refresh(*Store());
  std::filesystem::path folder;
  for (const auto& e : std::filesystem::directory_iterator(cache_.path())) folder = e.path();
  testing::WriteText(folder / "revocations.jwt", "garbage");
  auto store = Store();
  auto k = Refresh(*store);
  EXPECT_TRUE(k.online);
  EXPECT_EQ(k.list_status, 200);  // the ETag of a copy that failed is not sent
  EXPECT_EQ(store->Judge(token).outcome, Outcome::kValid);
  testing::WriteText(folder / "revocations.jwt", "garbage");
  issuer_.Stop();
  auto offline = Store()->Refresh();
  ASSERT_FALSE(offline);
  EXPECT_EQ(offline.error().code, Code::kDataLoss);
  EXPECT_NE(offline.error().message.find("is damaged"), std::string::npos) << offline.error().message;
  EXPECT_NE(offline.error().message.find("delete it"), std::string::npos) << offline.error().message;
}

TEST(TrustStoreOptionsTest, IssuerMustBeAnHttpUrlAndLangOneOfThree) {
  auto http = CurlGetter();
  SystemClock clock;
  auto s = TrustStore::Open({"lerarenkaart.be", "", "", 72h}, *http, clock);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Code::kInvalidArgument);
  EXPECT_FALSE(ParseLang("de"));
  EXPECT_EQ(ParseLang("fr").value(), Lang::kFr);
  auto store = TrustStore::Open({"https://lerarenkaart.be", "", "", 72h}, *http, clock);
  ASSERT_TRUE(store);
  EXPECT_EQ((*store)->Judge("x").outcome, Outcome::kUnknownKey);  // before any Refresh: nothing trusted
}

}  // namespace
}  // namespace lk::scan
