// The real `lerarenkaart serve` on 127.0.0.1:0, driven over HTTP with libcurl (and curl,
// openssl, PyJWT and headless Chromium where a second opinion matters).
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "base/base.h"
#include "signing/signing.h"
#include "tests/api/service_fixture.h"
#include "tests/api/service_harness.h"
#include "tests/passgen/google_stand_in.h"
#include "tests/testing/testing.h"

namespace lk::api {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;
using lk::testing::RunProgram;
using lk::testing::WriteText;
using testing::Http;
using testing::HttpResponse;
using testing::Json;
using testing::kRosterHeader;
using testing::Problem;
using testing::RawConnection;
using testing::ReadAll;
using testing::ServerProcess;
using testing::Trim;

class ServiceTest : public testing::ServiceFixture {};
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

TEST_F(ServiceTest, PrintsWhereToPointABrowserAndAClient) {
  Server();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::string out = Server().Stdout();
  EXPECT_THAT(out, HasSubstr("listening on 127.0.0.1:" + std::to_string(Server().port())));
  EXPECT_THAT(out, HasSubstr("/console"));
  EXPECT_THAT(out, HasSubstr("curl http://127.0.0.1:" + std::to_string(Server().port()) + "/healthz"));
}

TEST_F(ServiceTest, HealthMetricsRequestIdsAndAccessLog) {
  auto h = Http("GET", Server().url("/healthz"), "", {"X-Request-Id: test-req-1"});
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(Json(h)["status"], "ok");
  EXPECT_EQ(Json(h)["ledger"], "sqlite");
  EXPECT_EQ(h.header("x-request-id"), "test-req-1");
  auto generated = Http("GET", Server().url("/healthz"), "", {"X-Request-Id: bad id with spaces"});
  EXPECT_EQ(generated.header("x-request-id").size(), 20u);
  Claim("T1");
  auto m = Http("GET", Server().url("/metrics"));
  EXPECT_EQ(m.status, 200);
  EXPECT_THAT(m.header("content-type"), StartsWith("text/plain; version=0.0.4"));
  EXPECT_THAT(m.body,
              HasSubstr("lk_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"));
  EXPECT_THAT(m.body,
              HasSubstr("lk_http_request_duration_seconds_bucket{route=\"/v1/claims\",le=\"+Inf\"} 1"));
  EXPECT_THAT(m.body, HasSubstr("lk_cards_issued_total 1"));
  EXPECT_THAT(m.body, HasSubstr("lk_verifications_total{outcome=\"active\"} 0"));
  // One JSON line per request, with route templates and no secrets.
  Server().Terminate();
  std::string log = Server().Log();
  EXPECT_THAT(log, HasSubstr("\"request_id\":\"test-req-1\""));
  EXPECT_THAT(log, HasSubstr("\"route\":\"/v1/claims\""));
  EXPECT_THAT(log, Not(HasSubstr(codes_.at("T1"))));
  EXPECT_THAT(log, Not(HasSubstr(staff_)));
  EXPECT_THAT(log, Not(HasSubstr("Voornaam")));
  int lines = 0;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("{\"")) {
      auto j = json::parse(line);
      EXPECT_TRUE(j.contains("method") && j.contains("route") && j.contains("status") &&
                  j.contains("duration_ms") && j.contains("request_id"))
          << line;
      ++lines;
    }
  EXPECT_EQ(lines, 4);
}

TEST_F(ServiceTest, JwksAndOpenApiCarryValidators) {
  auto j = Http("GET", Server().url("/.well-known/jwks.json"));
  ASSERT_EQ(j.status, 200);
  EXPECT_THAT(j.header("cache-control"), HasSubstr("max-age="));
  std::string etag = j.header("etag");
  ASSERT_THAT(etag, StartsWith("\""));
  EXPECT_FALSE(Json(j)["keys"].empty());
  auto again = Http("GET", Server().url("/.well-known/jwks.json"), "", {"If-None-Match: " + etag});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  auto other = Http("GET", Server().url("/.well-known/jwks.json"), "", {"If-None-Match: \"something-else\""});
  EXPECT_EQ(other.status, 200);
  auto o = Http("GET", Server().url("/openapi.json"));
  ASSERT_EQ(o.status, 200);
  // 15 API paths, 4 of the pass web service, 11 of the teacher's pages, 8 of the desk, 10 of the
  // console
  EXPECT_EQ(Json(o)["paths"].size(), 48u);
}

TEST_F(ServiceTest, UnknownRoutesAndMethodsAreProblems) {
  auto p = Problem(Http("GET", Server().url("/v1/nothing")), 404);
  EXPECT_THAT(p["detail"].get<std::string>(), HasSubstr("/v1/nothing"));
  auto wrong_method = Http("GET", Server().url("/v1/verify"));
  EXPECT_THAT(Problem(wrong_method, 405)["detail"].get<std::string>(), HasSubstr("GET"));
  EXPECT_EQ(wrong_method.header("allow"), "POST");
  EXPECT_EQ(Problem(Http("DELETE", Server().url("/healthz")), 405)["title"], "Method not allowed");
  EXPECT_EQ(Http("DELETE", Server().url("/healthz")).header("allow"), "GET, HEAD");
  auto unknown_card =
      Http("GET", Server().url("/v1/cards/NOSUCHCARD000/pass.pkpass"), "", {"Authorization: Bearer x"});
  EXPECT_EQ(Problem(unknown_card, 401)["field"], "Authorization");  // no serial probing
}

TEST_F(ServiceTest, BadJsonNamesTheField) {
  auto post = [&](const std::string& body) {
    return Http("POST", Server().url("/v1/verify"), body, PartnerAuth());
  };
  EXPECT_EQ(Problem(post("{\"token\": "), 400)["field"], "body");
  EXPECT_EQ(Problem(post("[1,2]"), 400)["field"], "body");
  EXPECT_EQ(Problem(post("{\"token\": 5}"), 400)["field"], "token");
  auto unknown = Problem(post("{\"token\": \"x\", \"tokne\": 1}"), 400);
  EXPECT_EQ(unknown["field"], "tokne");
  EXPECT_THAT(unknown["detail"].get<std::string>(), HasSubstr("unknown field"));
  EXPECT_EQ(Problem(post("{}"), 400)["field"], "token");
  auto year =
      Http("POST", Server().url("/v1/cards"), "{\"staff_id\": \"T1\", \"year\": \"2026\"}", StaffAuth());
  EXPECT_EQ(Problem(year, 400)["field"], "year");
  auto form = Http("POST", Server().url("/v1/verify"), "token=x", {"Authorization: Bearer " + partner_});
  EXPECT_EQ(Problem(form, 400)["field"], "body");
}

