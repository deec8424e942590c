// The staff console over real HTTP, with the service in this process on a FakeClock (sessions
// expire by moving it) and a real SQLite ledger with a roster, a digital card and a staff key:
// sign-in and sessions, CSRF refusals, the adoption view's controls and downloads, looking a card
// up without creating one, revoking it and its audit trail, a new claim code.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <regex>
#include <set>

#include "api/api.h"
#include "base/base.h"
#include "ledger/ledger.h"
#include "reports/reports.h"
#include "signing/signing.h"
#include "tests/api/service_harness.h"
#include "tests/testing/testing.h"
#include "web/web.h"

namespace lk::api {
namespace {
using ::testing::HasSubstr;
using testing::Http;
using testing::HttpResponse;
using ::testing::Not;
using ::testing::StartsWith;

class ConsolePagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keys_.dir = dir_ / "keys";
    ASSERT_TRUE(signing::InitDevelopmentKeys(keys_, clock_));
    auto ring = signing::Keyring::Open(keys_);
    ASSERT_TRUE(ring) << ring.error().message;
    keyring_ = std::move(*ring);
    options_.data_dir = dir_.path();
    options_.keys_dir = keys_.dir;
    auto l = ledger::OpenLedger(options_, clock_);
    ASSERT_TRUE(l) << l.error().message;
    other_ = std::move(*l);
    lk::testing::WriteText(
        dir_ / "roster.csv",
        "staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter\n"
        "T1,An,Peeters,teaching,GO,basic,12345,2000,no\n"
        "T2,Bo,Claes,support,VGO,secondary,12346,9000,no\n"
        "T3,<b>Cas</b>,Wouters,teaching,OGO,basic,12347,3500,no\n");
    ASSERT_TRUE(other_->imports().ImportRoster(dir_ / "roster.csv", 2026));
    auto card = other_->cards().IssueDigital("T1", 2026);
    ASSERT_TRUE(card) << card.error().message;
    serial_ = card->serial;
    auto secret = other_->access().AddCredential(ledger::CredentialKind::kStaff, "analist");
    ASSERT_TRUE(secret) << secret.error().message;
    secret_ = *secret;
  }
  void Start(ServiceOptions o = {}) {
    o.port = 0;
    o.access_log = false;
    ServiceDeps d;
    d.clock = &clock_;
    auto l = ledger::OpenLedger(options_, clock_);
    ASSERT_TRUE(l);
    d.ledger = std::move(*l);
    d.keyring = keyring_.get();
    auto s = Service::Start(o, std::move(d));
    ASSERT_TRUE(s) << s.error().message;
    service_ = std::move(*s);
  }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(service_->port()) + path;
  }
  static std::string Match(const std::string& text, const std::string& re) {
    std::smatch m;
    EXPECT_TRUE(std::regex_search(text, m, std::regex(re))) << re << " in " << text;
    return m.size() > 1 ? m[1].str() : "";
  }
  // Posts the sign-in form with `secret`, with the form's own CSRF pair unless told otherwise.
  HttpResponse PostSignIn(const std::string& secret, bool with_csrf = true,
                          std::vector<std::string> extra = {}) {
    auto form = Http("GET", Url("/console"));
    std::string token = Match(form.header("set-cookie"), "lk_console_csrf=([^;]+)");
    extra.push_back("Content-Type: application/x-www-form-urlencoded");
    if (with_csrf) extra.push_back("Cookie: lk_console_csrf=" + token);
    return Http("POST", Url("/console/signin"), "csrf=" + token + "&credential=" + secret, extra);
  }
  // Signs in; returns the session cookie ("lk_console=...").
  std::string SignIn() {
    auto r = PostSignIn(secret_);
    EXPECT_EQ(r.status, 303) << r.body;
    EXPECT_EQ(r.header("location"), "/console");
    return "lk_console=" + Match(r.header("set-cookie"), "lk_console=([^;]+)");
  }
  static std::string CsrfOf(const std::string& html) {
    return Match(html, "name=\"csrf\" value=\"([^\"]+)\"");
  }
  HttpResponse Get(const std::string& path, const std::string& cookie) {
    return Http("GET", Url(path), "", {"Cookie: " + cookie});
  }
  HttpResponse Post(const std::string& path, const std::string& cookie, const std::string& body,
                    std::vector<std::string> extra = {}) {
    extra.push_back("Cookie: " + cookie);
    extra.push_back("Content-Type: application/x-www-form-urlencoded");
    return Http("POST", Url(path), body, extra);
  }
  static void ExpectPage(const HttpResponse& r, long status, const std::string& lang = "nl") {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_THAT(r.header("content-type"), StartsWith("text/html"));
    EXPECT_THAT(r.body, HasSubstr("<html lang=\"" + lang + "\">"));
    EXPECT_THAT(r.header("content-security-policy"), Not(HasSubstr("script-src")));
  }

  lk::testing::TempDir dir_;
  FakeClock clock_{Time(std::chrono::sys_days(std::chrono::year(2026) / 3 / 1))};
  signing::KeyConfig keys_;
  std::unique_ptr<signing::Keyring> keyring_;
  ledger::LedgerOptions options_;
  std::unique_ptr<ledger::Ledger> other_;
  std::string serial_, secret_;
  std::unique_ptr<Service> service_;
};

