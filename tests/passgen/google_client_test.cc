// The REST client against the stand-in Google: OAuth assertion checked by signature, the token
// cache on the fake clock, retries with Retry-After, no retry on 4xx, timeouts, malformed answers
// and a dead network.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "passgen/internal/google_http.h"
#include "tests/passgen/google_fixture.h"

namespace lk::passgen {
namespace {
using json = nlohmann::json;
using std::chrono::milliseconds;
using Fault = testing::GoogleStandIn::Fault;

bool Contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST_F(GoogleTest, CreatesClassThenFindsItUnchangedWithOneCachedAccessToken) {
  auto api = Client();
  auto first = UpsertClass(*api, config_, design_, 2026);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(*first, ClassOutcome::kCreated);
  auto second = UpsertClass(*api, config_, design_, 2026);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(*second, ClassOutcome::kUnchanged);
  EXPECT_TRUE(google_->assertion_errors().empty());
  EXPECT_EQ(google_->token_grants(), 1u);
  EXPECT_EQ(
      google_->CountRequests("GET", "/walletobjects/v1/genericClass/3388000000012345678.lerarenkaart-2026"),
      2u);
  EXPECT_EQ(google_->CountRequests("POST", "/walletobjects/v1/genericClass"), 1u);
  auto stored = google_->classes().at("3388000000012345678.lerarenkaart-2026");
  EXPECT_EQ(stored["multipleDevicesAndHoldersAllowedStatus"], "ONE_USER_ALL_DEVICES");
}

TEST_F(GoogleTest, ChangedClassIsReplacedWithPut) {
  auto api = Client();
  ASSERT_TRUE(UpsertClass(*api, config_, design_, 2026));
  auto cls = json::parse(GenericClassJson(config_, design_, 2026));
  cls["multipleDevicesAndHoldersAllowedStatus"] = "MULTIPLE_HOLDERS";
  ASSERT_TRUE(api->UpdateClass(cls["id"].get<std::string>(), cls.dump()));
  auto again = UpsertClass(*api, config_, design_, 2026);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, ClassOutcome::kUpdated);
  EXPECT_EQ(google_->classes().begin()->second["multipleDevicesAndHoldersAllowedStatus"],
            "ONE_USER_ALL_DEVICES");
}

TEST_F(GoogleTest, AccessTokenIsRenewedOneMinuteBeforeItExpires) {
  auto api = Client();
  ASSERT_TRUE(UpsertClass(*api, config_, design_, 2026));
  clock_.Advance(std::chrono::seconds(3599 - 61));
  ASSERT_TRUE(api->GetClass("3388000000012345678.lerarenkaart-2026"));
  EXPECT_EQ(google_->token_grants(), 1u);
  clock_.Advance(std::chrono::seconds(2));
  ASSERT_TRUE(api->GetClass("3388000000012345678.lerarenkaart-2026"));
  EXPECT_EQ(google_->token_grants(), 2u);
}

TEST_F(GoogleTest, RevokedAccessTokenIsReplacedOnce) {
  auto api = Client();
  ASSERT_TRUE(UpsertClass(*api, config_, design_, 2026));
  google_->RevokeTokens();
  auto r = api->GetClass("3388000000012345678.lerarenkaart-2026");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(google_->token_grants(), 2u);
}

TEST_F(GoogleTest, AssertionSignedByAnotherKeyIsRefusedWithAClearError) {
  signing::KeyConfig other{dir_ / "other"};
  ASSERT_TRUE(signing::InitDevelopmentKeys(other, clock_));
  auto stranger = std::move(*signing::ServiceAccount::Load(other));
  auto api = std::move(*NewWalletClient(*stranger, config_, clock_));
  auto r = api->GetClass("3388000000012345678.lerarenkaart-2026");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kUnauthenticated);
  EXPECT_TRUE(Contains(r.error().message, "invalid_grant: signature does not verify")) << r.error().message;
  EXPECT_EQ(google_->assertion_errors().size(), 1u) << "a 400 from the token endpoint is not retried";
  ASSERT_EQ(logged_.size(), 1u);
  EXPECT_TRUE(Contains(logged_[0], "HTTP 400"));
}

TEST_F(GoogleTest, RetriesOn429HonouringRetryAfter) {
  auto api = Client();
  google_->AddFault({"/walletobjects/v1/genericClass", 429, "3", milliseconds(0), false, 2});
  auto r = UpsertClass(*api, config_, design_, 2026);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(sleeps_.size(), 2u);
  for (auto d : sleeps_) {
    EXPECT_GE(d, milliseconds(3000));
    EXPECT_LE(d, milliseconds(3000 + 10 * 2 / 10 + 1));  // Retry-After plus at most a tenth of the backoff
  }
  EXPECT_EQ(google_->CountRequests("GET", "/walletobjects/v1/genericClass/"), 3u);
}

TEST_F(GoogleTest, RetryAfterAsHttpDateIsHonoured) {
  auto api = Client();
  // The fake clock says 2026-03-01 12:00:00 UTC.
  google_->AddFault(
      {"/walletobjects/v1/genericClass", 503, "Sun, 01 Mar 2026 12:00:04 GMT", milliseconds(0), false, 1});
  ASSERT_TRUE(UpsertClass(*api, config_, design_, 2026));
  ASSERT_EQ(sleeps_.size(), 1u);
  EXPECT_GE(sleeps_[0], milliseconds(4000));
}

TEST_F(GoogleTest, RetryAfterLongerThanTheLimitGivesUpAtOnce) {
  auto api = Client();
  google_->AddFault({"/walletobjects/v1/genericClass", 429, "3600", milliseconds(0), false, 5});
  auto r = api->GetClass("3388000000012345678.lerarenkaart-2026");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kResourceExhausted);
  EXPECT_TRUE(sleeps_.empty());
  EXPECT_EQ(google_->CountRequests("GET", "/walletobjects/v1/genericClass/"), 1u);
}