TEST_F(ServiceTest, OversizedBodiesAre413) {
  std::string big = json{{"token", std::string(5000, 'a')}}.dump();
  auto p = Problem(Http("POST", Server().url("/v1/verify"), big, PartnerAuth()), 413);
  EXPECT_THAT(p["detail"].get<std::string>(), HasSubstr("4096"));
  // Over the import limit the body is refused unread; the answer still is a problem document.
  std::string huge(2'100'000, 'x');
  auto h = Http("POST", Server().url("/v1/imports/roster?year=" + std::to_string(year_)), huge,
                {"Authorization: Bearer " + staff_, "Content-Type: text/csv"});
  Problem(h, 413);
}

TEST_F(ServiceTest, MissingOrWrongCredentialsAre401) {
  auto none =
      Http("POST", Server().url("/v1/verify"), "{\"token\":\"x\"}", {"Content-Type: application/json"});
  auto p = Problem(none, 401);
  EXPECT_EQ(p["field"], "Authorization");
  EXPECT_THAT(none.header("www-authenticate"), StartsWith("Bearer"));
  Problem(Http("POST", Server().url("/v1/verify"), "{\"token\":\"x\"}", {"Authorization: Bearer lkp_WRONG"}),
          401);
  // A staff token is not a partner key, nor the other way round.
  Problem(Http("POST", Server().url("/v1/verify"), "{\"token\":\"x\"}", StaffAuth()), 401);
  Problem(Http("POST", Server().url("/v1/cards"), "{\"staff_id\":\"T1\"}", PartnerAuth()), 401);
  Problem(Http("GET", Server().url("/v1/reports/adoption")), 401);
}

TEST_F(ServiceTest, RateLimitsAnswer429WithRetryAfter) {
  config_ = WriteConfig("tight.toml", "");
  WriteText(config_, "[server]\nrate_per_address = 0.5\nburst_per_address = 3\n");
  ServerProcess tight(data_, config_);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Http("GET", tight.url("/openapi.json")).status, 200);
  auto limited = Http("GET", tight.url("/openapi.json"));
  Problem(limited, 429);
  EXPECT_GE(std::stoi(limited.header("retry-after")), 1);
  EXPECT_EQ(Http("GET", tight.url("/healthz")).status, 200);  // probes are never limited

  WriteText(config_,
            "[server]\nrate_per_key = 0.1\nburst_per_key = 2\nclaims_per_minute = 1\nclaim_burst = 2\n");
  ServerProcess keyed(data_, config_);
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(Http("POST", keyed.url("/v1/verify"), "{\"token\":\"x\"}", PartnerAuth()).status, 200);
  auto k = Http("POST", keyed.url("/v1/verify"), "{\"token\":\"x\"}", PartnerAuth());
  Problem(k, 429);
  EXPECT_GE(std::stoi(k.header("retry-after")), 5);
  // Claim codes cannot be guessed quickly.
  for (int i = 0; i < 2; ++i)
    Problem(Http("POST", keyed.url("/v1/claims"), "{\"claim_code\":\"AAAA-BBBB-CCCC-DDDD\"}", {}), 404);
  auto c = Http("POST", keyed.url("/v1/claims"), json{{"claim_code", codes_.at("T1")}}.dump(), {});
  Problem(c, 429);
  EXPECT_GE(std::stoi(c.header("retry-after")), 30);
}