TEST_F(ConsolePagesTest, SignInSetsARandomStrictHttpOnlySessionCookieNeverTheSecret) {
  Start();
  auto form = Http("GET", Url("/console"));
  ExpectPage(form, 200);
  EXPECT_THAT(form.body, HasSubstr("type=\"password\""));
  EXPECT_THAT(form.header("set-cookie"), HasSubstr("HttpOnly; SameSite=Strict"));
  auto r = PostSignIn(secret_);
  ASSERT_EQ(r.status, 303) << r.body;
  std::string cookie = r.header("set-cookie");
  EXPECT_THAT(cookie, StartsWith("lk_console="));
  EXPECT_THAT(cookie, HasSubstr("Path=/console; Max-Age=28800; HttpOnly; SameSite=Strict"));
  EXPECT_THAT(cookie, Not(HasSubstr("Secure")));  // http here; https adds it
  EXPECT_THAT(cookie, Not(HasSubstr(secret_)));
  EXPECT_EQ(Match(cookie, "lk_console=([^;]+)").size(), 43u);  // 256 random bits, base64url
  auto view = Get("/console", "lk_console=" + Match(cookie, "lk_console=([^;]+)"));
  ExpectPage(view, 200);
  EXPECT_THAT(view.body, HasSubstr("Gebruik van de Lerarenkaart"));
  EXPECT_THAT(view.body, HasSubstr("analist"));
  EXPECT_THAT(view.body, Not(HasSubstr(secret_)));
}

TEST_F(ConsolePagesTest, BadSignInsArePagesWithASentence) {
  Start();
  auto wrong = PostSignIn("lks_WRONG");
  ExpectPage(wrong, 401);
  EXPECT_THAT(wrong.body, HasSubstr("Deze sleutel kennen we niet"));
  EXPECT_EQ(wrong.header("set-cookie").find("lk_console="), std::string::npos);
  auto empty = PostSignIn("");
  ExpectPage(empty, 400);
  EXPECT_THAT(empty.body, HasSubstr("Vul je medewerkerssleutel in"));
  auto no_csrf = PostSignIn(secret_, /*with_csrf=*/false);
  ExpectPage(no_csrf, 403);
  EXPECT_THAT(no_csrf.body, HasSubstr("Het formulier was verlopen"));
  auto cross = PostSignIn(secret_, true, {"Sec-Fetch-Site: cross-site"});
  ExpectPage(cross, 403);
  // The sign-in page in French: the sentence too.
  auto fr = PostSignIn("lks_WRONG", true, {"Accept-Language: fr-BE"});
  ExpectPage(fr, 401, "fr");
  EXPECT_THAT(fr.body, HasSubstr("Cette clé est inconnue"));
}