TEST_F(GoogleTest, ServerErrorsAreRetriedWithGrowingJitteredBackoffThenReported) {
  config_.max_attempts = 4;
  auto api = Client();
  google_->AddFault({"/walletobjects/v1/genericObject/", 500, "", milliseconds(0), false, 100});
  auto r = api->GetObject("3388000000012345678.LK1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kUnavailable);
  EXPECT_TRUE(Contains(r.error().message, "HTTP 500 stand-in fault 500 (after retries)"))
      << r.error().message;
  EXPECT_EQ(google_->CountRequests("GET", "/walletobjects/v1/genericObject/"), 4u);
  ASSERT_EQ(sleeps_.size(), 3u);
  for (size_t i = 0; i < sleeps_.size(); ++i) EXPECT_LE(sleeps_[i], milliseconds(10 << i)) << "attempt " << i;
}

TEST_F(GoogleTest, BackoffIsFullJitterUnderAGrowingCap) {
  std::mt19937_64 rng(42);
  int64_t biggest[6] = {0};
  for (int i = 0; i < 2000; ++i)
    for (int a = 0; a < 6; ++a) {
      auto d = internal::Backoff(a, milliseconds(100), milliseconds(1000), rng).count();
      ASSERT_GE(d, 0);
      ASSERT_LE(d, std::min<int64_t>(100 << a, 1000));
      biggest[a] = std::max(biggest[a], d);
    }
  EXPECT_GT(biggest[2], 300);  // the cap really grows (400 at attempt 2)
  EXPECT_GT(biggest[5], 900);  // and stops at the maximum
  EXPECT_EQ(internal::ParseRetryAfter("7", Time{}), milliseconds(7000));
  EXPECT_EQ(internal::ParseRetryAfter("soon", Time{}), std::nullopt);
  EXPECT_EQ(internal::ParseRetryAfter("", Time{}), std::nullopt);
}

TEST_F(GoogleTest, ClientErrorIsReportedAndLoggedWithoutRetry) {
  auto api = Client();
  google_->AddFault({"/walletobjects/v1/genericObject", 400, "", milliseconds(0), false, 1});
  auto r = api->InsertObject(R"({"id":"3388000000012345678.LK1"})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_TRUE(
      Contains(r.error().message, "POST " + config_.api_url + "/genericObject: HTTP 400 stand-in fault 400"))
      << r.error().message;
  EXPECT_EQ(google_->CountRequests("POST", "/walletobjects/v1/genericObject"), 1u);
  EXPECT_TRUE(sleeps_.empty());
  ASSERT_EQ(logged_.size(), 1u);
  EXPECT_EQ(logged_[0], r.error().message);
}

TEST_F(GoogleTest, MissingAndDuplicateObjectsHaveTheirOwnCodes) {
  auto api = Client();
  EXPECT_EQ(api->GetObject("3388000000012345678.nope").error().code, Code::kNotFound);
  ASSERT_TRUE(UpsertClass(*api, config_, design_, 2026));
  std::string obj = GenericObjectJson(config_, design_, policy_, Card("LK1"), "t", "ACTIVE");
  ASSERT_TRUE(api->InsertObject(obj));
  EXPECT_EQ(api->InsertObject(obj).error().code, Code::kAlreadyExists);
  EXPECT_TRUE(logged_.empty()) << "404 and 409 are answers, not failures";
}

TEST_F(GoogleTest, SlowServerTimesOutAndIsRetriedWithinBounds) {
  config_.total_timeout = milliseconds(300);
  config_.max_attempts = 2;
  auto api = Client();
  ASSERT_TRUE(api->GetObject("x").error().code == Code::kNotFound);  // token fetched while fast
  google_->AddFault({"/walletobjects/v1/genericObject/", 0, "", milliseconds(1500), false, 2});
  auto r = api->GetObject("3388000000012345678.LK1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kUnavailable);
  EXPECT_TRUE(Contains(r.error().message, "Operation timed out")) << r.error().message;
  EXPECT_TRUE(Contains(r.error().message, "after 2 attempts")) << r.error().message;
}

TEST_F(GoogleTest, MalformedResponsesAreErrorsNotCrashes) {
  auto api = Client();
  google_->AddFault({"/walletobjects/v1/genericClass/", 0, "", milliseconds(0), true, 1});
  auto r = api->GetClass("3388000000012345678.lerarenkaart-2026");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kUnavailable);
  EXPECT_TRUE(Contains(r.error().message, "malformed JSON")) << r.error().message;

  auto fresh = Client();
  google_->AddFault({"/token", 0, "", milliseconds(0), true, 1});
  auto t = fresh->GetClass("3388000000012345678.lerarenkaart-2026");
  ASSERT_FALSE(t);
  EXPECT_TRUE(
      Contains(t.error().message, "OAuth token response from " + config_.token_url + ": malformed JSON"))
      << t.error().message;
}

TEST_F(GoogleTest, DeadNetworkIsReportedAfterBoundedRetries) {
  // A port that was free a moment ago: connections are refused.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  config_.token_url = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/token";
  config_.max_attempts = 3;
  auto api = Client();
  auto r = api->GetClass("3388000000012345678.lerarenkaart-2026");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kUnavailable);
  EXPECT_TRUE(Contains(r.error().message, "after 3 attempts")) << r.error().message;
  EXPECT_EQ(sleeps_.size(), 2u);
}

}  // namespace
}  // namespace lk::passgen
