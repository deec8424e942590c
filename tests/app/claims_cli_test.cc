// `lerarenkaart claims send` as staff run it: a roster with addresses, the claim mails through a
// real SMTP server on 127.0.0.1 (aiosmtpd, tests/mail/smtp_sink.py), read back with Python's
// email module; the mailed code claims a card over HTTP on a real `serve`; a re-run mails
// nobody twice, also after the sender is killed mid-run. Every test runs on SQLite and on
// PostgreSQL ($LK_TEST_POSTGRES_URL; skipped with a message when unset).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "base/base.h"
#include "tests/ledger/ledger_testing.h"
#include "tests/mail/smtp_sink.h"
#include "tests/testing/testing.h"

namespace lk {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;
using ::testing::HasSubstr;
using testing::RunProgram;

const char* kHeader =
    "staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter";

class ClaimsCliTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    backend_ = std::make_unique<ledger::testing::Backend>(GetParam(), dir_.path());
    if (!backend_->available()) {
      const char* url = std::getenv("LK_TEST_POSTGRES_URL");
      if (url && *url) FAIL() << backend_->reason();
      GTEST_SKIP() << backend_->reason();
    }
    ASSERT_EQ(Lk({"keys", "init"}).exit_code, 0);
  }
  void TearDown() override { unsetenv("LK_SMTP_PASSWORD"); }

  // The configuration of the run: the ledger under test, the sink, a login.
  void Configure(const mail::testing::SmtpSink& sink, const std::string& extra = "") {
    testing::WriteText(dir_ / "lk.toml",
                       "[ledger]\nurl = \"" + backend_->url() +
                           "\"\n[server]\npublic_url = \"https://lerarenkaart.example.be\"\n"
                           "[smtp]\nurl = \"" +
                           sink.url() +
                           "\"\nstarttls = \"optional\"\nuser = \"lk\"\n"
                           "from = \"kaart@lerarenkaart.example.be\"\nrate = 0\n" +
                           extra);
    setenv("LK_SMTP_PASSWORD", "s3cret", 1);
  }
  std::vector<std::string> Args(std::vector<std::string> args) {
    std::vector<std::string> all = {testing::Binary(), "--data-dir", dir_.path().string()};
    if (fs::exists(dir_ / "lk.toml")) all.insert(all.end(), {"--config", (dir_ / "lk.toml").string()});
    all.insert(all.end(), args.begin(), args.end());
    return all;
  }
  testing::RunResult Lk(std::vector<std::string> args) { return RunProgram(Args(std::move(args))); }
  void ImportRoster(const std::string& rows) {
    testing::WriteText(dir_ / "roster.csv", std::string(kHeader) + ",email,language\n" + rows);
    auto r = Lk(
        {"import", "roster", (dir_ / "roster.csv").string(), "--year", "2026", "--ledger", backend_->url()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // Every saved message, parsed: recipient -> messages.
  std::map<std::string, std::vector<json>> Received(const mail::testing::SmtpSink& sink) {
    std::map<std::string, std::vector<json>> out;
    for (const auto& eml : sink.Messages()) {
      json m = mail::testing::ReadMail(eml);
      m["envelope"] = sink.Envelope(eml);
      out[m["to_addr"].get<std::string>()].push_back(m);
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<ledger::testing::Backend> backend_;
};

// The claim code in a mail's text ("/claim?code=XXXX-XXXX-XXXX-XXXX").
std::string CodeIn(const std::string& text) {
  std::smatch m;
  if (!std::regex_search(text, m,
                         std::regex(R"(/claim\?code=([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}))")))
    return "";
  return m[1];
}

// `serve` on the test's ledger, in the background, until the object goes away.
class Server {
 public:
  Server(const std::vector<std::string>& argv, const fs::path& port_file) {
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<char*> args;
      std::vector<std::string> copy = argv;
      for (auto& a : copy) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    for (int i = 0; i < 300 && port_.empty(); ++i) {
      std::ifstream in(port_file);
      std::getline(in, port_);
      if (port_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ~Server() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + port_ + path; }
  bool up() const { return !port_.empty(); }

 private:
  pid_t pid_ = -1;
  std::string port_;
};

TEST_P(ClaimsCliTest, MailsEachHolderOnceAndTheLinkClaimsACardOverHttp) {
  mail::testing::SmtpSink sink(dir_ / "mail", {"--auth", "lk:s3cret", "--refuse", "eve@school.be"});
  Configure(sink);
  ImportRoster(
      "T1,An,Peeters,teaching,GO,basic,12345,2000,no,an@school.be,fr\n"
      "T2,Bert,Janssens,support,OGO,secondary,23456,9000,yes,bert@school.be,\n"
      "T3,Cas,Maes,administrative,VGO,higher,34567,1000,no,,\n"
      "T4,Chloé,Dubois,teaching,GO,basic,12345,2000,no,chloe@school.be,EN\n"
      "T5,Eve,Smet,teaching,GO,basic,12345,2000,no,eve@school.be,nl\n");

  auto help = Lk({"claims", "send", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("--dry-run"));

  // A dry run counts and checks, and neither sends nor writes.
  auto dry = Lk({"claims", "send", "--year", "2026", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_THAT(dry.out, HasSubstr("4 holders with an address and no card; 4 would be mailed"));
  EXPECT_TRUE(sink.Messages().empty());
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM claim_codes"), "0");

  auto run = Lk({"claims", "send", "--year", "2026", "--lang-default", "fr"});
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;  // one refused address
  EXPECT_THAT(run.out, HasSubstr("3 mailed, 0 already mailed, 1 failed, 0 in doubt"));
  EXPECT_THAT(run.out, HasSubstr("failed: eve@school.be"));
  EXPECT_THAT(run.out, HasSubstr("550 5.1.1"));
  auto got = Received(sink);
  ASSERT_EQ(got.size(), 3u);
  std::map<std::string, std::string> codes;
  for (const auto& [to, messages] : got) {
    ASSERT_EQ(messages.size(), 1u) << to;
    const json& m = messages[0];
    EXPECT_TRUE(m["defects"].empty()) << m["defects"];
    EXPECT_EQ(m["envelope"]["login"], "lk");
    EXPECT_EQ(m["envelope"]["mail_from"], "kaart@lerarenkaart.example.be");
    const std::string code = CodeIn(m["text"]);
    ASSERT_FALSE(code.empty()) << m["text"];
    EXPECT_THAT(m["html"].get<std::string>(), HasSubstr(code));
    ASSERT_EQ(m["images"].size(), 1u);
    EXPECT_EQ(mail::testing::DecodeQr(m["images"][0]["file"].get<std::string>()),
              "https://lerarenkaart.example.be/claim?code=" + code);
    codes[to] = code;
  }
  // Languages: the roster's, else --lang-default.
  EXPECT_THAT(got["an@school.be"][0]["text"].get<std::string>(), HasSubstr("An Peeters"));
  EXPECT_EQ(got["bert@school.be"][0]["subject"], got["an@school.be"][0]["subject"]);  // both French
  EXPECT_NE(got["chloe@school.be"][0]["subject"], got["an@school.be"][0]["subject"]);
  EXPECT_EQ(got["chloe@school.be"][0]["to_name"], "Chloé Dubois");
  std::set<std::string> distinct;
  for (auto& [to, code] : codes) distinct.insert(code);
  EXPECT_EQ(distinct.size(), 3u);

  // The mailed code claims An's card on a real service over the same ledger.
  Server serve(Args({"serve", "--listen", "127.0.0.1:0", "--port-file", (dir_ / "port").string()}),
               dir_ / "port");
  ASSERT_TRUE(serve.up());
  auto claim = RunProgram({"curl", "-sS", "-X", "POST", "-H", "Content-Type: application/json", "--data",
                           "{\"claim_code\":\"" + codes["an@school.be"] + "\"}", "-w", "\n%{http_code}",
                           serve.url("/v1/claims")});
  ASSERT_EQ(claim.exit_code, 0) << claim.err;
  const std::string status = claim.out.substr(claim.out.rfind('\n') + 1);
  EXPECT_TRUE(status == "200" || status == "201") << claim.out;
  json card = json::parse(claim.out.substr(0, claim.out.rfind('\n')));
  EXPECT_EQ(card["serial"].get<std::string>().size(), 12u) << card.dump();

  // A second run mails nobody again; the refused address is tried again; An has a card now.
  auto again = Lk({"claims", "send", "--year", "2026"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.out,
              HasSubstr("3 holders with an address and no card; 0 mailed, 2 already mailed, 1 failed"));
  EXPECT_EQ(sink.Messages().size(), 3u);
  // The runs and the codes are audited; the chain holds.
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM audit_log WHERE action = 'send claim mails'"), "2");
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM audit_log WHERE action = 'create claim codes'"), "1");
  auto verify = Lk({"ledger", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

TEST_P(ClaimsCliTest, AKilledRunResumesWithoutMailingAnyoneTwice) {
  mail::testing::SmtpSink sink(dir_ / "mail", {"--auth", "lk:s3cret"});
  Configure(sink);
  constexpr int kHolders = 40, kBatch = 4;
  std::string rows;
  for (int i = 0; i < kHolders; ++i)
    rows += "K" + std::to_string(i) + ",Leraar,Nummer" + std::to_string(i) +
            ",teaching,GO,basic,12345,2000,no,k" + std::to_string(i) + "@school.be,nl\n";
  ImportRoster(rows);
  // Ten mails a second; killed (SIGKILL) once the server has six.
  std::string argv;
  for (const auto& a :
       Args({"claims", "send", "--year", "2026", "--rate", "10", "--batch", std::to_string(kBatch)}))
    argv += "'" + a + "' ";
  auto killed = RunProgram(
      {"sh", "-c",
       argv + ">/dev/null 2>&1 & pid=$!; i=0; while [ $(ls \"$0\"/*.eml 2>/dev/null | wc -l) -lt 6 ] "
              "&& [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; kill -KILL $pid; wait $pid; "
              "echo $?",
       (dir_ / "mail").string()});
  ASSERT_EQ(killed.exit_code, 0) << killed.err;
  EXPECT_EQ(killed.out, "137\n") << "the run ended before it was killed";
  const size_t before = sink.Messages().size();
  EXPECT_GE(before, 6u);
  EXPECT_LT(before, static_cast<size_t>(kHolders));

  auto resumed = Lk({"claims", "send", "--year", "2026"});
  auto got = Received(sink);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      resumed.out, m, std::regex(R"((\d+) mailed, (\d+) already mailed, 0 failed, (\d+) in doubt)")))
      << resumed.out << resumed.err;
  const int sent = std::stoi(m[1]), skipped = std::stoi(m[2]), in_doubt = std::stoi(m[3]);
  EXPECT_EQ(sent + skipped + in_doubt, kHolders);
  EXPECT_LE(in_doubt, kBatch);  // at most the batch the kill interrupted
  RecordProperty("mailed_before_the_kill", static_cast<int>(before));
  RecordProperty("in_doubt", in_doubt);
  EXPECT_EQ(resumed.exit_code, in_doubt > 0 ? 1 : 0);
  // Nobody got two mails; everyone got one or is listed in doubt (and then got at most one).
  for (int i = 0; i < kHolders; ++i) {
    const std::string to = "k" + std::to_string(i) + "@school.be";
    const size_t n = got.count(to) ? got[to].size() : 0;
    EXPECT_LE(n, 1u) << to;
    if (n == 0) {
      EXPECT_THAT(resumed.out, HasSubstr("in doubt: " + to)) << to;
    }
  }
  // A third run mails nobody.
  auto third = Lk({"claims", "send", "--year", "2026"});
  EXPECT_THAT(third.out, HasSubstr("0 mailed"));
  EXPECT_EQ(sink.Messages().size(), before + static_cast<size_t>(sent));
}

// --limit mails a trial batch; the next runs go on where it stopped.
TEST_P(ClaimsCliTest, LimitMailsATrialBatchAndTheNextRunGoesOn) {
  mail::testing::SmtpSink sink(dir_ / "mail", {"--auth", "lk:s3cret"});
  Configure(sink);
  std::string rows;
  for (int i = 0; i < 5; ++i)
    rows += "L" + std::to_string(i) + ",Leraar,Nummer,teaching,GO,basic,12345,2000,no,l" + std::to_string(i) +
            "@school.be,\n";
  ImportRoster(rows);
  auto first = Lk({"claims", "send", "--year", "2026", "--limit", "2"});
  EXPECT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr("5 holders with an address and no card; 2 mailed, 0 already mailed"));
  auto second = Lk({"claims", "send", "--year", "2026", "--limit", "2"});
  EXPECT_THAT(second.out, HasSubstr("2 mailed, 2 already mailed"));
  auto rest = Lk({"claims", "send", "--year", "2026"});
  EXPECT_THAT(rest.out, HasSubstr("1 mailed, 4 already mailed, 0 failed, 0 in doubt"));
  auto got = Received(sink);
  EXPECT_EQ(got.size(), 5u);
  for (const auto& [to, messages] : got) EXPECT_EQ(messages.size(), 1u) << to;
  EXPECT_EQ(Lk({"claims", "send", "--year", "2026", "--limit", "0"}).exit_code, 2);  // bad usage
}

// [smtp] starttls = "required" with the server's certificate as ca_file: the mails go over TLS
// with the login; the same server without a trusted certificate fails every mail, listed.
TEST_P(ClaimsCliTest, StartTlsFromTheConfiguration) {
  auto cert = RunProgram({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                          "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                          (dir_ / "key.pem").string(), "-out", (dir_ / "cert.pem").string()});
  ASSERT_EQ(cert.exit_code, 0) << cert.err;
  mail::testing::SmtpSink sink(
      dir_ / "mail", {"--tls", (dir_ / "cert.pem").string(), (dir_ / "key.pem").string(), "--require-tls",
                      "--auth", "lk:s3cret"});
  ImportRoster(
      "T1,An,Peeters,teaching,GO,basic,12345,2000,no,an@school.be,fr\n"
      "T2,Bert,Janssens,support,OGO,secondary,23456,9000,yes,bert@school.be,\n");
  Configure(sink);  // starttls "optional", no CA: the server's certificate is not trusted
  auto untrusted = Lk({"claims", "send", "--year", "2026"});
  EXPECT_EQ(untrusted.exit_code, 1);
  EXPECT_THAT(untrusted.out, HasSubstr("0 mailed, 0 already mailed, 2 failed"));
  EXPECT_TRUE(sink.Messages().empty());
  std::string config = testing::RunProgram({"cat", (dir_ / "lk.toml").string()}).out;
  const std::string optional = "starttls = \"optional\"";
  config.replace(config.find(optional), optional.size(), "starttls = \"required\"");
  testing::WriteText(dir_ / "lk.toml", config + "ca_file = \"" + (dir_ / "cert.pem").string() + "\"\n");
  auto run = Lk({"claims", "send", "--year", "2026"});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("2 mailed, 0 already mailed, 0 failed"));  // the failed ones, retried
  ASSERT_EQ(sink.Messages().size(), 2u);
  for (const auto& eml : sink.Messages()) {
    EXPECT_EQ(sink.Envelope(eml)["tls"], true);
    EXPECT_EQ(sink.Envelope(eml)["login"], "lk");
  }
}

TEST_P(ClaimsCliTest, BadConfigurationIsRefusedBeforeAnyMail) {
  mail::testing::SmtpSink sink(dir_ / "mail");
  ImportRoster("T1,An,Peeters,teaching,GO,basic,12345,2000,no,an@school.be,fr\n");
  Configure(sink, "password = \"in the file\"\n");
  auto in_file = Lk({"claims", "send", "--year", "2026"});
  EXPECT_EQ(in_file.exit_code, 2);
  EXPECT_THAT(in_file.err, HasSubstr("'smtp.password' is not read from the file"));
  Configure(sink);
  testing::WriteText(dir_ / "lk.toml", "[ledger]\nurl = \"" + backend_->url() + "\"\n");
  auto no_url = Lk({"claims", "send", "--year", "2026"});
  EXPECT_EQ(no_url.exit_code, 2);
  EXPECT_THAT(no_url.err, HasSubstr("public_url"));
  auto no_from = Lk({"claims", "send", "--year", "2026", "--public-url", "https://x.example.be"});
  EXPECT_EQ(no_from.exit_code, 2);
  EXPECT_THAT(no_from.err, HasSubstr("[smtp] from"));
  EXPECT_TRUE(sink.Messages().empty());
}

// A free TCP port on 127.0.0.1 (for a serve whose public URL must name its port).
int FreePort() {
  auto r =
      RunProgram({"/usr/bin/python3", "-c",
                  "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"});
  return std::stoi(r.out);
}

// The value of the hidden csrf field of a page.
std::string CsrfIn(const std::string& html) {
  std::smatch m;
  return std::regex_search(html, m, std::regex(R"re(name="csrf" value="([^"]+)")re")) ? std::string(m[1])
                                                                                      : "";
}

// "Send me a new link": the same answer for a holder, a stranger and a holder without a card;
// only the holder with a card gets a mail; its link signs a new device in with one POST (a GET
// spends nothing), once; the form is rate-limited per client.
TEST_P(ClaimsCliTest, SendMeANewLinkSignsANewPhoneInOnce) {
  mail::testing::SmtpSink sink(dir_ / "mail", {"--auth", "lk:s3cret"});
  Configure(sink);
  ImportRoster(
      "T1,An,Peeters,teaching,GO,basic,12345,2000,no,an@school.be,fr\n"
      "T2,Bert,Janssens,support,OGO,secondary,23456,9000,yes,bert@school.be,\n");
  ASSERT_EQ(Lk({"ledger", "issue", "--staff-id", "T1", "--year", "2026"}).exit_code, 0);
  const std::string site = "http://127.0.0.1:" + std::to_string(FreePort());
  Server serve(Args({"serve", "--listen", site.substr(7), "--public-url", site, "--port-file",
                     (dir_ / "port").string()}),
               dir_ / "port");
  ASSERT_TRUE(serve.up());
  const std::string old_phone = (dir_ / "old.jar").string(), new_phone = (dir_ / "new.jar").string();
  auto curl = [&](const std::string& jar, std::vector<std::string> args) {
    std::vector<std::string> all = {"curl", "-sS", "-b", jar, "-c", jar, "-w", "\n%{http_code}"};
    all.insert(all.end(), args.begin(), args.end());
    auto r = RunProgram(all);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const size_t nl = r.out.rfind('\n');
    return std::pair{r.out.substr(nl + 1), r.out.substr(0, nl)};
  };
  auto [form_status, form] = curl(old_phone, {serve.url("/link")});
  EXPECT_EQ(form_status, "200");
  const std::string csrf = CsrfIn(form);
  ASSERT_FALSE(csrf.empty()) << form;
  auto ask = [&](const std::string& email) {
    return curl(old_phone, {"--data-urlencode", "email=" + email, "--data-urlencode", "csrf=" + csrf,
                            serve.url("/link")});
  };
  auto known = ask(" AN@school.be ");
  auto stranger = ask("nobody@school.be");
  auto no_card = ask("bert@school.be");
  EXPECT_EQ(known.first, "200");
  EXPECT_EQ(known, stranger);  // status and page: nothing tells them apart
  EXPECT_EQ(known, no_card);
  EXPECT_THAT(known.second, HasSubstr("Kijk in je mailbox"));
  EXPECT_EQ(ask("an@school.be").first, "429");  // three a client, then one per 200 s
  // One mail, to An, in An's language, with a one-time link.
  for (int i = 0; i < 100 && sink.Messages().empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto got = Received(sink);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got["an@school.be"].size(), 1u);
  const json& m = got["an@school.be"][0];
  EXPECT_THAT(m["subject"].get<std::string>(), HasSubstr("Lerarenkaart"));
  EXPECT_THAT(m["text"].get<std::string>(), HasSubstr("Bonjour An Peeters"));
  std::smatch link;
  const std::string text = m["text"];
  ASSERT_TRUE(std::regex_search(text, link, std::regex(site + R"(/link/signin\?token=([0-9A-Z]{32}))")))
      << text;
  const std::string token = link[1];

  // The new phone opens the link (twice: a GET spends nothing), then taps the button.
  auto page = curl(new_phone, {serve.url("/link/signin?token=" + token)});
  EXPECT_EQ(page.first, "200");
  page = curl(new_phone, {serve.url("/link/signin?token=" + token)});
  EXPECT_THAT(page.second, HasSubstr("value=\"" + token + "\""));
  const std::string new_csrf = CsrfIn(page.second);
  auto signin = curl(new_phone, {"--data-urlencode", "token=" + token, "--data-urlencode", "csrf=" + new_csrf,
                                 serve.url("/link/signin")});
  EXPECT_EQ(signin.first, "303");
  auto card = curl(new_phone, {serve.url("/card")});
  EXPECT_EQ(card.first, "200");
  EXPECT_THAT(card.second, HasSubstr("An Peeters"));
  // Once only; and not from another site's form.
  auto again = curl(new_phone, {"--data-urlencode", "token=" + token, "--data-urlencode", "csrf=" + new_csrf,
                                serve.url("/link/signin")});
  EXPECT_EQ(again.first, "410");
  auto forged = curl(new_phone, {"--data-urlencode", "token=" + token, "--data-urlencode", "csrf=forged",
                                 serve.url("/link/signin")});
  EXPECT_EQ(forged.first, "403");
  EXPECT_EQ(backend_->Value("SELECT count(*) FROM audit_log WHERE action = 'sign in by link'"), "1");
}

INSTANTIATE_TEST_SUITE_P(Backends, ClaimsCliTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace lk