TEST_F(ConsolePagesTest, SessionsExpireSignOutNeedsTheSessionsTokenAndARemovedKeyEndsThem) {
  Start();
  std::string cookie = SignIn();
  auto view = Get("/console/cards", cookie);
  ExpectPage(view, 200);
  std::string csrf = CsrfOf(view.body);
  // Sign out with another token: refused, still signed in.
  ExpectPage(Post("/console/signout", cookie, "csrf=not-it"), 403);
  EXPECT_EQ(Get("/console/cards", cookie).status, 200);
  auto out = Post("/console/signout", cookie, "csrf=" + csrf);
  EXPECT_EQ(out.status, 303);
  EXPECT_THAT(out.header("set-cookie"), HasSubstr("lk_console=; Path=/console; Max-Age=0"));
  auto after = Get("/console/cards", cookie);
  EXPECT_EQ(after.status, 303);
  EXPECT_EQ(after.header("location"), "/console");

  // Eight hours later a session is over.
  cookie = SignIn();
  clock_.Advance(std::chrono::hours(8) - std::chrono::seconds(1));
  EXPECT_EQ(Get("/console/cards", cookie).status, 200);
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(Get("/console/cards", cookie).status, 303);
  auto post = Post("/console/cards/revoke", cookie, "csrf=" + csrf + "&serial=" + serial_ + "&reason=x");
  ExpectPage(post, 401);
  EXPECT_THAT(post.body, HasSubstr("Meld je opnieuw aan"));

  // Removing the credential ends its sessions at once.
  cookie = SignIn();
  ASSERT_TRUE(other_->access().RemoveCredential(ledger::CredentialKind::kStaff, "analist"));
  EXPECT_EQ(Get("/console/cards", cookie).status, 303);
}

TEST_F(ConsolePagesTest, LookUpCreatesNoCardRevokeNeedsTheFormTokenAndShowsInTheAuditTrail) {
  Start();
  std::string cookie = SignIn();
  // T2 is on the roster without a card: looking them up finds nothing and creates nothing.
  auto none = Get("/console/cards?q=T2", cookie);
  ExpectPage(none, 404);
  EXPECT_THAT(none.body, HasSubstr("Geen kaart gevonden"));
  auto t2 = other_->cards().FindCardsOfStaff("T2");
  ASSERT_TRUE(t2);
  EXPECT_TRUE(t2->empty());
  // T1 by staff id, then by serial (any case).
  auto by_staff = Get("/console/cards?q=T1", cookie);
  ExpectPage(by_staff, 200);
  EXPECT_THAT(by_staff.body, HasSubstr(serial_));
  EXPECT_THAT(by_staff.body, HasSubstr("digitale kaart uitgereikt"));
  // The claim-code form is filled in for the person found, the audit details are label: value.
  EXPECT_THAT(by_staff.body,
              HasSubstr("name=\"staff_id\" type=\"text\" maxlength=\"64\" autocomplete=\"off\" "
                        "spellcheck=\"false\" required value=\"T1\""));
  EXPECT_THAT(by_staff.body, HasSubstr("id=\"first_name\" name=\"first_name\" type=\"text\" maxlength=\"60\" "
                                       "autocomplete=\"off\" required value=\"\""));  // issued without a name
  EXPECT_THAT(by_staff.body, HasSubstr("inputmode=\"numeric\" value=\"2026\""));
  EXPECT_THAT(by_staff.body, HasSubstr("<dt>Kaartjaar:</dt> <dd>2026</dd>"));
  EXPECT_THAT(by_staff.body, Not(HasSubstr("{&quot;")));
  std::string lower = serial_;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto by_serial = Get("/console/cards?q=" + lower, cookie);
  ExpectPage(by_serial, 200);
  std::string csrf = CsrfOf(by_serial.body);
  EXPECT_THAT(by_serial.body, HasSubstr("action=\"/console/cards/revoke\""));

  // Another session's token, a cross-site post, no reason: all refused, the card stays active.
  ExpectPage(Post("/console/cards/revoke", cookie, "csrf=forged&serial=" + serial_ + "&reason=lost"), 403);
  ExpectPage(Post("/console/cards/revoke", cookie, "csrf=" + csrf + "&serial=" + serial_ + "&reason=lost",
                  {"Sec-Fetch-Site: cross-site"}),
             403);
  auto no_reason = Post("/console/cards/revoke", cookie, "csrf=" + csrf + "&serial=" + serial_ + "&reason=+");
  ExpectPage(no_reason, 400);
  EXPECT_THAT(no_reason.body, HasSubstr("Vul een reden in"));
  EXPECT_FALSE(other_->cards().FindCard(serial_)->revoked);

  auto done =
      Post("/console/cards/revoke", cookie, "csrf=" + csrf + "&serial=" + serial_ + "&reason=Kaart+verloren");
  ASSERT_EQ(done.status, 303) << done.body;
  EXPECT_EQ(done.header("location"), "/console/cards?q=" + serial_ + "&done=revoked");
  auto card = other_->cards().FindCard(serial_);
  ASSERT_TRUE(card);
  EXPECT_TRUE(card->revoked);
  EXPECT_EQ(card->revoked_reason, "Kaart verloren (analist)");
  auto trail = Get(done.header("location"), cookie);
  ExpectPage(trail, 200);
  EXPECT_THAT(trail.body, HasSubstr("De kaart is ingetrokken"));
  EXPECT_THAT(trail.body, HasSubstr("kaart ingetrokken</td>"));
  EXPECT_THAT(trail.body, HasSubstr("<dt>Reden:</dt> <dd>Kaart verloren (analist)</dd>"));
  EXPECT_THAT(Get(done.header("location") + "&lang=fr", cookie).body,
              HasSubstr("<dt>Motif\u00a0:</dt> <dd>Kaart verloren (analist)</dd>"));
  EXPECT_THAT(trail.body, Not(HasSubstr("action=\"/console/cards/revoke\"")));
  auto again = Post("/console/cards/revoke", cookie, "csrf=" + csrf + "&serial=" + serial_ + "&reason=twice");
  ExpectPage(again, 409);
}

