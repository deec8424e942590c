#include "tests/scan/live_issuer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <png.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <turbojpeg.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "base/base.h"

extern char** environ;

namespace lk::testing {

LiveIssuer::LiveIssuer() : year_(int(BrusselsDate(SystemClock().Now()).year())) {
  std::string roster =
      "staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter\n";
  for (int i = 1; i <= 9; ++i) roster += "L" + std::to_string(i) + ",Scan,Test,teaching,GO,basic,1,2000,no\n";
  WriteText(dir_ / "roster.csv", roster);
  auto imported = Lk({"import", "roster", (dir_ / "roster.csv").string(), "--year", std::to_string(year_)});
  EXPECT_EQ(imported.exit_code, 0) << imported.err;
  std::string port_file = (dir_ / "port").string(), out = (dir_ / "serve.log").string();
  std::vector<std::string> args = {Binary(),   "--data-dir",  (dir_ / "var").string(), "serve",  "--dev",
                                   "--listen", "127.0.0.1:0", "--port-file",           port_file};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  EXPECT_EQ(posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  for (int i = 0; i < 300; ++i) {
    auto port = ReadFile(port_file);
    if (port && !Trim(*port).empty()) {
      url_ = "http://127.0.0.1:" + std::string(Trim(*port));
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "serve did not start: " << ReadFile(out).value_or("");
}

LiveIssuer::~LiveIssuer() { Stop(); }

void LiveIssuer::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

RunResult LiveIssuer::Lk(std::vector<std::string> args) {
  args.insert(args.begin(), {Binary(), "--data-dir", (dir_ / "var").string()});
  return RunProgram(args);
}

std::string LiveIssuer::IssueCard(const std::string& staff_id, std::string* serial) {
  auto r = Lk({"ledger", "issue", "--staff-id", staff_id, "--year", std::to_string(year_)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::istringstream in(r.out);
  std::string word, s;
  in >> word >> s;  // "serial S year Y new"
  if (serial) *serial = s;
  return Token(s, year_);
}

std::string LiveIssuer::Token(const std::string& serial, int year, const std::string& at,
                              const std::string& iss) {
  std::vector<std::string> args = {Binary(), "--data-dir", (dir_ / "var").string(),
                                   "token",  "issue",      "--serial",
                                   serial,   "--year",     std::to_string(year)};
  if (!at.empty()) args.insert(args.end(), {"--at", at});
  if (!iss.empty()) args.insert(args.begin(), {"env", "LK_ISSUER=" + iss});
  auto r = RunProgram(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return std::string(Trim(r.out));
}

void LiveIssuer::Revoke(const std::string& serial) {
  auto r = Lk({"ledger", "revoke", "--serial", serial, "--reason", "scan test"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

std::string TokenOfAnotherKeyring(int year) {
  TempDir other;
  std::string data = (other / "var").string();
  EXPECT_EQ(RunProgram({Binary(), "--data-dir", data, "keys", "init"}).exit_code, 0);
  auto r = RunProgram({Binary(), "--data-dir", data, "token", "issue", "--serial", "OTHERKEY1", "--year",
                       std::to_string(year)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return std::string(Trim(r.out));
}

std::string Forge(std::string token) {
  size_t at = token.rfind('.') + 20;  // inside the signature, away from its last character's unused bits
  token[at] = token[at] == 'A' ? 'B' : 'A';
  return token;
}

}  // namespace lk::testing