TEST_F(ServiceTest, PartnerVerifiesValidRevokedExpiredAndForgedTokens) {
  json card = Claim("T1");
  json v = Verify(card["token"]);
  EXPECT_EQ(v["valid"], true);
  EXPECT_EQ(v["status"], "active");
  EXPECT_EQ(v["serial"], card["serial"]);
  EXPECT_EQ(v["year"], year_);

  auto staff_card = Http("POST", Server().url("/v1/cards"), json{{"staff_id", "T2"}}.dump(), StaffAuth());
  ASSERT_EQ(staff_card.status, 201) << staff_card.body;
  json revoked = Json(staff_card);
  EXPECT_EQ(Verify(revoked["token"])["status"], "active");
  auto rv = Http("POST", Server().url("/v1/cards/" + revoked["serial"].get<std::string>() + "/revoke"),
                 "{\"reason\":\"lost\"}", StaffAuth());
  ASSERT_EQ(rv.status, 200) << rv.body;
  v = Verify(revoked["token"]);
  EXPECT_EQ(v["valid"], false);
  EXPECT_EQ(v["status"], "revoked");
  EXPECT_EQ(v["reason"], "revoked");

  // A token of an earlier card year, signed by our key but past its validity.
  int old = year_ - 2;
  auto t = Cli({"token", "issue", "--serial", card["serial"], "--year", std::to_string(old), "--at",
                std::to_string(old) + "-03-01T12:00:00Z"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  v = Verify(Trim(t.out));
  EXPECT_EQ(v["valid"], false);
  EXPECT_EQ(v["status"], "expired");
  EXPECT_EQ(v["reason"], "expired");

  std::string forged = card["token"];
  forged[forged.size() - 3] = forged[forged.size() - 3] == 'A' ? 'B' : 'A';
  v = Verify(forged);
  EXPECT_EQ(v["valid"], false);
  EXPECT_EQ(v["status"], "invalid");
  EXPECT_FALSE(v["reason"].get<std::string>().empty());

  // Signed by us, but for a serial the ledger never issued.
  auto stray = Cli({"token", "issue", "--serial", "ZZZZZZZZZZZZ", "--year", std::to_string(year_)});
  v = Verify(Trim(stray.out));
  EXPECT_EQ(v["status"], "invalid");
  EXPECT_EQ(v["reason"], "unknown_serial");

  auto m = Http("GET", Server().url("/metrics")).body;
  EXPECT_THAT(m, HasSubstr("lk_verifications_total{outcome=\"active\"} 2"));
  EXPECT_THAT(m, HasSubstr("lk_verifications_total{outcome=\"revoked\"} 1"));
  EXPECT_THAT(m, HasSubstr("lk_verifications_total{outcome=\"expired\"} 1"));
  EXPECT_THAT(m, HasSubstr("lk_verifications_total{outcome=\"invalid\"} 2"));
}

// Verify answers revocation from memory, refreshed from the ledger every second: a revocation by
// another writer on the same ledger (here the CLI) is seen within the documented bound of 2 s.
TEST_F(ServiceTest, RevocationsByAnotherWriterAreSeenWithinTheBound) {
  json card = Claim("T3");
  EXPECT_EQ(Verify(card["token"])["status"], "active");  // now known to this instance
  auto revoke = Cli({"ledger", "revoke", "--serial", card["serial"], "--reason", "stolen"});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.err;
  auto start = std::chrono::steady_clock::now();
  std::string status;
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
    status = Verify(card["token"])["status"];
    if (status == "revoked") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(status, "revoked");
  // Not a timing test of the machine: the bound is the refresh period (1 s) plus one query; 5 s
  // leaves room for a loaded machine while still failing if refreshes stopped altogether.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// The service writes each response in one piece and keeps reading the same connection:
// two pipelined requests in one write get two answers, in order.
TEST_F(ServiceTest, PipelinedRequestsOnOneConnectionAreAnsweredInOrder) {
  int port = Server().port();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string two =
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: first\r\n\r\n"
      "GET /v1/nowhere HTTP/1.1\r\nHost: x\r\nX-Request-Id: second\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(::send(fd, two.data(), two.size(), 0), static_cast<ssize_t>(two.size()));
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, static_cast<size_t>(n));
  ::close(fd);
  size_t first = got.find("HTTP/1.1 200"), second = got.find("HTTP/1.1 404");
  ASSERT_NE(first, std::string::npos) << got;
  ASSERT_NE(second, std::string::npos) << got;
  EXPECT_LT(first, second);
  EXPECT_LT(got.find("X-Request-Id: first"), second);
  EXPECT_GT(got.find("X-Request-Id: second"), second);
  EXPECT_THAT(got, HasSubstr("\"status\":\"ok\""));
  EXPECT_THAT(got, HasSubstr("application/problem+json"));
}

// Idle keep-alive connections hold no thread: with 2 threads, 200 open keep-alive connections
// neither stop a new client from being served nor lose their own keep-alive (each is answered
// again on the same connection). With a thread per connection the third connection would wait
// for the keep-alive timeout (5 s) of the first two.
TEST_F(ServiceTest, ManyIdleKeepAliveConnectionsDoNotBlockANewClient) {
  config_ = WriteConfig("small-pool.toml", "max_connections_per_address = 300", "threads = 2");
  int port = Server().port();
  const std::string healthz = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 200; ++i) {
    idle.push_back(std::make_unique<RawConnection>(port));
    ASSERT_TRUE(idle.back()->connected()) << i;
    ASSERT_TRUE(idle.back()->Send(healthz)) << i;
    ASSERT_THAT(idle.back()->ReadResponse(), StartsWith("HTTP/1.1 200")) << "connection " << i;
  }
  RawConnection fresh(port);
  ASSERT_TRUE(fresh.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  EXPECT_THAT(fresh.ReadResponse(), StartsWith("HTTP/1.1 200"));
  EXPECT_EQ(Http("GET", Server().url("/healthz")).status, 200);  // libcurl too
  for (size_t i = 0; i < idle.size(); i += 10) {
    ASSERT_TRUE(idle[i]->Send(healthz)) << i;
    EXPECT_THAT(idle[i]->ReadResponse(), StartsWith("HTTP/1.1 200")) << "second request on connection " << i;
  }
  // The pool stays small: no thread per connection.
  std::string status = ReadAll("/proc/" + std::to_string(Server().pid()) + "/status");
  size_t at = status.find("Threads:");
  ASSERT_NE(at, std::string::npos);
  EXPECT_LT(std::stoi(status.substr(at + 8)), 20) << "threads with 200 open connections";
  EXPECT_EQ(Server().Terminate(), 0);  // and SIGTERM closes the idle ones promptly
}

// Slowloris: a client dribbling a request head a byte at a time holds no thread (the only one
// keeps answering others) and is closed once the read timeout has passed since its first byte,
// although no single read ever waited that long.
TEST_F(ServiceTest, SlowPartialRequestDoesNotHoldAWorkerAndIsClosedAfterTheReadTimeout) {
  config_ = WriteConfig("slow.toml", "read_timeout_seconds = 2", "threads = 1");
  int port = Server().port();
  RawConnection slow(port);
  ASSERT_TRUE(slow.connected());
  const std::string head = "POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
  auto start = std::chrono::steady_clock::now();
  int served = 0;
  bool closed = false;
  // 4 s of one byte every 250 ms, a request to /healthz between bytes.
  for (size_t i = 0; i < 16 && !closed; ++i) {
    if (!slow.Send(head.substr(i, 1)) || slow.ClosedByPeer()) {
      closed = true;
      break;
    }
    RawConnection other(port, 1500);
    ASSERT_TRUE(other.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    if (other.ReadResponse().starts_with("HTTP/1.1 200")) ++served;
    std::this_thread::sleep_until(start + std::chrono::milliseconds(250 * (i + 1)));
  }
  closed = closed || slow.ClosedByPeer();
  auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  EXPECT_TRUE(closed) << "the partial request was still open after " << elapsed.count() << " ms";
  EXPECT_GE(served, 8) << "requests answered while the partial request was open";
  EXPECT_EQ(Http("GET", Server().url("/healthz")).status, 200);
}

// A body trickled far below 16 kB/s is cut off once the read timeout has passed, although no
// single read waited that long.
TEST_F(ServiceTest, TrickledLargeBodyIsCutOffAfterTheReadTimeout) {
  config_ = WriteConfig("slow-body.toml", "read_timeout_seconds = 2", "threads = 1");
  int port = Server().port();
  RawConnection slow(port, 1000);
  ASSERT_TRUE(slow.connected());
  ASSERT_TRUE(slow.Send("POST /v1/imports/roster?year=" + std::to_string(year_) +
                        " HTTP/1.1\r\nHost: x\r\n"
                        "Authorization: Bearer " +
                        staff_ +
                        "\r\nContent-Type: text/csv\r\n"
                        "Content-Length: 200000\r\n\r\n" +
                        kRosterHeader));
  auto start = std::chrono::steady_clock::now();
  bool cut = false;
  // 100 bytes every 250 ms (400 B/s) for 4 s.
  for (int i = 1; i <= 16 && !cut; ++i) {
    std::this_thread::sleep_until(start + std::chrono::milliseconds(250 * i));
    cut = !slow.Send(std::string(99, 'x') + "\n") || slow.ClosedByPeer();
  }
  EXPECT_TRUE(cut || slow.WaitClosed()) << "a body trickled at 400 B/s was still being read after 4 s";
  EXPECT_EQ(Http("GET", Server().url("/healthz")).status, 200);  // still serving
}

// `partners remove` / `staff remove` delete a credential (audited); a new instance refuses it at
// once. A running instance stops accepting it when its 10 s authentication cache lapses:
// ServiceClockTest.RemovedCredentialStopsWorkingWhenTheCacheLapses moves the clock for that.
TEST_F(ServiceTest, RemovedCredentialsStopWorking) {
  auto temp = Cli({"partners", "add", "Temporary"});
  ASSERT_EQ(temp.exit_code, 0) << temp.err;
  std::vector<std::string> auth = {"Authorization: Bearer " + Trim(temp.out)};
  std::string scan = json{{"token", Claim("T4")["token"]}}.dump();
  EXPECT_EQ(Http("POST", Server().url("/v1/verify"), scan, auth).status, 200);
  auto removed = Cli({"partners", "remove", "Temporary"});
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_THAT(removed.err, HasSubstr("partner credential 'Temporary' removed"));
  auto again = Cli({"partners", "remove", "Temporary"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("there is no partner credential named 'Temporary'"));
  EXPECT_EQ(Cli({"staff", "remove", "Museum M"}).exit_code, 1);  // a partner's name is not a staff credential
  ServerProcess fresh(data_, config_);
  EXPECT_EQ(Http("POST", fresh.url("/v1/verify"), scan, auth).status, 401);
  EXPECT_EQ(Http("POST", fresh.url("/v1/verify"), scan, PartnerAuth()).status, 200);
  // The removal is in the audit chain, which still verifies.
  auto chain = Cli({"ledger", "verify"});
  EXPECT_EQ(chain.exit_code, 0) << chain.out << chain.err;
}

// `keys rotate` then SIGHUP: the running service publishes the new key, signs new card tokens
// with it and still accepts tokens signed with the old one.
TEST_F(ServiceTest, SighupReloadsRotatedKeysWithoutRestart) {
  auto kid_of = [](const std::string& jws) {
    auto header = Base64UrlDecode(jws.substr(0, jws.find('.')));
    return header ? json::parse(*header, nullptr, false).value("kid", "") : "";
  };
  // The token keys of a JWK Set (the revocation-list key is published beside them).
  auto token_keys = [](const json& set) {
    json out = json::array();
    for (const auto& k : set["keys"])
      if (k.value("use", "") == "sig") out.push_back(k);
    return out;
  };
  json before = Claim("T5");
  auto jwks = Json(Http("GET", Server().url("/.well-known/jwks.json")));
  ASSERT_EQ(token_keys(jwks).size(), 1u);
  std::string old_kid = token_keys(jwks)[0]["kid"];
  EXPECT_EQ(kid_of(before["token"]), old_kid);
  auto rotated = Cli({"keys", "rotate"});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  std::string new_kid = Trim(rotated.out.substr(rotated.out.rfind(' ') + 1));
  ASSERT_NE(new_kid, old_kid);
  EXPECT_EQ(token_keys(Json(Http("GET", Server().url("/.well-known/jwks.json")))).size(),
            1u);  // not before SIGHUP
  ASSERT_EQ(kill(Server().pid(), SIGHUP), 0);
  auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(10) && token_keys(jwks).size() < 2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    jwks = Json(Http("GET", Server().url("/.well-known/jwks.json")));
  }
  ASSERT_EQ(token_keys(jwks).size(), 2u) << jwks.dump();
  EXPECT_THAT(jwks.dump(), HasSubstr(new_kid));
  json after = Claim("T6");
  EXPECT_EQ(kid_of(after["token"]), new_kid);
  EXPECT_EQ(Verify(after["token"])["status"], "active");
  EXPECT_EQ(Verify(before["token"])["status"], "active");  // the old key stays published
  // The revocation list keeps its own key, published beside the token keys with its own use.
  std::string list_kid = kid_of(Http("GET", Server().url("/v1/revocations")).body);
  EXPECT_NE(list_kid, new_kid);
  EXPECT_NE(list_kid, old_kid);
  bool published = false;
  for (const auto& k : jwks["keys"]) published |= k["kid"] == list_kid && k["use"] == "lk-revocations";
  EXPECT_TRUE(published) << jwks.dump();
  EXPECT_THAT(Server().Log(), HasSubstr("SIGHUP: token keys reloaded"));
  EXPECT_EQ(Http("GET", Server().url("/healthz")).status, 200);  // still serving
}

// The signed revocation list: its own key (never a token key), iat and exp, and a sequence number
// that grows with every revocation and is the same from every instance on the ledger, so that a
// partner holding a list can refuse an older one replayed to it.
TEST_F(ServiceTest, RevocationListIsSignedAndRevalidates) {
  std::vector<std::string> serials;
  for (const char* who : {"T4", "T5"}) {
    auto r = Http("POST", Server().url("/v1/cards"), json{{"staff_id", who}}.dump(), StaffAuth());
    serials.push_back(Json(r)["serial"]);
  }
  ASSERT_EQ(
      Http("POST", Server().url("/v1/cards/" + serials[0] + "/revoke"), "{\"reason\":\"left\"}", StaffAuth())
          .status,
      200);
  auto doc = Http("GET", Server().url("/v1/revocations"));
  ASSERT_EQ(doc.status, 200);
  EXPECT_THAT(doc.header("content-type"), StartsWith("application/jwt"));
  std::string etag = doc.header("etag");
  ASSERT_FALSE(etag.empty());
  WriteText(dir_ / "jwks.json", Http("GET", Server().url("/.well-known/jwks.json")).body);
  // PyJWT checks it with the published key of its kid, which must be the revocation-list key.
  auto decode = [&](const std::string& jws) {
    WriteText(dir_ / "doc.jws", jws);
    return json::parse(Python(R"py(
import json, sys, jwt
jwks = json.load(open(sys.argv[1]))
tok = open(sys.argv[2]).read()
header = jwt.get_unverified_header(tok)
jwk = [k for k in jwks["keys"] if k["kid"] == header["kid"]][0]
assert jwk["use"] == "lk-revocations", jwk
assert header["typ"] == "lk-revocations+jwt", header
key = jwt.PyJWK(jwk, algorithm="ES256").key
print(json.dumps(jwt.decode(tok, key, algorithms=["ES256"], options={"require": ["iat", "exp"]})))
)py",
                              {(dir_ / "jwks.json").string(), (dir_ / "doc.jws").string()}));
  };
  json p = decode(doc.body);
  EXPECT_EQ(p["revoked"][std::to_string(year_)], json::array({serials[0]}));
  int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  EXPECT_NEAR(p["iat"].get<int64_t>(), now, 120);
  EXPECT_EQ(p["exp"].get<int64_t>() - p["iat"].get<int64_t>(), 72 * 3600);
  int64_t first_seq = p["seq"];
  EXPECT_GT(first_seq, 0);
  EXPECT_EQ(Http("GET", Server().url("/v1/revocations"), "", {"If-None-Match: " + etag}).status, 304);
  ASSERT_EQ(
      Http("POST", Server().url("/v1/cards/" + serials[1] + "/revoke"), "{\"reason\":\"left\"}", StaffAuth())
          .status,
      200);
  auto changed = Http("GET", Server().url("/v1/revocations"), "", {"If-None-Match: " + etag});
  EXPECT_EQ(changed.status, 200);
  EXPECT_NE(changed.header("etag"), etag);
  json q = decode(changed.body);
  EXPECT_GT(q["seq"].get<int64_t>(), first_seq);
  EXPECT_EQ(q["revoked"][std::to_string(year_)].size(), 2u);
  // A second instance on the same ledger, started later, says the same sequence number.
  ServerProcess other(data_, config_);
  EXPECT_EQ(decode(Http("GET", other.url("/v1/revocations")).body)["seq"], q["seq"]);
}

TEST_F(ServiceTest, TeacherClaimsDownloadsThePassAndFollowsTheGoogleLink) {
  json card = Claim("T3");
  for (const char* k : {"serial", "year", "token", "access_token", "pass_url", "google_url"})
    EXPECT_TRUE(card.contains(k)) << k;
  std::string serial = card["serial"];
  EXPECT_EQ(card["pass_url"], "/v1/cards/" + serial + "/pass.pkpass");
  json again = Claim("T3", 200);  // a retry answers again, idempotently
  EXPECT_EQ(again["serial"], serial);
  EXPECT_EQ(again["token"], card["token"]);
  EXPECT_EQ(Problem(Http("POST", Server().url("/v1/claims"), "{\"claim_code\":\"0000-0000-0000-0000\"}", {}),
                    404)["field"],
            "claim_code");
  EXPECT_EQ(Problem(Http("POST", Server().url("/v1/claims"), "{\"claim_code\":\"nope\"}", {}), 400)["field"],
            "claim_code");

  std::vector<std::string> auth = {"Authorization: Bearer " + card["access_token"].get<std::string>()};
  auto pass = Http("GET", Server().url(card["pass_url"]), "", auth);
  ASSERT_EQ(pass.status, 200) << pass.body;
  EXPECT_EQ(pass.header("content-type"), "application/vnd.apple.pkpass");
  std::string etag = pass.header("etag");
  ASSERT_THAT(etag, StartsWith("\""));  // strong
  EXPECT_EQ(Http("GET", Server().url(card["pass_url"]), "", {auth[0], "If-None-Match: " + etag}).status, 304);
  auto second = Http("GET", Server().url(card["pass_url"]), "", auth);
  EXPECT_EQ(second.body, pass.body);  // a strong validator means byte-identical
  Problem(Http("GET", Server().url(card["pass_url"]), "", {"Authorization: Bearer " + std::string(32, 'A')}),
          401);
  Problem(Http("GET", Server().url(card["pass_url"])), 401);

  // Validate the pass as the pass issue does: manifest hashes and a CMS signature openssl accepts.
  WriteText(dir_ / "card.pkpass", pass.body);
  fs::path x = dir_ / "pkpass";
  auto unzip = RunProgram({"unzip", "-q", "-o", (dir_ / "card.pkpass").string(), "-d", x.string()});
  ASSERT_EQ(unzip.exit_code, 0) << unzip.err;
  json manifest = json::parse(ReadAll(x / "manifest.json"));
  for (auto& [file, sha1] : manifest.items())
    EXPECT_EQ(HexEncode(Sha1(ReadAll(x / file))), sha1.get<std::string>()) << file;
  json pj = json::parse(ReadAll(x / "pass.json"));
  EXPECT_EQ(pj["serialNumber"], serial);
  EXPECT_EQ(pj["barcodes"][0]["message"], card["token"]);
  // The pass's web-service secret is the card's own (the ledger's), the one the service checks.
  EXPECT_EQ(pj["authenticationToken"], card["access_token"]);
  fs::path keys = data_ / "keys";
  auto cms = RunProgram({"openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in",
                         (x / "signature").string(), "-content", (x / "manifest.json").string(), "-CAfile",
                         (keys / "dev-root-ca.pem").string(), "-purpose", "any", "-out", "/dev/null"});
  EXPECT_EQ(cms.exit_code, 0) << cms.err;
  EXPECT_THAT(cms.err, HasSubstr("Verification successful"));

  auto google = Http("GET", Server().url(card["google_url"]), "", auth);
  ASSERT_EQ(google.status, 302) << google.body;
  std::string location = google.header("location");
  ASSERT_THAT(location, StartsWith("https://pay.google.com/gp/v/save/"));
  WriteText(dir_ / "save.jwt", location.substr(std::string("https://pay.google.com/gp/v/save/").size()));
  std::string claims =
      Python(R"py(
import json, sys, jwt
from cryptography.hazmat.primitives import serialization
sa = json.load(open(sys.argv[1]))
pub = serialization.load_pem_private_key(sa["private_key"].encode(), None).public_key()
print(json.dumps(jwt.decode(open(sys.argv[2]).read(), pub, algorithms=["RS256"], audience="google")))
)py",
             {(keys / "google-service-account.json").string(), (dir_ / "save.jwt").string()});
  json c = json::parse(claims);
  EXPECT_EQ(c["typ"], "savetowallet");
  EXPECT_EQ(c["payload"]["genericObjects"][0]["id"], "3388000000012345678." + serial);
}

// With [google] use_api = true the redirect first creates the object through the Wallet API (a
// stand-in Google on 127.0.0.1 that checks the OAuth assertion and the bearer token), and a
// revocation sets the object INACTIVE; a failure there is logged and the revocation stands.
TEST_F(ServiceTest, GoogleRedirectCreatesTheObjectFirstAndRevocationDeactivatesIt) {
  auto init = Cli({"keys", "init"});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  signing::KeyConfig keys{data_ / "keys"};
  auto account = signing::ServiceAccount::Load(keys);
  ASSERT_TRUE(account) << account.error().message;
  lk::testing::GoogleStandIn google((*account)->PublicKeyPem(), (*account)->client_email());
  WriteText(dir_ / "google.toml",
            "[server]\nthreads = 8\nrate_per_address = 10000\nburst_per_address = 10000\n"
            "[google]\nissuer_id = \"3388000000012345678\"\nuse_api = true\nmax_attempts = 2\n"
            "timeout_seconds = 5\ntoken_url = \"" +
                google.token_url() + "\"\napi_url = \"" + google.api_url() + "\"\n");
  config_ = dir_ / "google.toml";

  json card = Claim("T4");
  std::string serial = card["serial"], id = "3388000000012345678." + serial;
  std::vector<std::string> auth = {"Authorization: Bearer " + card["access_token"].get<std::string>()};
  EXPECT_TRUE(google.objects().empty());
  auto redirect = Http("GET", Server().url(card["google_url"]), "", auth);
  ASSERT_EQ(redirect.status, 302) << redirect.body << Server().Log();
  EXPECT_THAT(Server().Log(), HasSubstr("Google Wallet objects are created through " + google.api_url()));

  // The object exists, created with a POST that carried a bearer token the stand-in issued.
  auto requests = google.requests();
  auto post = std::find_if(requests.begin(), requests.end(), [](const auto& r) {
    return r.method == "POST" && r.path == "/walletobjects/v1/genericObject";
  });
  ASSERT_NE(post, requests.end());
  EXPECT_EQ(post->status, 200);
  EXPECT_THAT(post->authorization, StartsWith("Bearer "));
  EXPECT_GE(google.token_grants(), 1u);
  EXPECT_TRUE(google.assertion_errors().empty());
  EXPECT_EQ(google.CountRequests("POST", "/walletobjects/v1/genericClass"), 1u);
  json object = google.objects().at(id);
  EXPECT_EQ(object["state"], "ACTIVE");
  EXPECT_EQ(object["header"]["defaultValue"]["value"], "Voornaam4 Achternaam");
  EXPECT_EQ(object["textModulesData"][0]["body"], "School 12344");

  // The Location is a skinny link: its JWT (verified by PyJWT with the account's public key) names only the
  // object.
  std::string location = redirect.header("location");
  ASSERT_THAT(location, StartsWith("https://pay.google.com/gp/v/save/"));
  EXPECT_LT(location.size(), 1800u);
  WriteText(dir_ / "save.jwt", location.substr(std::string("https://pay.google.com/gp/v/save/").size()));
  json claims = json::parse(
      Python(R"py(
import json, sys, jwt
from cryptography.hazmat.primitives import serialization
sa = json.load(open(sys.argv[1]))
pub = serialization.load_pem_private_key(sa["private_key"].encode(), None).public_key()
print(json.dumps(jwt.decode(open(sys.argv[2]).read(), pub, algorithms=["RS256"], audience="google")))
)py",
             {(data_ / "keys" / "google-service-account.json").string(), (dir_ / "save.jwt").string()}));
  EXPECT_EQ(claims["typ"], "savetowallet");
  EXPECT_EQ(claims["iss"], (*account)->client_email());
  EXPECT_EQ(claims["payload"], json({{"genericObjects", {{{"id", id}}}}}));

  // A second visit creates nothing new: the class is known, the object is current.
  ASSERT_EQ(Http("GET", Server().url(card["google_url"]), "", auth).status, 302);
  EXPECT_EQ(google.CountRequests("POST", "/walletobjects/"), 2u);
  EXPECT_EQ(google.CountRequests("GET", "/walletobjects/v1/genericClass"), 1u);

  // Revocation patches the saved object to INACTIVE.
  auto revoked =
      Http("POST", Server().url("/v1/cards/" + serial + "/revoke"), "{\"reason\":\"lost\"}", StaffAuth());
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_EQ(google.CountRequests("PATCH", "/walletobjects/v1/genericObject/" + id), 1u);
  EXPECT_EQ(google.objects().at(id)["state"], "INACTIVE");
  Problem(Http("GET", Server().url(card["google_url"]), "", auth), 409);

  // A card never saved to Google: nothing to patch (404 from Google), nothing logged.
  json never = Claim("T5");
  ASSERT_EQ(Http("POST", Server().url("/v1/cards/" + never["serial"].get<std::string>() + "/revoke"),
                 "{\"reason\":\"lost\"}", StaffAuth())
                .status,
            200);
  EXPECT_THAT(Server().Log(), Not(HasSubstr("not set INACTIVE")));

  // Google refuses the patch: the revocation still stands and the failure is logged.
  json third = Claim("T6");
  std::string third_serial = third["serial"];
  std::vector<std::string> third_auth = {"Authorization: Bearer " + third["access_token"].get<std::string>()};
  ASSERT_EQ(Http("GET", Server().url(third["google_url"]), "", third_auth).status, 302);
  google.AddFault({"/walletobjects/v1/genericObject/3388000000012345678." + third_serial, 403, "",
                   std::chrono::milliseconds(0), false, 1});
  auto refused = Http("POST", Server().url("/v1/cards/" + third_serial + "/revoke"), "{\"reason\":\"lost\"}",
                      StaffAuth());
  EXPECT_EQ(refused.status, 200) << refused.body;
  EXPECT_EQ(Verify(third["token"])["status"], "revoked");
  EXPECT_EQ(google.objects().at("3388000000012345678." + third_serial)["state"], "ACTIVE");
  EXPECT_THAT(Server().Log(), HasSubstr("object of revoked card " + third_serial + " not set INACTIVE"));
}

