// The lerarenkaart binary as a user runs it: help, exit codes, keys and token commands.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/base.h"
#include "tests/testing/testing.h"

namespace lk {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::RunProgram;

class CliTest : public ::testing::Test {
 protected:
  testing::RunResult Lk(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {testing::Binary(), "--data-dir", dir_.path().string()});
    return RunProgram(args, input);
  }
  void InitKeys() { ASSERT_EQ(Lk({"keys", "init"}).exit_code, 0); }
  // `serve` bounded by `timeout` (exit 124 if it is still running after 20 s).
  testing::RunResult Serve(const std::vector<std::string>& flags) {
    std::vector<std::string> args = {
        "timeout", "20",       testing::Binary(), "--data-dir",  dir_.path().string(),
        "serve",   "--listen", "127.0.0.1:0",     "--port-file", (dir_ / "port").string()};
    args.insert(args.end(), flags.begin(), flags.end());
    return RunProgram(args);
  }
  // `serve --dev` until it listens, then SIGTERM; the exit code is serve's.
  testing::RunResult ServeDevUntilListening() {
    fs::remove(dir_ / "port");
    return RunProgram(
        {"sh", "-c",
         "\"$0\" --data-dir \"$1\" serve --dev --listen 127.0.0.1:0 --port-file \"$1/port\" & pid=$!; i=0; "
         "while [ ! -s \"$1/port\" ] && [ $i -lt 300 ] && kill -0 $pid 2>/dev/null; do sleep 0.1; "
         "i=$((i+1)); done; "
         "kill -TERM $pid 2>/dev/null; wait $pid",
         testing::Binary(), dir_.path().string()});
  }
  std::string Issue(const std::string& serial, const std::string& at = "2026-03-01T10:00:00Z") {
    auto r = Lk({"token", "issue", "--serial", serial, "--year", "2026", "--at", at});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.substr(0, r.out.find('\n'));
  }
  testing::TempDir dir_;
};