TEST_F(ConsolePagesTest, ANewClaimCodeForOneStaffMemberIsShownOnceAndRedeems) {
  Start();
  std::string cookie = SignIn();
  std::string csrf = CsrfOf(Get("/console/cards", cookie).body);
  auto r = Post("/console/claim-codes", cookie,
                "csrf=" + csrf + "&staff_id=T2&first_name=Bo&last_name=Claes%2C+Jr.&year=2026");
  ExpectPage(r, 200);
  std::string code = Match(r.body, "class=\"code\">([0-9A-Z-]{19})<");
  auto card = other_->access().RedeemClaimCode(code, std::chrono::minutes(10));
  ASSERT_TRUE(card) << card.error().message;
  EXPECT_EQ(other_->cards().FindCard(card->serial)->holder_name, "Bo Claes, Jr.");
  // Looking the person up fills the form in again: the name split at its first space.
  auto found = Get("/console/cards?q=T2", cookie);
  ExpectPage(found, 200);
  EXPECT_THAT(found.body, HasSubstr("required value=\"T2\""));
  EXPECT_THAT(found.body, HasSubstr("required value=\"Bo\""));
  EXPECT_THAT(found.body, HasSubstr("required value=\"Claes, Jr.\""));
  EXPECT_THAT(Get("/console/cards?q=" + card->serial, cookie).body,
              HasSubstr("spellcheck=\"false\" required value=\"\""));  // by serial: no staff id to show
  auto unknown = Post("/console/claim-codes", cookie,
                      "csrf=" + csrf + "&staff_id=NOBODY&first_name=A&last_name=B&year=2026");
  ExpectPage(unknown, 400);
  EXPECT_THAT(unknown.body, HasSubstr("staat niet op de personeelslijst"));
  EXPECT_THAT(unknown.body, HasSubstr("required value=\"NOBODY\""));  // the posted values stay
  auto bad_year = Post("/console/claim-codes", cookie,
                       "csrf=" + csrf + "&staff_id=T2&first_name=A&last_name=B&year=1999");
  ExpectPage(bad_year, 400);
  EXPECT_THAT(bad_year.body, HasSubstr("Vul het kaartjaar in"));
  ExpectPage(Post("/console/claim-codes", cookie, "csrf=x&staff_id=T2&first_name=A&last_name=B&year=2026"),
             403);
}

