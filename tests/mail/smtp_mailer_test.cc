// The SMTP mailer against a real SMTP server on 127.0.0.1 (aiosmtpd, tests/mail/smtp_sink.py):
// what arrives, one connection for many messages, AUTH, STARTTLS, refusals, and pacing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mail/claim_mail.h"
#include "mail/mail.h"
#include "tests/mail/smtp_sink.h"
#include "tests/testing/testing.h"

namespace lk::mail {
namespace {
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kCode[] = "ABCD-EFGH-JKMN-PQRS";

class SmtpMailerTest : public ::testing::Test {
 protected:
  SmtpMailerTest() { composer_ = ClaimMailComposer::Create(testing::TestMailOptions(), clock_).value(); }
  SmtpConfig Config(const testing::SmtpSink& sink) {
    SmtpConfig c;
    c.url = sink.url();
    c.starttls = StartTls::kOff;
    c.rate_per_second = 0;
    c.connect_timeout = std::chrono::seconds(5);
    c.total_timeout = std::chrono::seconds(10);
    return c;
  }
  Message Mail(const std::string& to, Language lang = Language::kNl) {
    return composer_->Compose({"S-" + to, to, "Jan Peeters", lang, kCode}).value();
  }
  // Makes a self-signed certificate for 127.0.0.1 in the test's directory.
  void MakeCertificate() {
    auto r = lk::testing::RunProgram({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                                      "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                                      "-keyout", (tmp_ / "key.pem").string(), "-out",
                                      (tmp_ / "cert.pem").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  FakeClock clock_{ParseRfc3339("2026-12-02T14:00:00Z").value()};
  std::unique_ptr<ClaimMailComposer> composer_;
  lk::testing::TempDir tmp_;
};

TEST_F(SmtpMailerTest, ClaimMailArrivesAndReadsBack) {
  testing::SmtpSink sink(tmp_ / "inbox");
  auto mailer = NewSmtpMailer(Config(sink), clock_).value();
  auto sent = mailer->Send(Mail("jan@school.example.be", Language::kFr));
  ASSERT_TRUE(sent) << sent.error().error.message;
  EXPECT_EQ(sent->reply, "250 2.0.0 OK queued as 1");
  auto inbox = sink.Messages();
  ASSERT_EQ(inbox.size(), 1u);
  auto env = sink.Envelope(inbox[0]);
  EXPECT_EQ(env["mail_from"], "kaart@lerarenkaart.example.be");
  EXPECT_THAT(env["rcpt_tos"], ElementsAre("jan@school.example.be"));
  auto j = testing::ReadMail(inbox[0]);
  EXPECT_THAT(j["defects"], ::testing::IsEmpty());
  EXPECT_EQ(j["to"], "Jan Peeters <jan@school.example.be>");
  EXPECT_EQ(j["subject"], "Votre Lerarenkaart 2026 : récupérez votre carte");
  std::string link = composer_->ClaimLink(kCode);
  EXPECT_THAT(std::string(j["text"]), AllOf(HasSubstr("Bonjour Jan Peeters,"), HasSubstr(link)));
  EXPECT_THAT(std::string(j["html"]), AllOf(HasSubstr("href=\"" + link + "\""), HasSubstr("src=\"cid:")));
  ASSERT_EQ(j["images"].size(), 1u);
  EXPECT_EQ(testing::DecodeQr(std::string(j["images"][0]["file"])), link);
}

TEST_F(SmtpMailerTest, ManyMessagesShareOneConnection) {
  testing::SmtpSink sink(tmp_ / "inbox");
  auto mailer = NewSmtpMailer(Config(sink), clock_).value();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(mailer->Send(Mail("t" + std::to_string(i) + "@school.example.be")));
  auto inbox = sink.Messages();
  ASSERT_EQ(inbox.size(), 5u);
  for (size_t i = 0; i < inbox.size(); ++i) {
    auto env = sink.Envelope(inbox[i]);
    EXPECT_EQ(env["connection"], 1) << i;
    EXPECT_THAT(env["rcpt_tos"], ElementsAre("t" + std::to_string(i) + "@school.example.be"));
  }
}

TEST_F(SmtpMailerTest, AuthenticatesWithUserAndPassword) {
  testing::SmtpSink sink(tmp_ / "inbox", {"--auth", "mailer:s3cret-pw"});
  auto config = Config(sink);
  config.starttls = StartTls::kOptional;  // the sink offers no TLS here
  config.username = "mailer";
  config.password = "s3cret-pw";
  auto sent = NewSmtpMailer(config, clock_).value()->Send(Mail("jan@school.example.be"));
  ASSERT_TRUE(sent) << sent.error().error.message;
  EXPECT_EQ(sink.Envelope(sink.Messages().at(0))["login"], "mailer");
}

TEST_F(SmtpMailerTest, WrongPasswordIsUnauthenticatedAndNeverQuoted) {
  testing::SmtpSink sink(tmp_ / "inbox", {"--auth", "mailer:s3cret-pw"});
  auto config = Config(sink);
  config.starttls = StartTls::kOptional;
  config.username = "mailer";
  config.password = "wrong-pw-123";
  auto sent = NewSmtpMailer(config, clock_).value()->Send(Mail("jan@school.example.be"));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().error.code, Code::kUnauthenticated);
  EXPECT_FALSE(sent.error().maybe_delivered);
  EXPECT_THAT(sent.error().error.message, AllOf(HasSubstr("mail to jan@school.example.be"), HasSubstr("535"),
                                                Not(HasSubstr("wrong-pw-123"))));
  EXPECT_TRUE(sink.Messages().empty());
}

TEST_F(SmtpMailerTest, StartTlsWithAuthentication) {
  MakeCertificate();
  testing::SmtpSink sink(tmp_ / "inbox", {"--tls", (tmp_ / "cert.pem").string(), (tmp_ / "key.pem").string(),
                                          "--require-tls", "--auth", "mailer:s3cret-pw"});
  auto config = Config(sink);
  config.starttls = StartTls::kRequired;
  config.ca_file = (tmp_ / "cert.pem").string();
  config.username = "mailer";
  config.password = "s3cret-pw";
  auto mailer = NewSmtpMailer(config, clock_).value();
  for (int i = 0; i < 2; ++i) {
    auto sent = mailer->Send(Mail("jan@school.example.be"));
    ASSERT_TRUE(sent) << sent.error().error.message;
  }
  for (auto& m : sink.Messages()) {
    auto env = sink.Envelope(m);
    EXPECT_EQ(env["tls"], true);
    EXPECT_EQ(env["login"], "mailer");
    EXPECT_EQ(env["connection"], 1);
  }
}

TEST_F(SmtpMailerTest, StartTlsRequiredButNotOfferedFails) {
  testing::SmtpSink sink(tmp_ / "inbox");
  auto config = Config(sink);
  config.starttls = StartTls::kRequired;
  auto sent = NewSmtpMailer(config, clock_).value()->Send(Mail("jan@school.example.be"));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().error.code, Code::kUnavailable);
  EXPECT_FALSE(sent.error().maybe_delivered);
  EXPECT_THAT(sent.error().error.message, HasSubstr("mail to jan@school.example.be: "));
  EXPECT_TRUE(sink.Messages().empty());
}

TEST_F(SmtpMailerTest, RefusedRecipientIsNamedWithTheServersAnswer) {
  testing::SmtpSink sink(tmp_ / "inbox", {"--refuse", "gone@school.example.be"});
  auto mailer = NewSmtpMailer(Config(sink), clock_).value();
  auto sent = mailer->Send(Mail("gone@school.example.be"));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().error.code, Code::kFailedPrecondition);
  EXPECT_FALSE(sent.error().maybe_delivered);
  EXPECT_THAT(sent.error().error.message, AllOf(HasSubstr("mail to gone@school.example.be"),
                                                HasSubstr("550 5.1.1"), HasSubstr("no such mailbox")));
  ASSERT_TRUE(mailer->Send(Mail("jan@school.example.be")));  // the next one goes through
  EXPECT_EQ(sink.Messages().size(), 1u);
}

TEST_F(SmtpMailerTest, ConnectionLostAfterTheDataMayHaveDelivered) {
  testing::SmtpSink sink(tmp_ / "inbox", {"--drop-after-data", "lost@school.example.be"});
  auto mailer = NewSmtpMailer(Config(sink), clock_).value();
  auto sent = mailer->Send(Mail("lost@school.example.be"));
  ASSERT_FALSE(sent);
  EXPECT_TRUE(sent.error().maybe_delivered) << sent.error().error.message;
  EXPECT_THAT(sent.error().error.message, HasSubstr("may have been delivered"));
  auto next = mailer->Send(Mail("jan@school.example.be"));  // a new connection
  ASSERT_TRUE(next) << next.error().error.message;
}

TEST_F(SmtpMailerTest, NoServerIsUnavailableNotDelivered) {
  int port;
  {
    testing::SmtpSink gone(tmp_ / "x");
    port = gone.port();
  }  // a port nobody listens on now
  SmtpConfig config;
  config.url = "smtp://127.0.0.1:" + std::to_string(port);
  config.starttls = StartTls::kOff;
  auto sent = NewSmtpMailer(config, clock_).value()->Send(Mail("jan@school.example.be"));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().error.code, Code::kUnavailable);
  EXPECT_FALSE(sent.error().maybe_delivered);
}

TEST_F(SmtpMailerTest, SendsArePacedByTheRate) {
  testing::SmtpSink sink(tmp_ / "inbox");
  auto config = Config(sink);
  config.rate_per_second = 4;
  std::vector<std::chrono::nanoseconds> waits;
  auto mailer =
      NewSmtpMailer(config, clock_, [&](std::chrono::nanoseconds d) { waits.push_back(d); }).value();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(mailer->Send(Mail("jan@school.example.be")));
  using std::chrono::milliseconds;
  EXPECT_THAT(waits, ElementsAre(milliseconds(250), milliseconds(500)));  // the fake clock stands still
}

TEST(SmtpMailerConfigTest, BadConfigurationsAreRefused) {
  FakeClock clock(Time{});
  auto with = [&](auto change) {
    SmtpConfig c;
    change(c);
    auto r = NewSmtpMailer(c, clock);
    return r ? std::string() : r.error().message;
  };
  EXPECT_EQ(with([](auto&) {}), "");
  EXPECT_THAT(with([](auto& c) { c.url = "http://mail.example.org"; }), HasSubstr("smtp:// or smtps://"));
  EXPECT_THAT(with([](auto& c) { c.url = "smtp://user:pw@mail.example.org"; }), HasSubstr("not in the url"));
  EXPECT_THAT(with([](auto& c) { c.url = "smtp://mail.example.org\r\nX"; }), HasSubstr("control character"));
  EXPECT_THAT(with([](auto& c) {
                c.starttls = StartTls::kOff;
                c.username = "u";
              }),
              HasSubstr("without TLS"));
  EXPECT_THAT(with([](auto& c) { c.rate_per_second = -1; }), HasSubstr("rate_per_second"));
  EXPECT_EQ(with([](auto& c) { c.url = "smtps://mail.example.org:465"; }), "");
}

TEST(MailRateLimiterTest, BooksSlotsOneIntervalApart) {
  FakeClock clock(Time{});
  RateLimiter limiter(2, clock);
  using std::chrono::milliseconds;
  EXPECT_EQ(limiter.Reserve(), milliseconds(0));
  EXPECT_EQ(limiter.Reserve(), milliseconds(500));
  EXPECT_EQ(limiter.Reserve(), milliseconds(1000));
  clock.Advance(std::chrono::seconds(10));  // idle time is not saved up as a burst
  EXPECT_EQ(limiter.Reserve(), milliseconds(0));
  EXPECT_EQ(limiter.Reserve(), milliseconds(500));
  RateLimiter unlimited(0, clock);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(unlimited.Reserve(), milliseconds(0));
}

}  // namespace
}  // namespace lk::mail
