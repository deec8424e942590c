#pragma once
// The real service as a partner meets it: `lerarenkaart serve --dev` on 127.0.0.1:0 with its own
// data directory and a small roster, plus the CLI calls that issue, token and revoke its cards.
#include <sys/types.h>

#include <string>
#include <vector>

#include "tests/scan/photo_like.h"
#include "tests/testing/testing.h"

namespace lk::testing {

class LiveIssuer {
 public:
  LiveIssuer();   // imports the roster (staff ids L1..L9) and starts the server
  ~LiveIssuer();  // stops it
  void Stop();
  const std::string& url() const { return url_; }  // http://127.0.0.1:PORT
  int year() const { return year_; }
  // A card for staff id `staff_id` issued in the ledger, and its token; its serial in `serial`.
  std::string IssueCard(const std::string& staff_id, std::string* serial = nullptr);
  // A token signed by this issuer's key for any serial, year and issue time ("" = now), with
  // `iss` overridden when not empty.
  std::string Token(const std::string& serial, int year, const std::string& at = "",
                    const std::string& iss = "");
  void Revoke(const std::string& serial);
  // Runs the lerarenkaart binary with this issuer's data directory.
  RunResult Lk(std::vector<std::string> args);
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
  std::string url_;
  int year_;
  pid_t pid_ = -1;
};

// A token signed by a freshly made keyring that no issuer publishes.
std::string TokenOfAnotherKeyring(int year);
// `token` with one character of its signature changed.
std::string Forge(std::string token);

}  // namespace lk::testing