TEST_F(ConsolePagesTest, TheAdoptionViewTranslatesGroupsAndItsDownloadsMatchTheSelection) {
  Start();
  std::string cookie = SignIn();
  auto level = Get("/console?period=calendar&by=level&channel=digital&from=2026&to=2026", cookie);
  ExpectPage(level, 200);
  EXPECT_THAT(level.body, HasSubstr("<td>basisonderwijs</td>"));
  EXPECT_THAT(level.body, HasSubstr("<td>secundair onderwijs</td>"));
  EXPECT_THAT(level.body, HasSubstr("<svg class=\"chart\" role=\"img\""));
  EXPECT_THAT(level.body, HasSubstr("Digitale kaarten per jaar"));
  EXPECT_THAT(level.body,
              HasSubstr("/console/adoption.csv?period=calendar&amp;by=level&amp;channel=digital"));
  auto fr = Get("/console?by=level&lang=fr", cookie);
  ExpectPage(fr, 200, "fr");
  EXPECT_THAT(fr.body, HasSubstr("<td>enseignement fondamental</td>"));
  auto province = Get("/console?by=province", cookie);
  EXPECT_THAT(province.body, HasSubstr("<td>Antwerpen</td>"));
  EXPECT_THAT(province.body, HasSubstr("<svg class=\"map\" role=\"img\""));  // digital share per province
  EXPECT_THAT(level.body, Not(HasSubstr("<svg class=\"map\"")));
  EXPECT_THAT(province.body, HasSubstr("<td>Limburg</td>"));
  EXPECT_THAT(province.body, Not(HasSubstr("<td>Luik</td>")));  // empty everywhere: hidden

  auto bad = Get("/console?period=weekly", cookie);
  ExpectPage(bad, 400);
  EXPECT_THAT(bad.body, HasSubstr("Kies als periode kalenderjaar of schooljaar"));
  ExpectPage(Get("/console?from=2027&to=2026", cookie), 400);

  auto csv = Get("/console/adoption.csv?period=calendar&by=level&channel=all", cookie);
  EXPECT_EQ(csv.status, 200);
  EXPECT_THAT(csv.header("content-type"), StartsWith("text/csv"));
  EXPECT_THAT(csv.header("content-disposition"), HasSubstr("adoptie.csv"));
  EXPECT_THAT(csv.body, HasSubstr("basic"));
  auto xlsx = Get("/console/adoption.xlsx?by=province", cookie);
  EXPECT_EQ(xlsx.status, 200);
  EXPECT_THAT(xlsx.body, StartsWith("PK"));
  // Not signed in: no data, the sign-in form.
  EXPECT_EQ(Http("GET", Url("/console/adoption.csv")).status, 303);
}

// The notes under the table, in the page's language, with its numbers. Words that only the
// report's English notes use must not appear on a Dutch or French page.
TEST_F(ConsolePagesTest, TheReportsNotesAreWrittenInThePagesLanguage) {
  ASSERT_TRUE(other_->imports().ImportPublished(ledger::CsvSource{
      "published.csv",
      "calendar_year,eligible_staff,sent_to_subscribers,sent_to_starters,picked_up_at_library,"
      "holders_total,published_share\n"
      "2017,204530,15570,14852,102478,138365,67.50%\n2018,208204,18276,16527,103966,139705,67%\n"
      "2019,213132,19931,17583,100102,138516,65%\nTotaal,625866,53777,48962,306546,416585,66.50%\n"}));
  Start();
  std::string cookie = SignIn();
  // The notes list alone: the page's other texts (and its English language switch) stay out.
  auto notes_of = [](const std::string& html) {
    size_t at = html.find("<ol class=\"notes\">");
    EXPECT_NE(at, std::string::npos) << html;
    return at == std::string::npos ? std::string() : html.substr(at, html.find("</ol>", at) - at);
  };
  const std::vector<std::string> kEnglishOnly = {"published", "printed",      "itemised", "per-card",
                                                 "records",   "there are no", "Sum rows", "equals the sum"};
  for (std::string query : {"", "by=province", "period=school", "period=school&by=level"}) {
    for (std::string lang : {"nl", "fr"}) {
      auto page = Get("/console?" + query + "&lang=" + lang, cookie);
      ExpectPage(page, 200, lang);
      std::string notes = notes_of(page.body);
      for (const std::string& word : kEnglishOnly)
        EXPECT_THAT(notes, Not(HasSubstr(word))) << lang << " " << query;
      EXPECT_THAT(notes, Not(HasSubstr("{")))
          << "a placeholder left unfilled (" << lang << " " << query << ")";
    }
  }
  // The 2017-2019 reconciliation, exact and in the page's number style.
  auto nl = notes_of(Get("/console?lang=nl", cookie).body);
  EXPECT_THAT(
      nl,
      HasSubstr("Totaal: rechthebbenden volgens de publicatie 625.866, gelijk aan de som van 2017-2019."));
  EXPECT_THAT(nl,
              HasSubstr("de jaren 2017-2019 tellen op tot 416.586 (het gepubliceerde totaal is 1 minder)"));
  EXPECT_THAT(nl,
              HasSubstr("2017: berekend aandeel 138.365 / 204.530 = 67,65\u00a0%; in de publicatie 67.50%."));
  auto fr = notes_of(Get("/console?lang=fr", cookie).body);
  EXPECT_THAT(
      fr, HasSubstr("Total : ayants droit selon la publication 625\u202f866, égal à la somme de 2017-2019."));
  EXPECT_THAT(fr, HasSubstr("part globale 416\u202f586 / 625\u202f866 = 66,56\u00a0%"));
  auto fr_province = notes_of(Get("/console?by=province&lang=fr", cookie).body);
  EXPECT_THAT(
      fr_province,
      HasSubstr("2017 : connu seulement par des totaux publiés, qui ne sont pas répartis par province"));
  // English pages say what the command line's report says, in the page's number style.
  auto en = notes_of(Get("/console?lang=en", cookie).body);
  EXPECT_THAT(en, HasSubstr("Total: printed eligible 625,866 equals the sum of 2017-2019."));
  EXPECT_THAT(en, HasSubstr("2017: computed share 138,365 / 204,530 = 67.65%; printed 67.50%."));
}

