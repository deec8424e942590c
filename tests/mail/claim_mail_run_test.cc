// The claim mail run and its journals: every holder once, resumable, at most once across a crash
// between send and mark, refusals listed; end to end against a real SMTP server on 127.0.0.1.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mail/claim_mail.h"
#include "tests/mail/smtp_sink.h"
#include "tests/testing/testing.h"

namespace lk::mail {
namespace {
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// A journal that fails on MarkSent of one staff id: the process "crashes" between the send and
// the mark (the run stops there, as a dead process would).
class CrashAfterSend final : public Journal {
 public:
  CrashAfterSend(Journal& inner, std::string id) : inner_(inner), id_(std::move(id)) {}
  Result<MailState> StateOf(const std::string& id) override { return inner_.StateOf(id); }
  Result<> MarkSending(std::span<const std::string> ids) override { return inner_.MarkSending(ids); }
  Result<> MarkSent(const std::string& id) override {
    if (id == id_) return Fail(Code::kUnavailable, "crash");
    return inner_.MarkSent(id);
  }
  Result<> MarkFailed(const std::string& id, const std::string& r) override {
    return inner_.MarkFailed(id, r);
  }

 private:
  Journal& inner_;
  std::string id_;
};

// A mailer that refuses everything, as a server that is down.
class DownMailer final : public Mailer {
 public:
  SendResult Send(const Message& m) override {
    ++calls;
    return std::unexpected(
        SendError{Error{Code::kUnavailable, "mail to " + m.envelope_to + ": refused"}, false});
  }
  int calls = 0;
};

class ClaimMailRunTest : public ::testing::Test {
 protected:
  ClaimMailRunTest() {
    composer_ = ClaimMailComposer::Create(testing::TestMailOptions(), clock_).value();
    for (int i = 1; i <= 5; ++i) {
      std::string n = std::to_string(i);
      rows_.push_back(
          {"S" + n, "t" + n + "@school.example.be", "Teacher " + n, Language::kNl, "ABCD-EFGH-JKMN-PQR" + n});
    }
  }
  std::unique_ptr<Mailer> Smtp(const testing::SmtpSink& sink) {
    SmtpConfig c;
    c.url = sink.url();
    c.starttls = StartTls::kOff;
    c.rate_per_second = 0;
    return NewSmtpMailer(c, clock_).value();
  }
  static std::vector<std::string> Recipients(const testing::SmtpSink& sink) {
    std::vector<std::string> out;
    for (auto& m : sink.Messages()) out.push_back(sink.Envelope(m)["rcpt_tos"][0]);
    return out;
  }
  static std::vector<std::string> Ids(const std::vector<Failure>& f) {
    std::vector<std::string> out;
    for (auto& x : f) out.push_back(x.staff_id);
    return out;
  }

