// libFuzzer target: raw bytes from a client to the real service (api::Service on 127.0.0.1 in
// this process, a SQLite ledger with a roster, a staff token, a partner key and an issued card).
// Each input is sent on a fresh connection, which is then half-closed; the service must answer
// what it can and close, never crash, hang or answer anything but HTTP/1.1, and keep serving
// (a /healthz probe every 64 inputs). In the input, @STAFF@, @PARTNER@, @TOKEN@, @SERIAL@ and
// @ACCESS@ stand for the staff token, the partner key, the card's QR token, its serial and its
// access token, so that inputs reach past authentication; @LEN@ stands for the number of bytes
// after the blank line that follows it (the body's Content-Length once the others are replaced).
// Build with clang >= 16 and -DLK_FUZZ=ON; otherwise ctest replays tests/fuzz/corpus/http_request.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "api/api.h"
#include "base/base.h"
#include "ledger/ledger.h"
#include "signing/signing.h"

namespace {
namespace fs = std::filesystem;

struct Fixture {
  lk::SystemClock clock;
  fs::path dir;
  std::unique_ptr<lk::signing::Keyring> keyring;
  std::unique_ptr<lk::api::Service> service;
  std::string staff, partner, token, serial, access;
  int port = 0;
  uint64_t inputs = 0;
};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "http_request_fuzz: %s\n", what.c_str());
  std::abort();
}

Fixture* fixture = nullptr;

// At exit: the service stops (its threads end) before its data directory goes.
void TearDown() {
  if (!fixture) return;
  fixture->service.reset();
  std::error_code ec;
  fs::remove_all(fixture->dir, ec);
}

Fixture* Setup() {
  // OpenSSL's own exit-time cleanup would run before TearDown has stopped the service's threads,
  // leaving their per-thread OpenSSL state behind (a leak to LeakSanitizer): keep it out.
  OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr);
  auto* f = fixture = new Fixture;
  std::atexit(TearDown);
  char tmpl[] = "/tmp/lk-http-fuzz.XXXXXX";
  if (!mkdtemp(tmpl)) Die("mkdtemp failed");
  f->dir = tmpl;
  lk::signing::KeyConfig keys{f->dir / "keys"};
  if (auto r = lk::signing::InitDevelopmentKeys(keys, f->clock); !r) Die(r.error().message);
  auto ring = lk::signing::Keyring::Open(keys);
  if (!ring) Die(ring.error().message);
  f->keyring = std::move(*ring);
  lk::ledger::LedgerOptions lo;
  lo.data_dir = f->dir;
  lo.keys_dir = keys.dir;
  auto ledger = lk::ledger::OpenLedger(lo, f->clock);
  if (!ledger) Die(ledger.error().message);
  int year = int(lk::BrusselsDate(f->clock.Now()).year());
  fs::path roster = f->dir / "roster.csv";
  if (auto w = lk::WriteFileAtomic(roster,
                                   "staff_id,first_name,last_name,role,network,level,school_number,"
                                   "school_postcode,starter\nT1,An,Peeters,teaching,GO,basic,12345,2000,no\n"
                                   "T2,Bo,Claes,teaching,OGO,secondary,23456,9000,yes\n");
      !w)
    Die(w.error().message);
  if (auto r = (*ledger)->imports().ImportRoster(roster, year); !r) Die(r.error().message);
  auto staff = (*ledger)->access().AddCredential(lk::ledger::CredentialKind::kStaff, "fuzz-staff");
  auto partner = (*ledger)->access().AddCredential(lk::ledger::CredentialKind::kPartner, "fuzz-partner");
  auto card = (*ledger)->cards().IssueDigital("T1", year);
  if (!staff || !partner || !card) Die("cannot set up credentials or a card");
  auto issuer = lk::signing::TokenIssuer::Create(*f->keyring, {});
  if (!issuer) Die(issuer.error().message);
  auto token = (*issuer)->Issue(card->serial, year, f->clock.Now());
  if (!token) Die(token.error().message);
  if (auto r = (*ledger)->cards().AttachToken(card->serial, *token, f->clock.Now()); !r)
    Die(r.error().message);
  f->staff = *staff;
  f->partner = *partner;
  f->token = *token;
  f->serial = card->serial;
  f->access = card->auth_token;

  lk::api::ServiceOptions o;
  o.port = 0;
  o.threads = 2;
  o.access_log = false;
  o.per_address = {0, 0};
  o.per_key = {0, 0};
  o.claims_per_address = {0, 0};
  o.max_json_bytes = 4096;
  o.max_import_bytes = 64 * 1024;
  o.read_timeout = o.write_timeout = o.keep_alive_timeout = std::chrono::seconds(2);
  o.max_connections_per_address = 100000;
  lk::api::ServiceDeps d;
  d.clock = &f->clock;
  d.ledger = std::move(*ledger);
  d.keyring = f->keyring.get();
  auto service = lk::api::Service::Start(o, std::move(d));
  if (!service) Die(service.error().message);
  f->service = std::move(*service);
  f->port = f->service->port();
  return f;
}

void ReplaceAll(std::string& s, std::string_view from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
}

// A socket connected to the service. On a machine loaded far beyond its cores a connect can
// time out once; the service must take one of a few tries a second apart.
int Connect(int port) {
  std::string why;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (attempt > 0) ::sleep(1);
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) Die(std::string("socket failed: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{10, 0};  // far beyond the service's own 2 s timeouts
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    linger no_time_wait{1, 0};  // close with a reset: thousands of connections a second, no TIME_WAIT
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &no_time_wait, sizeof no_time_wait);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
    why += std::string(why.empty() ? "" : ", ") + std::strerror(errno);
    ::close(fd);
  }
  Die("the service refuses connections (5 tries: " + why + ")");
}

// Sends `bytes`, half-closes, and reads until the service closes. Returns what it answered.
std::string Exchange(int port, const std::string& bytes) {
  int fd = Connect(port);
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the service may refuse and close before all is sent
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string got;
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      got.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      Die("the service neither answered nor closed in 10 s");
    break;
  }
  ::close(fd);
  return got;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* f = Setup();
  std::string bytes(reinterpret_cast<const char*>(data), size);
  ReplaceAll(bytes, "@STAFF@", f->staff);
  ReplaceAll(bytes, "@PARTNER@", f->partner);
  ReplaceAll(bytes, "@TOKEN@", f->token);
  ReplaceAll(bytes, "@SERIAL@", f->serial);
  ReplaceAll(bytes, "@ACCESS@", f->access);
  for (size_t at; (at = bytes.find("@LEN@")) != std::string::npos;) {
    size_t blank = bytes.find("\r\n\r\n", at);
    bytes.replace(at, 5, std::to_string(blank == std::string::npos ? 0 : bytes.size() - blank - 4));
  }
  std::string got = Exchange(f->port, bytes);
  if (!got.empty() && !got.starts_with("HTTP/1.1 ")) __builtin_trap();
  if (++f->inputs % 64 == 0) {
    // Still serving: /healthz answers 200 within three tries a second apart.
    std::string health;
    for (int attempt = 0; attempt < 3 && !health.starts_with("HTTP/1.1 200 "); ++attempt) {
      if (attempt > 0) ::sleep(1);
      health = Exchange(f->port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    }
    if (!health.starts_with("HTTP/1.1 200 "))
      Die("GET /healthz answered " + (health.empty() ? std::string("nothing") : "\n" + health));
  }
  return 0;
}