// Every note key and term in all three languages, with the English template's placeholders; the
// English strings are the report's own templates (so the console's English says what the CLI
// says), except where those name a command-line flag.
TEST(ConsoleNoteStrings, EveryNoteIsTranslatedWithTheSamePlaceholders) {
  auto site = web::Site::Load();
  ASSERT_TRUE(site) << site.error().message;
  auto placeholders = [](std::string_view t) {
    std::set<std::string> out;
    for (size_t at = t.find('{'); at != std::string_view::npos; at = t.find('{', at + 1))
      out.insert(std::string(t.substr(at, t.find('}', at) - at + 1)));
    return out;
  };
  std::vector<std::string_view> keys(reports::NoteKeys().begin(), reports::NoteKeys().end());
  for (std::string_view term : reports::NoteTerms())
    if (term != "total") keys.push_back(term);  // "total" is the table's console.total
  for (std::string_view key : keys) {
    std::string english(reports::EnglishNotes().text(key));
    ASSERT_FALSE(english.empty()) << key;
    // The page names its controls where the command line names its flags (--by, --period).
    bool names_a_flag = english.find("--") != std::string::npos;
    std::string_view page_english = (*site)->Text(web::Lang::kEn, "note." + std::string(key));
    if (names_a_flag)
      EXPECT_EQ(page_english.find("--"), std::string_view::npos) << key;
    else
      EXPECT_EQ(page_english, english) << key;
    for (web::Lang lang : web::kLangs) {
      std::string_view t = (*site)->Text(lang, "note." + std::string(key));
      EXPECT_FALSE(t.empty()) << web::LangCode(lang) << " has no note." << key;
      EXPECT_EQ(t.find("--"), std::string_view::npos)
          << web::LangCode(lang) << " note." << key << " names a flag";
      EXPECT_EQ(placeholders(t), placeholders(english)) << web::LangCode(lang) << " note." << key;
    }
  }
  EXPECT_FALSE((*site)->Text(web::Lang::kFr, "console.total").empty());
}