TEST_F(CliTest, EveryCommandHasHelp) {
  for (std::vector<std::string> cmd : std::vector<std::vector<std::string>>{{},
                                                                            {"keys"},
                                                                            {"keys", "init"},
                                                                            {"keys", "rotate"},
                                                                            {"keys", "list"},
                                                                            {"keys", "jwks"},
                                                                            {"token"},
                                                                            {"token", "issue"},
                                                                            {"token", "verify"},
                                                                            {"demo"},
                                                                            {"claims"},
                                                                            {"claims", "send"},
                                                                            {"serve"}}) {
    cmd.push_back("--help");
    auto r = Lk(cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd[0];
    EXPECT_NE(r.out.find("Usage:"), std::string::npos) << r.out;
  }
}

TEST_F(CliTest, BadUsageExitsTwo) {
  EXPECT_EQ(Lk({}).exit_code, 2);
  EXPECT_EQ(Lk({"nonsense"}).exit_code, 2);
  EXPECT_EQ(Lk({"token", "issue", "--serial", "A"}).exit_code, 2);  // --year missing
  InitKeys();
  auto bad_serial = Lk({"token", "issue", "--serial", "no spaces", "--year", "2026"});
  EXPECT_EQ(bad_serial.exit_code, 2);
  EXPECT_NE(bad_serial.err.find("serial 'no spaces'"), std::string::npos) << bad_serial.err;
  EXPECT_EQ(Lk({"token", "verify"}).exit_code, 2);
  EXPECT_EQ(Lk({"token", "verify", "x", "--at", "not-a-time"}).exit_code, 2);
}

TEST_F(CliTest, KeysInitWritesPrivateFilesAndRefusesASecondTime) {
  InitKeys();
  struct stat st;
  ASSERT_EQ(stat((dir_.path() / "keys/pass-type-id-key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = Lk({"keys", "init"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("never overwrites"), std::string::npos) << again.err;
  // Nothing is printed that looks like a private key.
  EXPECT_EQ(again.out.find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(Lk({"keys", "jwks"}).out.find("\"d\""), std::string::npos);
}

TEST_F(CliTest, DataDirFromEnvironment) {
  testing::TempDir home;
  setenv("LERARENKAART_HOME", home.path().c_str(), 1);
  auto r = RunProgram({testing::Binary(), "keys", "init"});
  unsetenv("LERARENKAART_HOME");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(home.path() / "keys/keyring.json"));
}

TEST_F(CliTest, VerifyPrintsAVerdictPerTokenAndExitsZeroOnlyIfAllValid) {
  InitKeys();
  std::string t1 = Issue("CARD-1"), t2 = Issue("CARD-2");
  auto one = Lk({"token", "verify", t1, "--at", "2026-06-01T00:00:00Z"});
  EXPECT_EQ(one.exit_code, 0) << one.err;
  auto v = json::parse(one.out);
  EXPECT_EQ(v["valid"], true);
  EXPECT_EQ(v["serial"], "CARD-1");
  EXPECT_EQ(v["year"], 2026);

  auto expired = Lk({"token", "verify", t1, "--at", "2027-06-01T00:00:00Z"});
  EXPECT_EQ(expired.exit_code, 1);
  EXPECT_EQ(json::parse(expired.out)["reason"], "expired");

  testing::WriteText(dir_ / "batch.txt", t1 + "\n" + t2 + "\r\n" + "garbage\n\n" + t2 + "x\n");
  auto batch =
      Lk({"token", "verify", "--batch", (dir_ / "batch.txt").string(), "--at", "2026-06-01T00:00:00Z"});
  EXPECT_EQ(batch.exit_code, 1);
  std::istringstream lines(batch.out);
  std::vector<json> verdicts;
  for (std::string line; std::getline(lines, line);) verdicts.push_back(json::parse(line));
  ASSERT_EQ(verdicts.size(), 4u);
  EXPECT_EQ(verdicts[0]["serial"], "CARD-1");
  EXPECT_EQ(verdicts[1]["serial"], "CARD-2");
  EXPECT_EQ(verdicts[2]["reason"], "malformed");
  EXPECT_EQ(verdicts[3]["valid"], false);

  testing::WriteText(dir_ / "good.txt", t1 + "\n" + t2 + "\n");
  EXPECT_EQ(Lk({"token", "verify", "--batch", "-", "--at", "2026-06-01T00:00:00Z"}, t1 + "\n" + t2 + "\n")
                .exit_code,
            0);
}

TEST_F(CliTest, VerifyAgainstAPublishedJwksAfterRotation) {
  InitKeys();
  std::string before = Issue("ROT-1");
  auto rotated = Lk({"keys", "rotate"});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  std::string after = Issue("ROT-2");
  EXPECT_NE(before.substr(0, before.find('.')), after.substr(0, after.find('.')));  // different kid
  auto list = Lk({"keys", "list"});
  EXPECT_NE(list.out.find("active"), std::string::npos);
  EXPECT_NE(list.out.find("retired"), std::string::npos);
  testing::WriteText(dir_ / "jwks.json", Lk({"keys", "jwks"}).out);
  json published = json::parse(*ReadFile(dir_ / "jwks.json"));
  ASSERT_EQ(published["keys"].size(), 3u);  // two token keys and the revocation-list key
  EXPECT_EQ(std::count_if(published["keys"].begin(), published["keys"].end(),
                          [](const json& k) { return k["use"] == "sig"; }),
            2);
  // A partner with only the JWKS, in another directory, verifies both.
  testing::TempDir partner;
  for (const auto& t : {before, after}) {
    auto r = RunProgram({testing::Binary(), "--data-dir", partner.path().string(), "token", "verify", t,
                         "--jwks", (dir_ / "jwks.json").string(), "--at", "2026-06-01T00:00:00Z"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  testing::WriteText(dir_ / "bad-jwks.json", R"({"keys":[{"kty":"oct","k":"c2VjcmV0"}]})");
  auto bad = Lk({"token", "verify", before, "--jwks", (dir_ / "bad-jwks.json").string()});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("keys[0]"), std::string::npos) << bad.err;
}

// A wrong keys path in a configured deployment must not quietly become a new token key: serve
// refuses an empty keys folder, names it and the fixes, and creates nothing.
TEST_F(CliTest, ServeRefusesAnEmptyKeysFolderAndCreatesNothing) {
  auto r = Serve({});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("no keys in " + (dir_ / "keys").string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("lerarenkaart keys init"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--dev"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "keys" / "keyring.json"));
  EXPECT_FALSE(fs::exists(dir_ / "keys" / "token"));
  EXPECT_NE(Lk({"serve", "--help"}).out.find("--dev"), std::string::npos);
}

TEST_F(CliTest, ServeDevCreatesPrivateDevelopmentKeysOnce) {
  auto first = ServeDevUntilListening();
  EXPECT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_NE(first.err.find("--dev: created development keys in " + (dir_ / "keys").string()),
            std::string::npos)
      << first.err;
  ASSERT_TRUE(fs::exists(dir_ / "keys" / "keyring.json"));
  ASSERT_TRUE(fs::exists(dir_ / "keys" / "revocations.json"));
  int files = 0;
  for (auto& e : fs::recursive_directory_iterator(dir_ / "keys")) {
    struct stat st;
    ASSERT_EQ(stat(e.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, e.is_directory() ? 0700u : 0600u) << e.path();
    files += !e.is_directory();
  }
  EXPECT_GE(files, 11);
  auto list = Lk({"keys", "list"});
  EXPECT_NE(list.out.find("revocations"), std::string::npos) << list.out;
  auto second = ServeDevUntilListening();
  EXPECT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.err.find("created"), std::string::npos) << second.err;
}

// Upgrade path: a keys folder made before revocation lists had their own key. serve names the
// command that adds it; `keys rotate --revocations` does, and the JWK Set then has both uses.
TEST_F(CliTest, AnOlderKeysFolderGetsItsRevocationKeyFromKeysRotate) {
  InitKeys();
  fs::remove(dir_ / "keys" / "revocations.json");
  fs::remove_all(dir_ / "keys" / "revocations");
  auto refused = Serve({});
  EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("lerarenkaart keys rotate --revocations"), std::string::npos) << refused.err;
  auto before = Lk({"keys", "list"});
  EXPECT_EQ(before.exit_code, 0);
  EXPECT_EQ(before.out.find("revocations"), std::string::npos) << before.out;
  EXPECT_NE(before.err.find("keys rotate --revocations"), std::string::npos) << before.err;

  auto rotated = Lk({"keys", "rotate", "--revocations"});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  EXPECT_NE(rotated.out.find("new active revocation-list key: "), std::string::npos) << rotated.out;
  std::string kid = rotated.out.substr(rotated.out.rfind(' ') + 1, 6);
  struct stat st;
  ASSERT_EQ(stat((dir_ / "keys" / "revocations" / (kid + ".pem")).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto list = Lk({"keys", "list"});
  EXPECT_NE(list.out.find(kid + "     revocations  active"), std::string::npos) << list.out;
  std::map<std::string, std::string> uses;
  json jwks = json::parse(Lk({"keys", "jwks"}).out);
  for (const auto& k : jwks["keys"]) uses[k["kid"]] = k["use"];
  EXPECT_EQ(uses.size(), 2u);
  EXPECT_EQ(uses[kid], "lk-revocations");
  // A token key rotation leaves the revocation key alone.
  ASSERT_EQ(Lk({"keys", "rotate"}).exit_code, 0);
  EXPECT_NE(Lk({"keys", "list"}).out.find(kid + "     revocations  active"), std::string::npos);
}

TEST_F(CliTest, ServeDevAddsTheRevocationKeyAnOlderDevelopmentFolderLacks) {
  InitKeys();
  fs::remove(dir_ / "keys" / "revocations.json");
  fs::remove_all(dir_ / "keys" / "revocations");
  auto r = ServeDevUntilListening();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("--dev: created revocation-list key"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("created development keys"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(dir_ / "keys" / "revocations.json"));
}

TEST_F(CliTest, DemoCreatesKeysOnceAndVerifiesItsToken) {
  auto first = Lk({"demo"});
  EXPECT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("created development keys"), std::string::npos);
  EXPECT_NE(first.out.find("\"valid\":true"), std::string::npos) << first.out;
  auto second = Lk({"demo"});
  EXPECT_EQ(second.exit_code, 0);
  EXPECT_EQ(second.out.find("created development keys"), std::string::npos);
}

}  // namespace
}  // namespace lk
