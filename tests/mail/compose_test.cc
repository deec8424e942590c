// The claim mail as composed: headers, encodings, CRLF and line lengths, HTML escaping, refused
// header injection, the three languages, and the QR code. Messages are read back with Python's
// email module (an independent MIME parser) and the QR code with zbarimg.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "mail/claim_mail.h"
#include "mail/internal/mime.h"
#include "mail/signin_mail.h"
#include "tests/mail/smtp_sink.h"
#include "tests/testing/testing.h"

namespace lk::mail {
namespace {
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kCode[] = "ABCD-EFGH-JKMN-PQRS";

ClaimMailOptions Options() {
  ClaimMailOptions o = testing::TestMailOptions();
  o.public_url += "/";  // a trailing slash is dropped
  o.contact = "helpdesk@lerarenkaart.example.be";
  return o;
}

class ClaimMailComposeTest : public ::testing::Test {
 protected:
  // 2 December 2026, 14:00 UTC: 15:00 in Brussels (CET).
  FakeClock clock_{ParseRfc3339("2026-12-02T14:00:00Z").value()};
  std::unique_ptr<ClaimMailComposer> composer_ = ClaimMailComposer::Create(Options(), clock_).value();
  lk::testing::TempDir tmp_;

  ClaimMailRow Row(Language lang = Language::kNl, std::string name = "Jan Peeters") {
    return {"S1", "jan.peeters@school.example.be", std::move(name), lang, kCode};
  }
  // The message parsed by Python's email module.
  nlohmann::json Parsed(const Message& m) {
    auto path = tmp_ / ("m" + std::to_string(++n_) + ".eml");
    lk::testing::WriteText(path, m.data);
    return testing::ReadMail(path);
  }
  int n_ = 0;
};

TEST_F(ClaimMailComposeTest, HeadersAndStructure) {
  auto m = composer_->Compose(Row()).value();
  EXPECT_EQ(m.envelope_from, "kaart@lerarenkaart.example.be");
  EXPECT_EQ(m.envelope_to, "jan.peeters@school.example.be");
  EXPECT_THAT(m.data, StartsWith("From: \"Lerarenkaart\" <kaart@lerarenkaart.example.be>\r\n"
                                 "To: \"Jan Peeters\" <jan.peeters@school.example.be>\r\n"));
  EXPECT_THAT(m.data, HasSubstr("\r\nDate: Wed, 02 Dec 2026 15:00:00 +0100\r\n"));
  EXPECT_THAT(m.data, HasSubstr("\r\nMessage-ID: " + m.message_id + "\r\n"));
  EXPECT_THAT(m.message_id, AllOf(StartsWith("<"), HasSubstr("@lerarenkaart.example.be>")));
  EXPECT_THAT(m.data, HasSubstr("\r\nMIME-Version: 1.0\r\n"));
  EXPECT_THAT(m.data, HasSubstr("Content-Transfer-Encoding: quoted-printable\r\n"));
  auto j = Parsed(m);
  EXPECT_THAT(j["defects"], ::testing::IsEmpty());
  EXPECT_EQ(j["subject"], "Je Lerarenkaart 2026: haal je kaart op");
  EXPECT_EQ(j["mime_version"], "1.0");
  EXPECT_THAT(j["structure"], ElementsAre("multipart/alternative", "text/plain", "multipart/related",
                                          "text/html", "image/png"));
}

TEST_F(ClaimMailComposeTest, CrlfLineEndingsAndShortLines) {
  auto m = composer_->Compose(Row(Language::kFr, std::string(200, 'x'))).value();
  size_t longest = 0, start = 0;
  for (size_t i = 0; i < m.data.size(); ++i) {
    if (m.data[i] == '\n') {
      ASSERT_GT(i, 0u);
      ASSERT_EQ(m.data[i - 1], '\r') << "bare LF at " << i;
      longest = std::max(longest, i - 1 - start);
      start = i + 1;
    } else if (m.data[i] == '\r') {
      ASSERT_TRUE(i + 1 < m.data.size() && m.data[i + 1] == '\n') << "bare CR at " << i;
    }
  }
  EXPECT_LE(longest, 78u);  // RFC 5322 recommends 78; the limit is 998
  EXPECT_TRUE(m.data.ends_with("\r\n"));
}

TEST_F(ClaimMailComposeTest, LinkAndCodeInBothParts) {
  auto link = std::string("https://lerarenkaart.example.be/claim?code=") + kCode;
  EXPECT_EQ(composer_->ClaimLink(kCode), link);
  auto j = Parsed(composer_->Compose(Row()).value());
  std::string text = j["text"], html = j["html"];
  EXPECT_THAT(text, AllOf(HasSubstr("Beste Jan Peeters,"), HasSubstr("\n" + link + "\n"), HasSubstr(kCode),
                          HasSubstr("De link werkt één keer. Bewaar deze mail."),
                          HasSubstr("helpdesk@lerarenkaart.example.be")));
  EXPECT_THAT(html, AllOf(HasSubstr("<a href=\"" + link + "\""), HasSubstr("lang=\"nl\""),
                          HasSubstr("De link werkt één keer. Bewaar deze mail.")));
}

TEST_F(ClaimMailComposeTest, QrImageIsInlineAndDecodesToTheLink) {
  auto j = Parsed(composer_->Compose(Row()).value());
  ASSERT_EQ(j["images"].size(), 1u);
  auto image = j["images"][0];
  std::string cid = image["cid"];  // "<qr....>"
  ASSERT_GT(cid.size(), 2u);
  EXPECT_EQ(image["disposition"], "inline");
  EXPECT_THAT(std::string(j["html"]), HasSubstr("src=\"cid:" + cid.substr(1, cid.size() - 2) + "\""));
  EXPECT_EQ(testing::DecodeQr(std::string(image["file"])), composer_->ClaimLink(kCode));
}

TEST_F(ClaimMailComposeTest, NameIsEscapedInHtmlAndEncodedInHeaders) {
  std::string name = "Zoë <b>O'Brien</b> & \"Co\"";
  auto m = composer_->Compose(Row(Language::kEn, name)).value();
  EXPECT_THAT(m.data, HasSubstr("To: =?UTF-8?B?"));  // not ASCII: RFC 2047
  auto j = Parsed(m);
  EXPECT_EQ(j["to_name"], name);
  EXPECT_EQ(j["to_addr"], "jan.peeters@school.example.be");
  std::string html = j["html"];
  EXPECT_THAT(html, HasSubstr("Dear Zoë &lt;b&gt;O&#39;Brien&lt;/b&gt; &amp; &quot;Co&quot;,"));
  EXPECT_THAT(html, Not(HasSubstr("<b>")));
  EXPECT_THAT(std::string(j["text"]), HasSubstr("Dear " + name + ","));
}

TEST_F(ClaimMailComposeTest, ThreeLanguages) {
  struct Case {
    Language lang;
    const char *subject, *once, *lang_attr;
  };
  for (auto c :
       {Case{Language::kNl, "Je Lerarenkaart 2026: haal je kaart op", "De link werkt één keer.", "nl"},
        Case{Language::kFr, "Votre Lerarenkaart 2026 : récupérez votre carte",
             "Le lien ne fonctionne qu'une fois.", "fr"},
        Case{Language::kEn, "Your Lerarenkaart 2026: collect your card", "The link works once.", "en"}}) {
    auto m = composer_->Compose(Row(c.lang)).value();
    EXPECT_THAT(m.data, HasSubstr(std::string("Content-Language: ") + c.lang_attr + "\r\n"));
    auto j = Parsed(m);
    EXPECT_EQ(j["subject"], c.subject);
    EXPECT_THAT(std::string(j["text"]), HasSubstr(c.once));
    EXPECT_THAT(std::string(j["html"]), HasSubstr(std::string("lang=\"") + c.lang_attr + "\""));
  }
}

TEST_F(ClaimMailComposeTest, NoNameGreetsAColleague) {
  auto j = Parsed(composer_->Compose(Row(Language::kNl, "")).value());
  EXPECT_THAT(std::string(j["text"]), StartsWith("Beste collega,"));
  EXPECT_EQ(j["to"], "jan.peeters@school.example.be");
}

TEST_F(ClaimMailComposeTest, EachMailHasItsOwnMessageIdAndBoundary) {
  auto a = composer_->Compose(Row()).value(), b = composer_->Compose(Row()).value();
  EXPECT_NE(a.message_id, b.message_id);
  EXPECT_NE(a.data.substr(a.data.find("boundary=")), b.data.substr(b.data.find("boundary=")));
}

TEST_F(ClaimMailComposeTest, HeaderInjectionIsRefused) {
  for (std::string name : std::vector<std::string>{
           "Jan\r\nBcc: all@example.org", "Jan\nX", "Jan\rX", std::string("Jan\0X", 5), "Jan\tX", "Jan\x7f",
           "Jan\xc2\x85X" /* U+0085 NEL */, "Jan\xe2\x80\xa8X" /* U+2028 */}) {
    auto r = composer_->Compose(Row(Language::kNl, name));
    ASSERT_FALSE(r) << name;
    EXPECT_EQ(r.error().code, Code::kInvalidArgument);
    EXPECT_THAT(r.error().message,
                AllOf(HasSubstr("staff S1: name"), Not(HasSubstr("\n")), Not(HasSubstr("\r"))));
  }
  for (std::string email : std::vector<std::string>{
           "jan@example.org\r\nRCPT TO:<all@example.org>", "jan@example.org>", "jan @example.org",
           "<jan@example.org>", "jan@exa mple.org", "zoë@example.org", "jan", "@example.org", "jan@",
           "jan..p@example.org", "jan@-example.org", "a,b@example.org"}) {
    auto row = Row();
    row.email = email;
    auto r = composer_->Compose(row);
    ASSERT_FALSE(r) << email;
    EXPECT_EQ(r.error().code, Code::kInvalidArgument);
    EXPECT_THAT(r.error().message, AllOf(HasSubstr("staff S1: email address"), Not(HasSubstr("\n"))));
  }
}

TEST_F(ClaimMailComposeTest, MalformedClaimCodeIsRefused) {
  for (std::string code : std::vector<std::string>{"", "abcd-efgh-jkmn-pqrs", "ABCD-EFGH-JKMN-PQR",
                                                   "ABCD-EFGH-JKMN-PQRS&x=1", "ABCDEFGHJKMNPQRS"}) {
    auto row = Row();
    row.claim_code = code;
    auto r = composer_->Compose(row);
    ASSERT_FALSE(r) << code;
    EXPECT_THAT(r.error().message, HasSubstr("is not of the form XXXX-XXXX-XXXX-XXXX"));
  }
}

TEST(ClaimMailOptionsTest, BadOptionsAreRefused) {
  FakeClock clock(Time{});
  auto with = [&](auto change) {
    auto o = Options();
    change(o);
    auto r = ClaimMailComposer::Create(o, clock);
    return r ? std::string() : r.error().message;
  };
  EXPECT_THAT(with([](auto& o) { o.public_url = "ftp://x"; }), HasSubstr("must start with https://"));
  EXPECT_THAT(with([](auto& o) { o.public_url = "https://x/?a=b"; }), HasSubstr("query"));
  EXPECT_THAT(with([](auto& o) { o.from.email = "kaart"; }), HasSubstr("sender (from): email address"));
  EXPECT_THAT(with([](auto& o) { o.from.name = "Kaart\r\nBcc: x@y.z"; }), HasSubstr("sender (from): name"));
  EXPECT_THAT(with([](auto& o) { o.year = 0; }), HasSubstr("card year 0"));
  EXPECT_EQ(with([](auto&) {}), "");
}

TEST(MailLanguageTest, Parse) {
  EXPECT_EQ(ParseLanguage("nl").value(), Language::kNl);
  EXPECT_EQ(ParseLanguage(" FR ").value(), Language::kFr);
  EXPECT_EQ(ParseLanguage("en-GB").value(), Language::kEn);
  EXPECT_EQ(ParseLanguage("nl_BE").value(), Language::kNl);
  EXPECT_EQ(ParseLanguage("", Language::kEn).value(), Language::kEn);
  EXPECT_THAT(ParseLanguage("de").error().message, HasSubstr("\"de\" is not one of nl, fr, en"));
}

TEST(MailMimeTest, QuotedPrintable) {
  using internal::QuotedPrintable;
  EXPECT_EQ(QuotedPrintable("a=b"), "a=3Db");
  EXPECT_EQ(QuotedPrintable("één\nregel"), "=C3=A9=C3=A9n\r\nregel");
  EXPECT_EQ(QuotedPrintable("trailing \r\nspace\t"), "trailing=20\r\nspace=09");
  auto long_line = QuotedPrintable(std::string(200, 'a') + "é");
  for (size_t start = 0; start < long_line.size();) {
    auto end = long_line.find("\r\n", start);
    if (end == std::string::npos) end = long_line.size();
    EXPECT_LE(end - start, 76u);
    start = end + 2;
  }
  EXPECT_THAT(long_line, HasSubstr("=\r\n"));
}

TEST(MailMimeTest, HeaderEncoding) {
  EXPECT_EQ(internal::UnstructuredHeader("Subject", "Plain"), "Subject: Plain\r\n");
  auto h = internal::UnstructuredHeader("Subject", std::string(30, 'x') + "é" + std::string(60, 'y'));
  EXPECT_THAT(h, StartsWith("Subject: =?UTF-8?B?"));
  for (size_t start = 0; start < h.size();) {  // every encoded word at most 75 characters
    auto end = h.find("\r\n", start);
    auto line = std::string_view(h).substr(start, end - start);
    auto word = line.substr(line.find("=?"));
    EXPECT_LE(word.size(), 75u);
    start = end + 2;
  }
  EXPECT_EQ(internal::MailboxHeader("To", {"a@b.c", "Jan \"JJ\" P\\"}),
            "To: \"Jan \\\"JJ\\\" P\\\\\" <a@b.c>\r\n");
  EXPECT_EQ(internal::MailboxHeader("To", {"a@b.c", ""}), "To: <a@b.c>\r\n");
}

TEST(MailMimeTest, DateInBrusselsTime) {
  EXPECT_EQ(internal::FormatMailDate(ParseRfc3339("2026-07-01T10:00:05Z").value()),
            "Wed, 01 Jul 2026 12:00:05 +0200");
  EXPECT_EQ(internal::FormatMailDate(ParseRfc3339("2026-01-04T23:30:00Z").value()),
            "Mon, 05 Jan 2026 00:30:00 +0100");
}

TEST(MailMimeTest, QrPngIsAValidPng) {
  int side = 0;
  auto png = internal::QrPng("https://example.org/claim?code=ABCD-EFGH-JKMN-PQRS", 4, &side).value();
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(side % 4, 0);
  EXPECT_LT(png.size(), 2000u);
  lk::testing::TempDir tmp;
  lk::testing::WriteText(tmp / "qr.png", png);
  EXPECT_EQ(testing::DecodeQr(tmp / "qr.png"), "https://example.org/claim?code=ABCD-EFGH-JKMN-PQRS");
}

// The sign-in mail of "send me a new link": the one-time link in both parts, three languages,
// the same refusals as the claim mail.
TEST_F(ClaimMailComposeTest, SignInMailCarriesTheLinkInEachLanguage) {
  SignInMailOptions o{"https://lerarenkaart.example.be",
                      {"kaart@lerarenkaart.example.be", "Lerarenkaart"},
                      "",
                      std::chrono::minutes(15)};
  std::set<std::string> subjects;
  for (Language lang : {Language::kNl, Language::kFr, Language::kEn}) {
    auto m =
        ComposeSignInMail(o, {"jan@school.example.be", "Jan <Peeters>", lang, "ABCDEFGH12345678"}, clock_);
    ASSERT_TRUE(m.has_value()) << m.error().message;
    EXPECT_EQ(m->envelope_to, "jan@school.example.be");
    auto j = Parsed(*m);
    EXPECT_TRUE(j["defects"].empty()) << j["defects"];
    const std::string link = "https://lerarenkaart.example.be/link/signin?token=ABCDEFGH12345678";
    EXPECT_THAT(j["text"].get<std::string>(), AllOf(HasSubstr(link), HasSubstr("15")));
    EXPECT_THAT(j["html"].get<std::string>(), AllOf(HasSubstr(link), HasSubstr("Jan &lt;Peeters&gt;")));
    subjects.insert(j["subject"].get<std::string>());
  }
  EXPECT_EQ(subjects.size(), 3u);
  EXPECT_FALSE(
      ComposeSignInMail(o, {"jan@school.example.be\r\nBcc: x@y.be", "", Language::kNl, "ABC"}, clock_));
  EXPECT_FALSE(ComposeSignInMail(o, {"jan@school.example.be", "", Language::kNl, "../etc"}, clock_));
}

}  // namespace
}  // namespace lk::mail