TEST_F(ConsolePagesTest, AnUploadedImportIsAllOrNothingWithItsBadRowsAsATable) {
  Start();
  auto multipart = [](const std::string& csrf, const std::string& kind, const std::string& year,
                      const std::string& file) {
    const std::string b = "----lkboundary7";
    std::string body;
    for (auto [name, value] : {std::pair{"csrf", csrf}, std::pair{"kind", kind}, std::pair{"year", year}})
      body += "--" + b + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n";
    body += "--" + b + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.csv\"\r\n" +
            "Content-Type: text/csv\r\n\r\n" + file + "\r\n--" + b + "--\r\n";
    return std::pair{body, "Content-Type: multipart/form-data; boundary=" + b};
  };
  // Not signed in: refused from the head, a page with a sentence.
  auto [anon_body, anon_type] = multipart("x", "subscriptions", "2026", "staff_id,date\nT2,2026-03-01\n");
  auto anon = Http("POST", Url("/console/imports"), anon_body, {anon_type});
  ExpectPage(anon, 401);
  EXPECT_THAT(anon.body, HasSubstr("Meld je opnieuw aan"));

  std::string cookie = SignIn();
  std::string csrf = CsrfOf(Get("/console/system", cookie).body);
  auto [bad_body, bad_type] = multipart(csrf, "subscriptions", "2026",
                                        "staff_id,date\nT2,2026-03-01\nNOBODY,2026-03-01\nT3,not-a-date\n");
  auto bad = Post("/console/imports", cookie, bad_body, {bad_type});
  ExpectPage(bad, 400);
  EXPECT_THAT(bad.body, HasSubstr("Het bestand werd niet ingelezen"));
  EXPECT_THAT(bad.body, HasSubstr("<tr><th scope=\"row\">3</th>"));
  EXPECT_THAT(bad.body, HasSubstr("<tr><th scope=\"row\">4</th>"));
  EXPECT_TRUE(other_->cards().FindCardsOfStaff("T2")->empty());  // nothing of it was imported

  auto [forged_body, forged_type] =
      multipart("forged", "subscriptions", "2026", "staff_id,date\nT2,2026-03-01\n");
  ExpectPage(Post("/console/imports", cookie, forged_body, {forged_type}), 403);

  auto [ok_body, ok_type] = multipart(csrf, "subscriptions", "2026", "staff_id,date\nT2,2026-03-01\n");
  auto ok = Post("/console/imports", cookie, ok_body, {ok_type});
  ExpectPage(ok, 200);
  EXPECT_THAT(ok.body, HasSubstr("Ingelezen."));
  EXPECT_EQ(other_->cards().FindCardsOfStaff("T2")->size(), 1u);
  auto again = Post("/console/imports", cookie, ok_body, {ok_type});
  EXPECT_THAT(again.body, HasSubstr("al aanwezig: 1"));  // idempotent
  EXPECT_EQ(other_->cards().FindCardsOfStaff("T2")->size(), 1u);
  ExpectPage(Post("/console/imports", cookie, "not multipart", {ok_type}), 400);
}