// An import's errors name the upload ("library.csv:2:2"), never a file on the server.
TEST_F(ServiceTest, ImportErrorsNameTheUploadNotAServerPath) {
  std::vector<std::string> csv = {"Authorization: Bearer " + staff_, "Content-Type: text/csv"};
  auto bad = Problem(Http("POST", Server().url("/v1/imports/library?year=" + std::to_string(year_)),
                          "staff_id,date\nT1,not-a-date\n", csv),
                     400);
  const std::string detail = bad["detail"].get<std::string>();
  EXPECT_THAT(detail, StartsWith("library.csv: 1 bad row; nothing was imported"));
  EXPECT_THAT(detail, HasSubstr("\n  library.csv:2:2 (date): 'not-a-date' is not an ISO date"));
  EXPECT_THAT(detail, Not(HasSubstr("/")));
  EXPECT_THAT(detail, Not(HasSubstr("lk-import")));
  // The same as data: one entry per bad row, with its key and values for a client's own words.
  EXPECT_EQ(bad["whole_file"], json(false));
  EXPECT_EQ(bad["errors"], json::parse(R"j([{"line": 2, "column": 2, "column_name": "date", "key": "date",
      "values": {"value": "not-a-date"}, "detail": "'not-a-date' is not an ISO date (YYYY-MM-DD)"}])j"));
  // A file refused as a whole: one entry, no column.
  auto header = Problem(Http("POST", Server().url("/v1/imports/library?year=" + std::to_string(year_)),
                             "staff,day\nT1,x\n", csv),
                        400);
  EXPECT_EQ(header["whole_file"], json(true));
  EXPECT_EQ(header["errors"], json::parse(R"j([{"line": 1, "column": 0, "key": "missing_columns",
      "values": {"missing": "'staff_id', 'date'", "expected": "staff_id,date"},
      "detail": "the header lacks column 'staff_id', 'date' (expected staff_id,date)"}])j"));
}