  FakeClock clock_{ParseRfc3339("2026-12-02T14:00:00Z").value()};
  std::unique_ptr<ClaimMailComposer> composer_;
  std::vector<ClaimMailRow> rows_;
  lk::testing::TempDir tmp_;
};

TEST_F(ClaimMailRunTest, MailsEveryHolderWithProgress) {
  testing::SmtpSink sink(tmp_ / "inbox");
  auto mailer = Smtp(sink);
  auto journal = NewMemoryJournal();
  std::vector<int64_t> done;
  ClaimMailRunOptions options;
  options.progress = [&](const Progress& p) {
    done.push_back(p.done);
    EXPECT_EQ(p.total, 5);
  };
  auto s = RunClaimMail(rows_, *composer_, *mailer, *journal, options);
  EXPECT_FALSE(s.stopped);
  EXPECT_EQ(s.sent, 5);
  EXPECT_EQ(s.skipped, 0);
  EXPECT_TRUE(s.failed.empty() && s.in_doubt.empty());
  EXPECT_THAT(done, ElementsAre(1, 2, 3, 4, 5));
  EXPECT_THAT(Recipients(sink),
              ElementsAre("t1@school.example.be", "t2@school.example.be", "t3@school.example.be",
                          "t4@school.example.be", "t5@school.example.be"));
  EXPECT_EQ(journal->StateOf("S3").value(), MailState::kSent);
}

TEST_F(ClaimMailRunTest, ResumedRunMailsOnlyTheRest) {
  testing::SmtpSink sink(tmp_ / "inbox");
  auto mailer = Smtp(sink);
  {  // the first run got through two holders before it was interrupted
    auto journal = OpenFileJournal(tmp_ / "run.journal").value();
    auto first = RunClaimMail({rows_[0], rows_[1]}, *composer_, *mailer, *journal);
    EXPECT_EQ(first.sent, 2);
  }
  auto journal = OpenFileJournal(tmp_ / "run.journal").value();
  auto s = RunClaimMail(rows_, *composer_, *mailer, *journal);
  EXPECT_EQ(s.sent, 3);
  EXPECT_EQ(s.skipped, 2);
  EXPECT_THAT(Recipients(sink),
              ElementsAre("t1@school.example.be", "t2@school.example.be", "t3@school.example.be",
                          "t4@school.example.be", "t5@school.example.be"));
  auto again = RunClaimMail(rows_, *composer_, *mailer, *journal);  // nothing left to do
  EXPECT_EQ(again.sent, 0);
  EXPECT_EQ(again.skipped, 5);
  EXPECT_EQ(sink.Messages().size(), 5u);
}

TEST_F(ClaimMailRunTest, CrashBetweenSendAndMarkIsNotMailedTwice) {
  testing::SmtpSink sink(tmp_ / "inbox");
  auto mailer = Smtp(sink);
  {
    auto file = OpenFileJournal(tmp_ / "run.journal").value();
    CrashAfterSend crashing(*file, "S3");
    auto s = RunClaimMail(rows_, *composer_, *mailer, crashing);
    ASSERT_TRUE(s.stopped);
    EXPECT_EQ(s.sent, 3);  // S3 went out, then the "crash"
  }
  auto journal = OpenFileJournal(tmp_ / "run.journal").value();
  EXPECT_EQ(journal->StateOf("S3").value(), MailState::kSending);
  auto s = RunClaimMail(rows_, *composer_, *mailer, *journal);
  EXPECT_EQ(s.sent, 2);
  EXPECT_EQ(s.skipped, 2);
  ASSERT_EQ(s.in_doubt.size(), 1u);
  EXPECT_EQ(s.in_doubt[0].staff_id, "S3");
  EXPECT_EQ(s.in_doubt[0].email, "t3@school.example.be");
  auto recipients = Recipients(sink);
  EXPECT_EQ(std::count(recipients.begin(), recipients.end(), "t3@school.example.be"), 1);
  EXPECT_EQ(recipients.size(), 5u);
}

TEST_F(ClaimMailRunTest, CrashMidBatchLeavesOnlyThatBatchInDoubt) {
  // What a process killed while sending S3 leaves: S1..S4 marked "sending" together (batch of
  // 4), S1 and S2 marked "sent". Whether S3 went out nobody knows, and S4 looks the same.
  lk::testing::WriteText(tmp_ / "run.journal",
                         "sending\tS1\nsending\tS2\nsending\tS3\nsending\tS4\nsent\tS1\nsent\tS2\n");
  testing::SmtpSink sink(tmp_ / "inbox");
  auto mailer = Smtp(sink);
  auto journal = OpenFileJournal(tmp_ / "run.journal").value();
  auto s = RunClaimMail(rows_, *composer_, *mailer, *journal);
  EXPECT_EQ(s.skipped, 2);
  EXPECT_THAT(Ids(s.in_doubt), ElementsAre("S3", "S4"));
  EXPECT_EQ(s.sent, 1);
  EXPECT_THAT(Recipients(sink), ElementsAre("t5@school.example.be"));
}

TEST_F(ClaimMailRunTest, BatchesOfOneFsyncPerMailAndRepeatedHoldersOnce) {
  rows_.push_back(rows_[0]);  // S1 twice in the roster
  rows_.insert(rows_.begin() + 1, rows_[0]);
  for (int batch : {1, 2, 16}) {
    lk::testing::TempDir dir;
    testing::SmtpSink inbox(dir / "inbox");
    auto m = Smtp(inbox);
    auto journal = OpenFileJournal(dir / "run.journal").value();
    ClaimMailRunOptions options;
    options.batch = batch;
    auto s = RunClaimMail(rows_, *composer_, *m, *journal, options);
    EXPECT_EQ(s.sent, 5) << batch;
    EXPECT_EQ(s.skipped, 2) << batch;
    EXPECT_EQ(inbox.Messages().size(), 5u) << batch;
  }
}

TEST_F(ClaimMailRunTest, RefusedRecipientIsListedOthersSentAndRetriedLater) {
  auto journal = OpenFileJournal(tmp_ / "run.journal").value();
  {
    testing::SmtpSink sink(tmp_ / "inbox1", {"--refuse", "t2@school.example.be"});
    auto mailer = Smtp(sink);
    auto s = RunClaimMail(rows_, *composer_, *mailer, *journal);
    EXPECT_FALSE(s.stopped);
    EXPECT_EQ(s.sent, 4);
    ASSERT_EQ(s.failed.size(), 1u);
    EXPECT_EQ(s.failed[0].staff_id, "S2");
    EXPECT_EQ(s.failed[0].email, "t2@school.example.be");
    EXPECT_THAT(s.failed[0].reason, AllOf(HasSubstr("t2@school.example.be"), HasSubstr("550 5.1.1")));
    EXPECT_EQ(Recipients(sink).size(), 4u);
  }
  EXPECT_EQ(journal->StateOf("S2").value(), MailState::kFailed);
  testing::SmtpSink fixed(tmp_ / "inbox2");  // the mailbox exists now
  auto mailer = Smtp(fixed);
  auto s = RunClaimMail(rows_, *composer_, *mailer, *journal);
  EXPECT_EQ(s.sent, 1);
  EXPECT_EQ(s.skipped, 4);
  EXPECT_THAT(Recipients(fixed), ElementsAre("t2@school.example.be"));
}

TEST_F(ClaimMailRunTest, LostAnswerAfterTheDataIsInDoubtAndNotRetried) {
  testing::SmtpSink sink(tmp_ / "inbox", {"--drop-after-data", "t4@school.example.be"});
  auto mailer = Smtp(sink);
  auto journal = NewMemoryJournal();
  auto s = RunClaimMail(rows_, *composer_, *mailer, *journal);
  EXPECT_EQ(s.sent, 4);
  EXPECT_THAT(Ids(s.in_doubt), ElementsAre("S4"));
  EXPECT_EQ(journal->StateOf("S4").value(), MailState::kSending);
  auto again = RunClaimMail(rows_, *composer_, *mailer, *journal);
  EXPECT_EQ(again.sent, 0);
  EXPECT_THAT(Ids(again.in_doubt), ElementsAre("S4"));
}

TEST_F(ClaimMailRunTest, BadRowsAreListedAndNotJournaled) {
  rows_[1].email = "not-an-address";
  rows_[3].name = "Eve\r\nBcc: all@example.org";
  testing::SmtpSink sink(tmp_ / "inbox");
  auto mailer = Smtp(sink);
  auto journal = NewMemoryJournal();
  auto s = RunClaimMail(rows_, *composer_, *mailer, *journal);
  EXPECT_EQ(s.sent, 3);
  EXPECT_THAT(Ids(s.failed), ElementsAre("S2", "S4"));
  EXPECT_THAT(s.failed[1].reason, HasSubstr("control character"));
  EXPECT_EQ(journal->StateOf("S2").value(), MailState::kNone);
}

TEST_F(ClaimMailRunTest, ServerDownStopsAfterConsecutiveFailures) {
  DownMailer down;
  auto journal = NewMemoryJournal();
  ClaimMailRunOptions options;
  options.max_consecutive_failures = 3;
  auto s = RunClaimMail(rows_, *composer_, down, *journal, options);
  ASSERT_TRUE(s.stopped);
  EXPECT_EQ(s.stopped->code, Code::kUnavailable);
  EXPECT_THAT(s.stopped->message, HasSubstr("3 sends failed in a row"));
  EXPECT_EQ(down.calls, 3);
  EXPECT_THAT(Ids(s.failed), ElementsAre("S1", "S2", "S3"));
  EXPECT_EQ(journal->StateOf("S4").value(), MailState::kFailed);  // not tried: a later run will
  EXPECT_EQ(journal->StateOf("S5").value(), MailState::kFailed);
}

TEST_F(ClaimMailRunTest, RefusedLoginStopsTheRunAtOnce) {
  testing::SmtpSink sink(tmp_ / "inbox", {"--auth", "mailer:right"});
  SmtpConfig c;
  c.url = sink.url();
  c.starttls = StartTls::kOptional;
  c.username = "mailer";
  c.password = "wrong";
  auto mailer = NewSmtpMailer(c, clock_).value();
  auto journal = NewMemoryJournal();
  auto s = RunClaimMail(rows_, *composer_, *mailer, *journal);
  ASSERT_TRUE(s.stopped);
  EXPECT_EQ(s.stopped->code, Code::kUnauthenticated);
  EXPECT_THAT(Ids(s.failed), ElementsAre("S1"));
}

TEST(MailFileJournalTest, RecordsSurviveReopening) {
  lk::testing::TempDir tmp;
  {
    auto j = OpenFileJournal(tmp / "j").value();
    ASSERT_TRUE(j->MarkSending(std::vector<std::string>{"a"}));
    ASSERT_TRUE(j->MarkSent("a"));
    ASSERT_TRUE(j->MarkSending(std::vector<std::string>{"b", "c"}));
    ASSERT_TRUE(j->MarkFailed("c", "550\nno such mailbox"));
  }
  auto j = OpenFileJournal(tmp / "j").value();
  EXPECT_EQ(j->StateOf("a").value(), MailState::kSent);
  EXPECT_EQ(j->StateOf("b").value(), MailState::kSending);
  EXPECT_EQ(j->StateOf("c").value(), MailState::kFailed);
  EXPECT_EQ(j->StateOf("d").value(), MailState::kNone);
  EXPECT_EQ(ReadFile(tmp / "j").value(),
            "sending\ta\nsent\ta\nsending\tb\nsending\tc\nfailed\tc\t550 no such mailbox\n");
  EXPECT_EQ(std::filesystem::status(tmp / "j").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST(MailFileJournalTest, TornLastLineIsDropped) {
  lk::testing::TempDir tmp;
  lk::testing::WriteText(tmp / "j", "sending\ta\nsent\ta\nsending\tb\nse");
  auto j = OpenFileJournal(tmp / "j").value();
  EXPECT_EQ(j->StateOf("b").value(), MailState::kSending);
  ASSERT_TRUE(j->MarkSent("b"));
  EXPECT_EQ(ReadFile(tmp / "j").value(), "sending\ta\nsent\ta\nsending\tb\nsent\tb\n");
}

TEST(MailFileJournalTest, CorruptFileIsDataLoss) {
  lk::testing::TempDir tmp;
  lk::testing::WriteText(tmp / "j", "sending\ta\ndelivered\ta\n");
  auto j = OpenFileJournal(tmp / "j");
  ASSERT_FALSE(j);
  EXPECT_EQ(j.error().code, Code::kDataLoss);
  EXPECT_THAT(j.error().message, AllOf(HasSubstr((tmp / "j").string()), HasSubstr("line 2")));
}

TEST(MailFileJournalTest, StaffIdsWithControlCharactersAreRefused) {
  lk::testing::TempDir tmp;
  auto j = OpenFileJournal(tmp / "j").value();
  EXPECT_EQ(j->MarkSending(std::vector<std::string>{"ok", "a\nsent\tb"}).error().code,
            Code::kInvalidArgument);
  EXPECT_EQ(j->MarkSending(std::vector<std::string>{"a\tb"}).error().code, Code::kInvalidArgument);
  EXPECT_EQ(j->StateOf("ok").value(), MailState::kNone);  // all or nothing
  EXPECT_EQ(ReadFile(tmp / "j").value(), "");
}

}  // namespace
}  // namespace lk::mail