// A refused upload in the staff member's language: each bad row's sentence from the strings, with
// its line and column; the summary too; a file refused as a whole says why beside the summary.
TEST_F(ConsolePagesTest, RefusedImportsAreExplainedInThePagesLanguage) {
  Start();
  const std::string b = "----lkboundary9";
  auto multipart = [&](const std::string& csrf, const std::string& kind, const std::string& file,
                       const std::string& year = "2026") {
    std::string body;
    for (auto [name, value] : {std::pair{"csrf", csrf}, std::pair{"kind", kind}, std::pair{"year", year}})
      body += "--" + b + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n";
    return body + "--" + b + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.csv\"\r\n" +
           "Content-Type: text/csv\r\n\r\n" + file + "\r\n--" + b + "--\r\n";
  };
  const std::string type = "Content-Type: multipart/form-data; boundary=" + b;
  std::string cookie = SignIn();
  std::string csrf = CsrfOf(Get("/console/system", cookie).body);
  const std::string bad_file = "staff_id,date\nT2,2026-03-01\nNOBODY,2026-03-01\nT3,not-a-date\n";
  auto row = [](const std::string& line, const std::string& column, const std::string& what) {
    return "<tr><th scope=\"row\">" + line + "</th><td>" + column + "</td><td>" + what + "</td></tr>";
  };

  auto nl = Post("/console/imports?lang=nl", cookie, multipart(csrf, "subscriptions", bad_file), {type});
  ExpectPage(nl, 400);
  EXPECT_THAT(nl.body, HasSubstr("subscriptions.csv: 2 foute rijen; er werd niets ingelezen."));
  EXPECT_THAT(nl.body, HasSubstr(row("3", "1 (staff_id)",
                                     "Dit personeelslid staat niet op de personeelslijst van kaartjaar 2026. "
                                     "Controleer het personeelsnummer, of lees eerst een personeelslijst in "
                                     "waarop het staat.")));
  EXPECT_THAT(nl.body, HasSubstr(row("4", "2 (date)",
                                     "&#39;not-a-date&#39; is geen datum. Schrijf de datum als JJJJ-MM-DD, "
                                     "bijvoorbeeld 2026-03-01.")));
  EXPECT_THAT(nl.body, Not(HasSubstr("is not an ISO date")));  // no English left on the page

  auto fr = Post("/console/imports?lang=fr", cookie, multipart(csrf, "subscriptions", bad_file), {type});
  ExpectPage(fr, 400, "fr");
  EXPECT_THAT(fr.body, HasSubstr("subscriptions.csv : 2 lignes erronées ; rien n&#39;a été importé."));
  EXPECT_THAT(fr.body, HasSubstr(row("3", "1 (staff_id)",
                                     "Ce membre du personnel ne figure pas sur la liste du personnel de "
                                     "l&#39;année de carte 2026. Vérifiez l&#39;identifiant, ou importez "
                                     "d&#39;abord une liste qui le contient.")));
  EXPECT_THAT(fr.body, HasSubstr(row("4", "2 (date)",
                                     "« not-a-date » n&#39;est pas une date. Écrivez la date au format "
                                     "AAAA-MM-JJ, par exemple 2026-03-01.")));
  EXPECT_TRUE(other_->cards().FindCardsOfStaff("T2")->empty());
  // The form keeps the kind and card year sent, for the corrected file.
  EXPECT_THAT(fr.body, HasSubstr("<option value=\"subscriptions\" selected>"));
  EXPECT_THAT(fr.body, Not(HasSubstr("<option value=\"roster\" selected>")));

  // A header without the columns: one sentence beside the summary, no table.
  auto header = Post("/console/imports?lang=fr", cookie,
                     multipart(csrf, "starters", "staff,day\nT2,x\n", "2027"), {type});
  ExpectPage(header, 400, "fr");
  EXPECT_THAT(header.body,
              HasSubstr("starters.csv ne peut pas être importé tel quel. Il manque &#39;staff_id&#39;, "
                        "&#39;date&#39; dans la ligne d&#39;en-tête."));
  EXPECT_THAT(header.body, Not(HasSubstr("import-caption")));
  EXPECT_THAT(header.body, HasSubstr("<option value=\"starters\" selected>"));
  EXPECT_THAT(header.body, HasSubstr("inputmode=\"numeric\" value=\"2027\""));
  // A roster row with a bad role and a duplicate, in Dutch.
  auto roster = Post("/console/imports?lang=nl", cookie,
                     multipart(csrf, "roster",
                               "staff_id,first_name,last_name,role,network,level,school_number,"
                               "school_postcode,starter\n"
                               "T7,Ann,Lis,teacher,GO,basic,12345,2000,no\n"
                               "T8,Bo,Lis,teaching,GO,basic,12345,2000,no\n"
                               "T8,Bo,Lis,teaching,GO,basic,12345,2000,no\n"),
                     {type});
  ExpectPage(roster, 400);
  EXPECT_THAT(roster.body, HasSubstr(row("2", "4 (role)",
                                         "&#39;teacher&#39; is geen functie. Schrijf administrative, "
                                         "teaching of support.")));
  EXPECT_THAT(roster.body, HasSubstr(row("4", "1 (staff_id)",
                                         "Dit personeelslid staat al op regel 3. Laat één rij per "
                                         "personeelslid staan.")));
}

// Every import problem key in all three languages, with the English template's placeholders.
TEST(ConsoleImportStrings, EveryImportProblemIsTranslatedWithTheSamePlaceholders) {
  auto site = web::Site::Load();
  ASSERT_TRUE(site) << site.error().message;
  auto placeholders = [](std::string_view t) {  // {name}, not the {|} of a mail address's characters
    std::set<std::string> out;
    for (size_t at = t.find('{'); at != std::string_view::npos; at = t.find('{', at + 1)) {
      std::string name(t.substr(at + 1, t.find('}', at) - at - 1));
      if (!name.empty() && name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string::npos)
        out.insert(name);
    }
    return out;
  };
  for (std::string_view key : ledger::ImportProblemKeys()) {
    std::string_view english = ledger::ImportProblemEnglish(key);
    ASSERT_FALSE(english.empty()) << key;
    for (web::Lang lang : web::kLangs) {
      std::string_view t = (*site)->Text(lang, "import." + std::string(key));
      EXPECT_FALSE(t.empty()) << web::LangCode(lang) << " has no import." << key;
      EXPECT_EQ(placeholders(t), placeholders(english)) << web::LangCode(lang) << " import." << key;
      EXPECT_EQ(t.find("lerarenkaart "), std::string_view::npos) << key << ": a page names no command";
    }
  }
  for (std::string_view key :
       {"console.import.summary.one", "console.import.summary.many", "console.import.summary.file",
        "console.error.import_file", "console.error.import_other"})
    for (web::Lang lang : web::kLangs) EXPECT_FALSE((*site)->Text(lang, key).empty()) << key;
}

}  // namespace
}  // namespace lk::api