TEST_F(ServiceTest, StaffImportsIssuesRevokesAndReadsTheReport) {
  std::string y = std::to_string(year_);
  std::vector<std::string> csv = {"Authorization: Bearer " + staff_, "Content-Type: text/csv"};
  auto ok = Http("POST", Server().url("/v1/imports/subscriptions?year=" + y),
                 "staff_id,date\nT1," + y + "-01-05\nT2," + y + "-01-06\n", csv);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(Json(ok)["added"], 2);
  auto bad = Problem(Http("POST", Server().url("/v1/imports/subscriptions?year=" + y),
                          "staff_id,date\nT1,not-a-date\n", csv),
                     400);
  EXPECT_EQ(bad["field"], "body");
  EXPECT_THAT(bad["detail"].get<std::string>(), HasSubstr("subscriptions.csv:2"));
  EXPECT_EQ(
      Problem(Http("POST", Server().url("/v1/imports/subscriptions"), "staff_id,date\n", csv), 400)["field"],
      "year");
  EXPECT_EQ(Problem(Http("POST", Server().url("/v1/imports/magic?year=" + y), "a\n", csv), 404)["field"],
            "kind");

  auto issued =
      Http("POST", Server().url("/v1/cards"), json{{"staff_id", "T6"}, {"year", year_}}.dump(), StaffAuth());
  ASSERT_EQ(issued.status, 201) << issued.body;
  std::string serial = Json(issued)["serial"];
  auto same = Http("POST", Server().url("/v1/cards"), json{{"staff_id", "T6"}}.dump(), StaffAuth());
  EXPECT_EQ(same.status, 200);
  EXPECT_EQ(Json(same)["serial"], serial);
  EXPECT_EQ(Problem(Http("POST", Server().url("/v1/cards"), "{\"staff_id\":\"NOBODY\"}", StaffAuth()),
                    404)["field"],
            "staff_id");
  std::string revoke = "/v1/cards/" + serial + "/revoke";
  EXPECT_EQ(Problem(Http("POST", Server().url(revoke), "{\"reason\":\"  \"}", StaffAuth()), 400)["field"],
            "reason");
  EXPECT_EQ(Http("POST", Server().url(revoke), "{\"reason\":\"fraud\"}", StaffAuth()).status, 200);
  Problem(Http("POST", Server().url(revoke), "{\"reason\":\"fraud\"}", StaffAuth()), 409);
  Problem(Http("POST", Server().url("/v1/cards/NOSUCHSERIAL/revoke"), "{\"reason\":\"x\"}", StaffAuth()),
          404);
  // The revoked card's pass is now void, under a new validator.
  json card = Json(same);

  auto report = Http("GET", Server().url("/v1/reports/adoption?period=calendar&by=province&format=json"), "",
                     StaffAuth());
  ASSERT_EQ(report.status, 200) << report.body;
  json r = Json(report);
  ASSERT_FALSE(r["rows"].empty()) << report.body;
  EXPECT_EQ(r["rows"][0]["group"], "Antwerpen");
  EXPECT_EQ(r["rows"][0]["cards"]["subscription"], 2);
  EXPECT_EQ(r["rows"][0]["cards"]["digital"], 0);  // the only digital card was revoked
  auto csv_report = Http("GET", Server().url("/v1/reports/adoption?format=csv"), "", StaffAuth());
  EXPECT_THAT(csv_report.header("content-type"), StartsWith("text/csv"));
  auto xlsx_report = Http("GET", Server().url("/v1/reports/adoption?format=xlsx"), "", StaffAuth());
  EXPECT_EQ(xlsx_report.status, 200);
  EXPECT_EQ(xlsx_report.header("content-type"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
  EXPECT_THAT(xlsx_report.header("content-disposition"), StartsWith("attachment; filename="));
  EXPECT_EQ(xlsx_report.body.substr(0, 2), "PK");
  EXPECT_EQ(Problem(Http("GET", Server().url("/v1/reports/adoption?format=csv&part=all"), "", StaffAuth()),
                    400)["field"],
            "part");
  EXPECT_EQ(
      Problem(Http("GET", Server().url("/v1/reports/adoption?period=weekly"), "", StaffAuth()), 400)["field"],
      "period");
  EXPECT_EQ(
      Problem(Http("GET", Server().url("/v1/reports/adoption?format=pdf"), "", StaffAuth()), 400)["field"],
      "format");
}

TEST_F(ServiceTest, TheDashboardIsTheConsoleNowAndNoCookieHoldsTheStaffToken) {
  // An old bookmark with the token in it: no cookie is set from it, the browser lands on the
  // console's sign-in form.
  auto old = Http("GET", Server().url("/dashboard?token=" + staff_ + "&by=province"));
  ASSERT_EQ(old.status, 303) << old.body;
  EXPECT_EQ(old.header("location"), "/console");
  EXPECT_EQ(old.header("set-cookie"), "");
  auto form = Http("GET", Server().url("/console"), "", {"Cookie: lk_staff=" + staff_});
  EXPECT_EQ(form.status, 200);
  EXPECT_THAT(form.body, HasSubstr("action=\"/console/signin\""));
  EXPECT_THAT(form.body, Not(HasSubstr("Antwerpen")));
}

TEST_F(ServiceTest, SigtermFinishesTheRequestInFlightAndLosesNothing) {
  std::string roster = kRosterHeader;
  for (int i = 0; i < 20000; ++i) roster += "S" + std::to_string(i) + ",A,B,teaching,GO,basic,1,2000,no\n";
  WriteText(dir_ / "big.csv", roster);  // about 900 kB, uploaded at 400 kB/s
  int port = Server().port();
  lk::testing::RunResult upload;
  std::thread client([&] {
    upload = RunProgram({"curl", "-sS", "--limit-rate", "400k", "-o", "-", "-w", "\n%{http_code}", "-H",
                         "Authorization: Bearer " + staff_, "-H", "Content-Type: text/csv", "--data-binary",
                         "@" + (dir_ / "big.csv").string(),
                         "http://127.0.0.1:" + std::to_string(port) +
                             "/v1/imports/roster?year=" + std::to_string(year_ + 1)});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  kill(Server().pid(), SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_THROW(Http("GET", Server().url("/healthz")), std::runtime_error);  // no longer accepting
  client.join();
  EXPECT_EQ(Server().Terminate(), 0);
  EXPECT_THAT(upload.out, HasSubstr("\"added\":20000"));
  EXPECT_THAT(upload.out, ::testing::EndsWith("200"));
  EXPECT_THAT(Server().Log(), HasSubstr("stopped"));
  // What was acknowledged is in the ledger.
  auto again = Cli({"import", "roster", (dir_ / "big.csv").string(), "--year", std::to_string(year_ + 1)});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("0 roster entries added, 20000 already present"));
}

TEST_F(ServiceTest, TwoInstancesOnOnePostgresLedgerActAsOne) {
  const char* admin = std::getenv("LK_TEST_POSTGRES_URL");
  if (!admin || !*admin) GTEST_SKIP() << "LK_TEST_POSTGRES_URL is not set";
  std::string db = "lk_api_" + HexEncode(RandomBytes(4));
  auto created = RunProgram({"psql", admin, "-v", "ON_ERROR_STOP=1", "-qc", "CREATE DATABASE " + db});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  std::string url = admin;
  url = url.substr(0, url.rfind('/') + 1) + db;
  auto imp = Cli(
      {"import", "roster", (dir_ / "roster.csv").string(), "--year", std::to_string(year_), "--ledger", url});
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  auto staff = Cli({"staff", "add", "pg-staff", "--ledger", url});
  ASSERT_EQ(staff.exit_code, 0) << staff.err;
  std::vector<std::string> auth = {"Authorization: Bearer " + Trim(staff.out),
                                   "Content-Type: application/json"};
  {
    // Instances acting as one share their public URL (and so the passes' webServiceURL).
    const std::vector<std::string> flags = {"--ledger", url, "--public-url", "https://lerarenkaart.test"};
    ServerProcess a(data_, config_, flags), b(data_, config_, flags);
    EXPECT_EQ(Json(Http("GET", a.url("/healthz")))["ledger"], "postgresql");
    // The same card through both at once: one issues it, the other returns it.
    HttpResponse ra, rb;
    std::thread ta([&] { ra = Http("POST", a.url("/v1/cards"), "{\"staff_id\":\"T1\"}", auth); });
    std::thread tb([&] { rb = Http("POST", b.url("/v1/cards"), "{\"staff_id\":\"T1\"}", auth); });
    ta.join();
    tb.join();
    ASSERT_TRUE((ra.status == 201 && rb.status == 200) || (ra.status == 200 && rb.status == 201))
        << ra.body << rb.body;
    EXPECT_EQ(Json(ra)["serial"], Json(rb)["serial"]);
    EXPECT_EQ(Json(ra)["token"], Json(rb)["token"]);
    std::string path = Json(ra)["pass_url"];
    std::vector<std::string> card = {"Authorization: Bearer " + Json(ra)["access_token"].get<std::string>()};
    auto pa = Http("GET", a.url(path), "", card), pb = Http("GET", b.url(path), "", card);
    EXPECT_EQ(pa.status, 200);
    EXPECT_EQ(pa.header("etag"), pb.header("etag"));
    EXPECT_EQ(pa.body, pb.body);
    std::vector<std::string> partner = {"Authorization: Bearer " +
                                        Trim(Cli({"partners", "add", "pg-partner", "--ledger", url}).out)};
    std::string scan = json{{"token", Json(ra)["token"]}}.dump();
    EXPECT_EQ(Json(Http("POST", a.url("/v1/verify"), scan, partner))["status"],
              "active");  // a now knows the card
    ASSERT_EQ(Http("POST", b.url("/v1/cards/" + Json(ra)["serial"].get<std::string>() + "/revoke"),
                   "{\"reason\":\"x\"}", auth)
                  .status,
              200);
    EXPECT_EQ(Json(Http("POST", b.url("/v1/verify"), scan, partner))["status"],
              "revoked");  // at once where revoked
    // Through the other instance within the bound (a 1 s refresh); 5 s leaves room for a loaded machine.
    auto start = std::chrono::steady_clock::now();
    std::string status;
    while (std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
      status = Json(Http("POST", a.url("/v1/verify"), scan, partner))["status"];
      if (status == "revoked") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(status, "revoked");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  }
  RunProgram({"psql", admin, "-qc", "DROP DATABASE " + db});
}

}  // namespace
}  // namespace lk::api
