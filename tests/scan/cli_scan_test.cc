// `lerarenkaart scan` and `token verify --revocations` as a till runs them: verdicts, exit codes,
// JSON, languages, offline use, --watch.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "base/base.h"
#include "tests/scan/live_issuer.h"

extern char** environ;

namespace lk {
namespace {
using json = nlohmann::json;
using testing::RunProgram;

class CliScanTest : public ::testing::Test {
 protected:
  testing::RunResult Scan(std::vector<std::string> args) {
    args.insert(args.begin(), {testing::Binary(), "scan", "--issuer", issuer_.url(), "--token-issuer",
                               "https://lerarenkaart.be", "--cache-dir", (dir_ / "cache").string()});
    return RunProgram(args);
  }
  testing::LiveIssuer issuer_;
  testing::TempDir dir_;
};

TEST_F(CliScanTest, ExitCodesSayWhatHappened) {
  std::string serial;
  std::string valid = issuer_.IssueCard("L1");
  std::string revoked = issuer_.IssueCard("L2", &serial);
  issuer_.Revoke(serial);
  auto ok = Scan({valid});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("Geldige Lerarenkaart " + std::to_string(issuer_.year())), std::string::npos)
      << ok.out;
  auto r = Scan({revoked, "--lang", "en"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("Revoked: this Lerarenkaart"), std::string::npos) << r.out;
  EXPECT_EQ(Scan({"not-a-token"}).exit_code, 1);
  EXPECT_EQ(Scan({testing::Forge(valid)}).exit_code, 1);
  EXPECT_EQ(Scan({}).exit_code, 2);                       // no input
  EXPECT_EQ(Scan({valid, "--lang", "de"}).exit_code, 2);  // bad usage
  testing::WriteText(dir_ / "notes.png", "not a picture");
  EXPECT_EQ(Scan({"--image", (dir_ / "notes.png").string()}).exit_code, 2);
  std::string png = (dir_ / "card.png").string(), blank = (dir_ / "blank.jpg").string();
  ASSERT_EQ(testing::WriteQrPng(valid, png), "");
  ASSERT_EQ(testing::WritePhotoLike(png, blank, {0, 0.0, 4, 50}, 1), "");
  EXPECT_EQ(Scan({"--image", blank}).exit_code, 3);
  auto two = Scan({"--image", png, "--image", blank});
  EXPECT_EQ(two.exit_code, 3);  // the highest code of the inputs
  EXPECT_NE(two.out.find(png + ": Geldige Lerarenkaart"), std::string::npos) << two.out;
  auto no_cache = RunProgram({testing::Binary(), "scan", "--issuer", "http://127.0.0.1:1", "--cache-dir",
                              (dir_ / "empty").string(), valid});
  EXPECT_EQ(no_cache.exit_code, 4);
  EXPECT_NE(no_cache.err.find("connect to the network once"), std::string::npos) << no_cache.err;
  auto help = RunProgram({testing::Binary(), "scan", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("Exit codes: 0 valid card; 1 card refused"), std::string::npos) << help.out;
}

TEST_F(CliScanTest, JsonAndLanguagesAndOfflineFromTheCache) {
  std::string serial;
  std::string token = issuer_.IssueCard("L3", &serial);
  auto online = Scan({token, "--json", "--lang", "fr"});
  ASSERT_EQ(online.exit_code, 0) << online.err;
  auto j = json::parse(online.out);
  EXPECT_EQ(j["verdict"], "valid");
  EXPECT_EQ(j["serial"], serial);
  EXPECT_EQ(j["year"], issuer_.year());
  EXPECT_EQ(j["message"],
            "Lerarenkaart " + std::to_string(issuer_.year()) + " valide (carte " + serial + ").");
  EXPECT_EQ(j["knowledge"]["online"], true);
  issuer_.Stop();
  auto offline = Scan({token, "--json"});
  ASSERT_EQ(offline.exit_code, 0) << offline.err;
  EXPECT_EQ(json::parse(offline.out)["knowledge"]["online"], false);
  EXPECT_NE(offline.err.find("Offline: de sleutels en de intrekkingslijst zijn van"), std::string::npos)
      << offline.err;
}

TEST_F(CliScanTest, WatchVerifiesEachNewImageUntilInterrupted) {
  std::string token = issuer_.IssueCard("L4");
  std::string png = (dir_ / "card.png").string();
  ASSERT_EQ(testing::WriteQrPng(token, png), "");
  std::filesystem::create_directories(dir_ / "inbox");
  std::vector<std::string> args = {testing::Binary(), "scan",
                                   "--issuer",        issuer_.url(),
                                   "--token-issuer",  "https://lerarenkaart.be",
                                   "--cache-dir",     (dir_ / "cache").string(),
                                   "--lang",          "en",
                                   "--watch",         (dir_ / "inbox").string()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string out = (dir_ / "watch.out").string();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, (out + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  ASSERT_EQ(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  auto wait_for = [&](const std::string& path, const std::string& what) {
    for (int i = 0; i < 200; ++i) {
      if (ReadFile(path).value_or("").find(what) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  ASSERT_TRUE(wait_for(out + ".err", "watching")) << ReadFile(out + ".err").value_or("");
  // A camera app writes elsewhere and moves the file in; a plain copy closes it after writing.
  std::filesystem::copy_file(png, dir_ / "tmp.png");
  std::filesystem::rename(dir_ / "tmp.png", dir_ / "inbox" / "first.png");
  EXPECT_TRUE(wait_for(out, "first.png: Valid Lerarenkaart")) << ReadFile(out).value_or("");
  std::filesystem::copy_file(png, dir_ / "inbox" / "second.PNG");
  EXPECT_TRUE(wait_for(out, "second.PNG: Valid Lerarenkaart")) << ReadFile(out).value_or("");
  testing::WriteText(dir_ / "inbox" / "readme.txt", "ignored");
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(ReadFile(out).value_or("").find("readme"), std::string::npos);
}

TEST_F(CliScanTest, TokenVerifyReadsASavedRevocationListAndHintsAtThePublishedKeys) {
  std::string serial;
  std::string revoked = issuer_.IssueCard("L5", &serial);
  std::string valid = issuer_.IssueCard("L6");
  issuer_.Revoke(serial);
  ASSERT_EQ(Scan({valid}).exit_code, 0);  // fills the cache with the JWK Set and the list
  std::filesystem::path cached;
  for (const auto& e : std::filesystem::directory_iterator(dir_ / "cache")) cached = e.path();
  testing::TempDir partner;
  auto verify = [&](const std::string& token) {
    return RunProgram({testing::Binary(), "--data-dir", partner.path().string(), "token", "verify", token,
                       "--jwks", (cached / "jwks.json").string(), "--revocations",
                       (cached / "revocations.jwt").string()});
  };
  auto r = verify(revoked);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(json::parse(r.out)["reason"], "revoked");
  EXPECT_EQ(verify(valid).exit_code, 0);
  auto unknown = verify(testing::TokenOfAnotherKeyring(issuer_.year()));
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("lerarenkaart scan --issuer"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("/.well-known/jwks.json"), std::string::npos) << unknown.err;
  EXPECT_EQ(unknown.err.find("keys init"), std::string::npos) << unknown.err;
  // Without --jwks and without a keyring: the same hint, not `keys init`.
  auto bare =
      RunProgram({testing::Binary(), "--data-dir", partner.path().string(), "token", "verify", valid});
  EXPECT_NE(bare.exit_code, 0);
  EXPECT_NE(bare.err.find("lerarenkaart scan --issuer"), std::string::npos) << bare.err;
  EXPECT_EQ(bare.err.find("keys init"), std::string::npos) << bare.err;
  // A tampered list is refused, naming the file.
  testing::WriteText(partner / "bad.jwt", testing::Forge(*ReadFile(cached / "revocations.jwt")));
  auto bad = RunProgram({testing::Binary(), "--data-dir", partner.path().string(), "token", "verify", valid,
                         "--jwks", (cached / "jwks.json").string(), "--revocations",
                         (partner / "bad.jwt").string()});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("bad.jwt: refused (bad_signature)"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace lk
