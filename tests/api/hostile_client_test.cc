// Hostile clients against the real `lerarenkaart serve`: one scenario per class of finding of the
// security review (issue 16). Every byte is sent by hand on a raw socket; receives wait at most a
// few seconds (a guard against hanging, not a measurement).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <zlib.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/api/service_fixture.h"
#include "tests/api/service_harness.h"

namespace lk::api {
namespace {
using json = nlohmann::json;
using testing::Exchange;
using ::testing::HasSubstr;
using testing::Http;
using testing::Json;
using ::testing::Not;
using testing::Problem;
using testing::RawConnection;
using testing::ServerProcess;
using ::testing::StartsWith;
using testing::WireResponse;

class HostileClientTest : public testing::ServiceFixture {
 protected:
  // The service is alive: the process has not exited and /healthz answers.
  void ExpectAlive(ServerProcess& server) {
    int status = 0;
    ASSERT_EQ(waitpid(server.pid(), &status, WNOHANG), 0) << "the service died: " << server.Log();
    EXPECT_EQ(Http("GET", server.url("/healthz")).status, 200);
  }
  std::string Post(const std::string& target, const std::string& body, const std::string& extra = "") {
    return "POST " + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + partner_ +
           "\r\nContent-Type: application/json\r\n" + extra +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  // A request that, if a second request were read out of the first one's body, would be answered 404.
  static constexpr const char* kSmuggled = "GET /v1/smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
  // Sends `request` and expects exactly one answer with `status`, marked Connection: close, then the
  // connection closed, with nothing answered for anything that came after.
  WireResponse ExpectOneAnswerThenClose(const std::string& request, int status) {
    RawConnection c(Server().port());
    EXPECT_TRUE(c.connected());
    c.Send(request);
    WireResponse r = c.Read(request.starts_with("HEAD "));
    EXPECT_EQ(r.status(), status) << r.status_line << "\n" << r.body;
    EXPECT_EQ(r.header("connection"), "close");
    EXPECT_TRUE(c.WaitClosed()) << "the connection stayed open";
    EXPECT_THAT(c.pending(), Not(HasSubstr("HTTP/1.1"))) << "a second answer followed";
    return r;
  }
};

// Critical: a method that is not valid UTF-8 aborted the process (the access log's json::dump threw).
TEST_F(HostileClientTest, MethodsThatAreNotUtf8DoNotKillTheService) {
  for (std::string method : {"G\xff"
                             "T",
                             "\xc3\x28", "POST\x80", "\xed\xa0\x80"}) {
    auto got = Exchange(Server().port(), method + " /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 1);
    if (!got.empty()) {
      EXPECT_EQ(got[0].status(), 400) << got[0].status_line;
    }
    ExpectAlive(Server());
  }
  // A valid token that is no method of ours: refused, and the access log stays one JSON line per request.
  auto odd = Exchange(Server().port(), "BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 1);
  ASSERT_EQ(odd.size(), 1u);
  EXPECT_EQ(odd[0].status(), 405);
  ExpectAlive(Server());
}

// High: a chunked body was buffered in full before the 413.
TEST_F(HostileClientTest, ChunkedBodyOverTheCapIsRefusedWhileItIsStillArriving) {
  RawConnection c(Server().port());
  ASSERT_TRUE(c.Send("POST /v1/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + partner_ +
                     "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"));
  // 64 KiB in chunks against a 4 KiB cap, and the body never ends.
  for (int i = 0; i < 16; ++i) c.Send("1000\r\n" + std::string(4096, 'a') + "\r\n");
  WireResponse r = c.Read();
  EXPECT_EQ(r.status(), 413) << r.status_line;
  EXPECT_EQ(r.header("connection"), "close");
  EXPECT_TRUE(c.WaitClosed());
  ExpectAlive(Server());
}

// High: a gzip body was inflated without limit before routing or authentication.
TEST_F(HostileClientTest, CompressedRequestBodiesAreRefusedUnread) {
  std::string plain(400 * 1024, ' ');
  plain.replace(0, 11, "{\"token\":\"x");
  plain.back() = '}';
  uLongf size = compressBound(plain.size());
  std::string packed(size, '\0');
  ASSERT_EQ(compress2(reinterpret_cast<Bytef*>(packed.data()), &size,
                      reinterpret_cast<const Bytef*>(plain.data()), plain.size(), 9),
            Z_OK);
  packed.resize(size);
  for (const char* coding : {"gzip", "deflate", "br", "identity"}) {
    SCOPED_TRACE(coding);
    auto r = ExpectOneAnswerThenClose(
        Post("/v1/verify", packed, std::string("Content-Encoding: ") + coding + "\r\n"), 415);
    EXPECT_THAT(r.header("content-type"), StartsWith("application/problem+json"));
    EXPECT_THAT(r.body, HasSubstr("Content-Encoding"));
  }
  ExpectAlive(Server());
}

// High: an oversized Content-Length body was read and discarded instead of refused.
TEST_F(HostileClientTest, OversizedContentLengthIsRefusedBeforeTheBodyIsSent) {
  auto r =
      ExpectOneAnswerThenClose("POST /v1/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + partner_ +
                                   "\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n",
                               413);
  EXPECT_THAT(r.body, HasSubstr("4096"));
  // An import needs a staff token before its (large) body is read at all.
  ExpectOneAnswerThenClose(
      "POST /v1/imports/roster?year=2026 HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
      "Content-Length: 1000000\r\n\r\n",
      401);
  ExpectAlive(Server());
}

// High: clients that announce a body and send nothing, or pipeline requests and never read,
// held every worker (/healthz took 10 s).
TEST_F(HostileClientTest, StalledClientsDoNotHoldTheService) {
  config_ = WriteConfig("stall.toml", "", "threads = 2");
  std::vector<std::unique_ptr<RawConnection>> stalled;
  for (int i = 0; i < 24; ++i) {
    stalled.push_back(std::make_unique<RawConnection>(Server().port()));
    stalled.back()->Send("POST /v1/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + partner_ +
                         "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"tok");
  }
  std::string pipelined;
  for (int i = 0; i < 2000; ++i) pipelined += "GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int i = 0; i < 8; ++i) {
    stalled.push_back(std::make_unique<RawConnection>(Server().port(), 200));
    stalled.back()->Send(pipelined);  // and never read
  }
  for (int round = 0; round < 5; ++round) {
    RawConnection probe(Server().port(), 2000);
    ASSERT_TRUE(probe.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    EXPECT_EQ(probe.Read().status(), 200) << "round " << round;
  }
  ExpectAlive(Server());
}

// Connections per client address are capped; others can still connect, and the address can
// connect again once it closes some.
TEST_F(HostileClientTest, ConnectionsPerAddressAreCapped) {
  config_ = WriteConfig("cap.toml", "max_connections_per_address = 8");
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 8; ++i) {
    held.push_back(std::make_unique<RawConnection>(Server().port()));
    ASSERT_TRUE(held.back()->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_EQ(held.back()->Read().status(), 200) << i;
  }
  RawConnection ninth(Server().port());
  ninth.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  WireResponse refused = ninth.Read();
  if (!refused.status_line.empty()) {
    EXPECT_EQ(refused.status(), 503);
    EXPECT_FALSE(refused.header("retry-after").empty());
  }
  EXPECT_TRUE(ninth.WaitClosed());
  held.pop_back();
  held.pop_back();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the service notices the closes
  EXPECT_EQ(Exchange(Server().port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 1)
                .at(0)
                .status(),
            200);
}

// High: the two parsers framed requests differently, so requests could be smuggled. One rule now:
// a body the service does not read closes the connection, and ambiguous framing is refused.
TEST_F(HostileClientTest, OneFramingRuleLeavesNothingToSmuggle) {
  std::string smuggled = kSmuggled;
  std::string len = std::to_string(smuggled.size());
  struct Case {
    std::string name, request;
    int status;
  };
  std::vector<Case> cases = {
      {"GET with a body",
       "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: " + len + "\r\n\r\n" + smuggled, 400},
      {"HEAD with a body",
       "HEAD /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: " + len + "\r\n\r\n" + smuggled, 400},
      {"GET with a chunked body",
       "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, 400},
      {"POST without a length",
       "POST /v1/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + partner_ + "\r\n\r\n" + smuggled,
       411},
      {"bare LF line ends", "GET /healthz HTTP/1.1\nHost: x\nX-Hidden: y\n\n" + smuggled, 400},
      {"a bare LF among CRLFs",
       "GET /healthz HTTP/1.1\r\nHost: x\nContent-Length: " + len + "\r\n\r\n" + smuggled, 400},
      {"Content-Length and Transfer-Encoding",
       Post("/v1/verify", "0\r\n\r\n" + smuggled, "Transfer-Encoding: chunked\r\n"), 400},
      {"Transfer-Encoding other than chunked",
       "POST /v1/verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + smuggled,
       400},
      {"Transfer-Encoding chunked, then another",
       "POST /v1/verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n" + smuggled, 400},
      {"two Transfer-Encoding fields",
       "POST /v1/verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
       "chunked\r\n\r\n0\r\n\r\n" +
           smuggled,
       400},
      {"two Content-Lengths",
       "POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}" + smuggled,
       400},
      {"a Content-Length list",
       "POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\n\r\n{}" + smuggled, 400},
      {"a signed Content-Length",
       "POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\n{}" + smuggled, 400},
      {"an obsolete line folding", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n" + smuggled,
       400},
      {"a space before the colon",
       "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length : " + len + "\r\n\r\n" + smuggled, 400},
      {"no Host", "GET /healthz HTTP/1.1\r\n\r\n" + smuggled, 400},
      {"two Hosts", "GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n" + smuggled, 400},
      {"an absolute target", "GET http://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n" + smuggled, 400},
      {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + smuggled, 400},
      {"an unknown expectation", Post("/v1/verify", smuggled, "Expect: 200-ok\r\n"), 417},
      {"an unauthenticated import with a body",
       "POST /v1/imports/roster?year=2026 HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: " +
           len + "\r\n\r\n" + smuggled,
       401},
      {"a body to an unknown route",
       "POST /v1/nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: " + len + "\r\n\r\n" + smuggled, 404},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ExpectOneAnswerThenClose(c.request, c.status);
  }
  // A POST refused by the rate limit before its body was read.
  config_ = WriteConfig("claims.toml", "claims_per_minute = 1\nclaim_burst = 1");
  std::string claim =
      "POST /v1/claims HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + len +
      "\r\n\r\n" + smuggled;
  ServerProcess limited(data_, config_);
  auto first = Exchange(limited.port(), claim, 2);
  ASSERT_EQ(first.size(), 1u);  // 400 (not JSON), then closed: the body was read and nothing follows it
  EXPECT_EQ(first[0].status(), 400);
  RawConnection c(limited.port());
  c.Send(claim);
  WireResponse r = c.Read();
  EXPECT_EQ(r.status(), 429);
  EXPECT_EQ(r.header("connection"), "close");
  EXPECT_TRUE(c.WaitClosed());
  EXPECT_THAT(c.pending(), Not(HasSubstr("HTTP/1.1")));
  // What is legitimate still works: a chunked body on a POST, and Expect: 100-continue.
  std::string body = json{{"token", "x"}}.dump();
  char size[16];
  std::snprintf(size, sizeof size, "%zx", body.size());
  auto chunked =
      Exchange(Server().port(),
               "POST /v1/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + partner_ +
                   "\r\nTransfer-Encoding: chunked\r\n\r\n" + size + "\r\n" + body + "\r\n0\r\n\r\n",
               1);
  ASSERT_EQ(chunked.size(), 1u);
  EXPECT_EQ(chunked[0].status(), 200) << chunked[0].body;
  RawConnection cont(Server().port());
  cont.Send("POST /v1/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + partner_ +
            "\r\nExpect: 100-continue\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n");
  EXPECT_EQ(cont.Read().status(), 100);
  cont.Send(body);
  EXPECT_EQ(cont.Read().status(), 200);
  ExpectAlive(Server());
}

// Medium: Range requests with many parts amplified an 8 KB request into a 25 MB answer.
TEST_F(HostileClientTest, RangeIsIgnored) {
  std::string ranges = "bytes=0-";
  for (int i = 0; i < 900; ++i) ranges += ",0-";
  std::string whole = Http("GET", Server().url("/openapi.json")).body;
  for (const char* version : {"HTTP/1.1", "HTTP/1.0"}) {
    SCOPED_TRACE(version);
    auto got = Exchange(
        Server().port(),
        std::string("GET /openapi.json ") + version + "\r\nHost: x\r\nRange: " + ranges + "\r\n\r\n", 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].status(), 200);
    EXPECT_THAT(got[0].header("content-type"), StartsWith("application/json"));
    EXPECT_EQ(got[0].body, whole);
  }
}

// Medium: malformed methods became unbounded, unescaped /metrics label values.
TEST_F(HostileClientTest, MetricsLabelsStayBounded) {
  for (int i = 0; i < 50; ++i)
    Exchange(Server().port(), "X" + std::to_string(i) + "Q /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 1);
  Exchange(Server().port(), "GET /v1/\"}\\\n HTTP/1.1\r\nHost: x\r\n\r\n", 1);
  std::string m = Http("GET", Server().url("/metrics")).body;
  EXPECT_THAT(m, Not(HasSubstr("X1Q")));
  EXPECT_THAT(m, HasSubstr("method=\"OTHER\""));
  for (std::string line; std::string::npos != m.find('\n');) {
    line = m.substr(0, m.find('\n'));
    m.erase(0, m.find('\n') + 1);
    if (line.empty() || line[0] == '#') continue;
    // Every sample line is `name{label="value",...} number` with no stray quote or backslash.
    EXPECT_THAT(line, ::testing::MatchesRegex("[a-z_]+(\\{([a-z_]+=\"[^\"\\\\]*\",?)*\\})? [0-9.e+-]+"))
        << line;
  }
}

// Medium: rate limits saw only the socket address, so behind a proxy the whole country shared
// one claim bucket. Proxies named in trusted_proxies are believed about X-Forwarded-For; IPv6
// clients are grouped by /64.
TEST_F(HostileClientTest, TrustedProxiesSeparateTheirClients) {
  auto claim = [&](ServerProcess& s, const std::string& forwarded_for) {
    return Http("POST", s.url("/v1/claims"), "{\"claim_code\":\"AAAA-BBBB-CCCC-DDDD\"}",
                {"Content-Type: application/json", "X-Forwarded-For: " + forwarded_for})
        .status;
  };
  config_ = WriteConfig("proxy.toml",
                        "claims_per_minute = 1\nclaim_burst = 1\ntrusted_proxies = [\"127.0.0.0/8\"]");
  ServerProcess proxied(data_, config_);
  EXPECT_EQ(claim(proxied, "198.51.100.7"), 404);
  EXPECT_EQ(claim(proxied, "198.51.100.7"), 429);
  EXPECT_EQ(claim(proxied, "203.0.113.9"), 404);
  EXPECT_EQ(claim(proxied, "198.51.100.8, 127.0.0.1"), 404);  // trusted hops on the right are skipped
  EXPECT_EQ(claim(proxied, "2001:db8:1:2::1"), 404);
  EXPECT_EQ(claim(proxied, "2001:db8:1:2:ffff::9"), 429);  // the same /64
  EXPECT_EQ(claim(proxied, "2001:db8:1:3::1"), 404);       // another /64
  EXPECT_EQ(claim(proxied, "spoofed, 192.0.2.1"), 404);    // only the rightmost untrusted hop counts
  EXPECT_EQ(claim(proxied, "not an address"), 404);        // unreadable: the proxy's own address
  EXPECT_EQ(claim(proxied, "also not one"), 429);
  config_ = WriteConfig("direct.toml", "claims_per_minute = 1\nclaim_burst = 1");
  ServerProcess direct(data_, config_);
  EXPECT_EQ(claim(direct, "198.51.100.7"), 404);
  EXPECT_EQ(claim(direct, "203.0.113.9"), 429);  // not a trusted proxy: X-Forwarded-For is ignored
}

// Low: a malformed request's problem body carried the previous client's request id.
TEST_F(HostileClientTest, MalformedRequestsGetAFreshRequestId) {
  config_ = WriteConfig("one.toml", "", "threads = 1");
  EXPECT_EQ(Http("GET", Server().url("/healthz"), "", {"X-Request-Id: client-a-secret-1"}).status, 200);
  auto got =
      Exchange(Server().port(),
               "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status(), 400);
  json p = json::parse(got[0].body, nullptr, false);
  ASSERT_TRUE(p.is_object()) << got[0].body;
  EXPECT_NE(p.value("request_id", ""), "client-a-secret-1");
  EXPECT_EQ(p.value("request_id", "").size(), 20u);
  EXPECT_EQ(got[0].header("x-request-id"), p.value("request_id", ""));
}

// Low: no X-Content-Type-Options, no frame-ancestors on the HTML pages.
TEST_F(HostileClientTest, EveryResponseCarriesSecurityHeaders) {
  std::vector<WireResponse> all;
  for (const char* request :
       {"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "GET /v1/nothing HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /dashboard HTTP/1.1\r\nHost: x\r\n\r\n", "GET /x HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
        "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\n\r\n"}) {
    auto got = Exchange(Server().port(), request, 1);
    ASSERT_EQ(got.size(), 1u) << request;
    all.push_back(got[0]);
  }
  auto page = Exchange(Server().port(), "GET /console HTTP/1.1\r\nHost: x\r\n\r\n", 1);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].status(), 200);
  EXPECT_THAT(page[0].header("content-type"), StartsWith("text/html"));
  all.push_back(page[0]);
  for (const WireResponse& r : all) {
    SCOPED_TRACE(r.status_line);
    EXPECT_EQ(r.header("x-content-type-options"), "nosniff");
    EXPECT_EQ(r.header("referrer-policy"), "no-referrer");
    EXPECT_THAT(r.header("content-security-policy"), HasSubstr("frame-ancestors 'none'"));
    EXPECT_EQ(r.header("x-frame-options"), "DENY");
  }
}

// Oversized heads and too many header fields are refused before any work.
TEST_F(HostileClientTest, HeadsAreBounded) {
  ExpectOneAnswerThenClose(
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70000, 'a') + "\r\n\r\n", 431);
  std::string many = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 200; ++i) many += "X-" + std::to_string(i) + ": y\r\n";
  ExpectOneAnswerThenClose(many + "\r\n", 431);
  ExpectOneAnswerThenClose("GET /" + std::string(20000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", 414);
  ExpectAlive(Server());
}

}  // namespace
}  // namespace lk::api
