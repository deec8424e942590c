// The partner's desk on the real `lerarenkaart serve` (ServiceFixture), without JavaScript: a
// partner signs in with the partner key (the cookie holds a random id, never the key), scans
// valid, revoked, expired, forged and foreign cards and gets the verdict page; a scanner on the
// wrong keyboard layout is repaired; the verdicts equal POST /v1/verify's; and the service keeps
// only counts per partner, day and outcome: no table holds a card's serial next to the partner.
#include <sqlite3.h>

#include <regex>
#include <thread>

#include "tests/api/service_fixture.h"

namespace lk::api::testing {
namespace {
using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

const std::vector<std::string> kForm = {"Content-Type: application/x-www-form-urlencoded"};

std::string Match(const std::string& text, const std::string& pattern) {
  std::smatch m;
  return std::regex_search(text, m, std::regex(pattern)) ? m[1].str() : "";
}

std::string FormEscape(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s)
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.')
      out += static_cast<char>(c);
    else
      out += {'%', kHex[c >> 4], kHex[c & 15]};
  return out;
}

class DeskServiceTest : public ServiceFixture {
 protected:
  // Signs a desk in with `key`; returns "lk_desk=..." and sets csrf_ (the scan form's token).
  std::string SignIn(const std::string& key) {
    auto form = Http("GET", Server().url("/desk"));
    EXPECT_EQ(form.status, 200);
    EXPECT_THAT(form.body, HasSubstr("name=\"key\""));
    std::string csrf = Match(form.header("set-cookie"), "lk_csrf=([^;]+)");
    EXPECT_FALSE(csrf.empty());
    auto r = Http("POST", Server().url("/desk/signin"), "csrf=" + csrf + "&key=" + FormEscape(key),
                  {"Cookie: lk_csrf=" + csrf, kForm[0]});
    EXPECT_EQ(r.status, 303) << r.body;
    std::string set = r.header("set-cookie");
    EXPECT_THAT(set, HasSubstr("HttpOnly"));
    EXPECT_THAT(set, HasSubstr("SameSite=Strict"));
    EXPECT_THAT(set, Not(HasSubstr(key)));  // never the key itself
    std::string cookie = "lk_desk=" + Match(set, "lk_desk=([^;]+)");
    auto page = Http("GET", Server().url("/desk"), "", {"Cookie: " + cookie});
    EXPECT_EQ(page.status, 200);
    csrf_ = Match(page.body, "name=\"csrf\" value=\"([^\"]+)\"");
    EXPECT_FALSE(csrf_.empty()) << page.body;
    return cookie;
  }
  HttpResponse Scan(const std::string& cookie, const std::string& token, bool json_answer = false) {
    std::vector<std::string> h = {"Cookie: " + cookie, kForm[0]};
    if (json_answer) h.push_back("Accept: application/json");
    return Http("POST", Server().url("/desk/scan"), "csrf=" + csrf_ + "&token=" + FormEscape(token), h);
  }
  std::string Outcome(const HttpResponse& r) { return Match(r.body, "data-outcome=\"([a-z_]*)\""); }
  std::string csrf_;
};

TEST_F(DeskServiceTest, SignInScansEveryKindOfCardAndSignsOut) {
  // A wrong key: the form again, with what to do.
  auto form = Http("GET", Server().url("/desk"));
  std::string csrf = Match(form.header("set-cookie"), "lk_csrf=([^;]+)");
  auto wrong = Http("POST", Server().url("/desk/signin"), "csrf=" + csrf + "&key=lkp_WRONG",
                    {"Cookie: lk_csrf=" + csrf, kForm[0]});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_THAT(wrong.body, HasSubstr("Deze partnersleutel kennen we niet"));
  auto cross = Http("POST", Server().url("/desk/signin"), "csrf=" + csrf + "&key=" + partner_,
                    {"Cookie: lk_csrf=" + csrf, kForm[0], "Sec-Fetch-Site: cross-site"});
  EXPECT_EQ(cross.status, 403);

  std::string desk = SignIn(partner_);
  auto page = Http("GET", Server().url("/desk"), "", {"Cookie: " + desk});
  EXPECT_THAT(page.body, HasSubstr("autofocus"));
  EXPECT_THAT(page.header("content-security-policy"), HasSubstr("script-src 'self'"));
  EXPECT_THAT(page.header("content-security-policy"), Not(HasSubstr("unsafe")));

  json card = Claim("T1");
  auto valid = Scan(desk, card["token"]);
  ASSERT_EQ(valid.status, 200) << valid.body;
  EXPECT_EQ(Outcome(valid), "valid");
  EXPECT_THAT(valid.body, HasSubstr("Geldige Lerarenkaart " + std::to_string(year_)));
  EXPECT_THAT(valid.body, HasSubstr(card["serial"].get<std::string>()));
  EXPECT_THAT(valid.body, HasSubstr("identiteitsbewijs"));
  EXPECT_THAT(valid.body, HasSubstr("id=\"token\" name=\"token\" type=\"text\" autofocus"));  // ready again

  json other = Claim("T2");
  auto rv = Http("POST", Server().url("/v1/cards/" + other["serial"].get<std::string>() + "/revoke"),
                 "{\"reason\":\"lost\"}", StaffAuth());
  ASSERT_EQ(rv.status, 200) << rv.body;
  auto revoked = Scan(desk, other["token"]);
  EXPECT_EQ(Outcome(revoked), "revoked");
  EXPECT_THAT(revoked.body, HasSubstr("ingetrokken"));

  int old = year_ - 2;
  auto t = Cli({"token", "issue", "--serial", card["serial"], "--year", std::to_string(old), "--at",
                std::to_string(old) + "-03-01T12:00:00Z"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_EQ(Outcome(Scan(desk, Trim(t.out))), "expired");

  std::string forged = card["token"];
  forged[forged.size() - 3] = forged[forged.size() - 3] == 'A' ? 'B' : 'A';
  auto damaged = Scan(desk, forged);
  EXPECT_EQ(Outcome(damaged), "damaged");
  EXPECT_THAT(damaged.body, Not(HasSubstr(card["serial"].get<std::string>())));

  // Signed by another issuer's key: unknown to this service.
  auto foreign =
      lk::testing::RunProgram({lk::testing::Binary(), "--data-dir", (dir_ / "other").string(), "demo"});
  ASSERT_EQ(foreign.exit_code, 0) << foreign.err;
  auto ft = lk::testing::RunProgram({lk::testing::Binary(), "--data-dir", (dir_ / "other").string(), "token",
                                     "issue", "--serial", "AAAABBBBCCCC", "--year", std::to_string(year_)});
  ASSERT_EQ(ft.exit_code, 0) << ft.err;
  EXPECT_EQ(Outcome(Scan(desk, Trim(ft.out))), "unknown_key");
  EXPECT_EQ(Outcome(Scan(desk, "https://example.org/not-a-card")), "not_lerarenkaart");

  // The same verdicts as POST /v1/verify, as JSON for the page's script.
  auto j = Json(Scan(desk, card["token"], true));
  EXPECT_EQ(j["outcome"], "valid");
  EXPECT_EQ(j["serial"], card["serial"]);
  EXPECT_EQ(Verify(card["token"])["status"], "active");
  EXPECT_EQ(Json(Scan(desk, other["token"], true))["outcome"], "revoked");
  EXPECT_EQ(Verify(other["token"])["status"], "revoked");

  // Empty input, another desk's form, and no session.
  EXPECT_EQ(Scan(desk, "").status, 400);
  auto stolen = Http("POST", Server().url("/desk/scan"), "csrf=nope&token=x", {"Cookie: " + desk, kForm[0]});
  EXPECT_EQ(stolen.status, 403);
  auto anonymous = Http("POST", Server().url("/desk/scan"), "csrf=x&token=x", kForm);
  EXPECT_EQ(anonymous.status, 303);

  // Sign out: the cookie no longer opens the scan page.
  auto out = Http("POST", Server().url("/desk/signout"), "csrf=" + csrf_, {"Cookie: " + desk, kForm[0]});
  EXPECT_EQ(out.status, 303);
  EXPECT_THAT(Http("GET", Server().url("/desk"), "", {"Cookie: " + desk}).body, HasSubstr("name=\"key\""));
}

// A partner key removed by staff signs its desks out within the documented 10 s.
TEST_F(DeskServiceTest, RemovedPartnerKeySignsTheDeskOut) {
  std::string desk = SignIn(partner_);
  json card = Claim("T6");
  EXPECT_EQ(Outcome(Scan(desk, card["token"])), "valid");
  auto rm = Cli({"partners", "remove", "Museum M"});
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  auto start = std::chrono::steady_clock::now();
  bool signed_out = false;
  while (!signed_out && std::chrono::steady_clock::now() - start < std::chrono::seconds(15)) {
    signed_out = Http("GET", Server().url("/desk"), "", {"Cookie: " + desk}).body.find("name=\"key\"") !=
                 std::string::npos;
    if (!signed_out) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_TRUE(signed_out);
  EXPECT_LE(std::chrono::steady_clock::now() - start, std::chrono::seconds(13));  // 10 s and a margin
  EXPECT_EQ(Scan(desk, card["token"]).status, 303);  // a scan is sent to the sign-in form
}

// A scanner left on US QWERTY, typing into a Belgian AZERTY PC, and the reverse.
TEST_F(DeskServiceTest, ScannerOnTheWrongKeyboardLayoutIsRepaired) {
  std::string desk = SignIn(partner_);
  json card = Claim("T3");
  std::string token = card["token"], us_on_be, be_on_us;
  for (char c : token) {
    switch (c) {
      case '1':
        us_on_be += "&";
        be_on_us += "!";
        break;
      case '2':
        us_on_be += "\xC3\xA9";
        be_on_us += "@";
        break;  // é
      case '3':
        us_on_be += "\"";
        be_on_us += "#";
        break;
      case '4':
        us_on_be += "'";
        be_on_us += "$";
        break;
      case '5':
        us_on_be += "(";
        be_on_us += "%";
        break;
      case '6':
        us_on_be += "\xC2\xA7";
        be_on_us += "^";
        break;  // §
      case '7':
        us_on_be += "\xC3\xA8";
        be_on_us += "&";
        break;  // è
      case '8':
        us_on_be += "!";
        be_on_us += "*";
        break;
      case '9':
        us_on_be += "\xC3\xA7";
        be_on_us += "(";
        break;  // ç
      case '0':
        us_on_be += "\xC3\xA0";
        be_on_us += ")";
        break;  // à
      case '-':
        us_on_be += ")";
        be_on_us += "=";
        break;
      case '_':
        us_on_be += "\xC2\xB0";
        be_on_us += "+";
        break;  // °
      case '.':
        us_on_be += ":";
        be_on_us += "<";
        break;
      case 'm':
        us_on_be += ",";
        be_on_us += ";";
        break;
      case 'M':
        us_on_be += "?";
        be_on_us += ":";
        break;
      case 'a':
        us_on_be += "q";
        be_on_us += "q";
        break;
      case 'q':
        us_on_be += "a";
        be_on_us += "a";
        break;
      case 'A':
        us_on_be += "Q";
        be_on_us += "Q";
        break;
      case 'Q':
        us_on_be += "A";
        be_on_us += "A";
        break;
      case 'z':
        us_on_be += "w";
        be_on_us += "w";
        break;
      case 'w':
        us_on_be += "z";
        be_on_us += "z";
        break;
      case 'Z':
        us_on_be += "W";
        be_on_us += "W";
        break;
      case 'W':
        us_on_be += "Z";
        be_on_us += "Z";
        break;
      default:
        us_on_be += c;
        be_on_us += c;
    }
  }
  for (const std::string& typed : {us_on_be, be_on_us}) {
    auto r = Scan(desk, typed);
    EXPECT_EQ(Outcome(r), "valid") << typed;
    EXPECT_THAT(r.body, HasSubstr("class=\"verdict-note\">De scanner typt met een verkeerd toetsenbord"));
  }
  auto plain = Scan(desk, token);
  EXPECT_EQ(Outcome(plain), "valid");
  EXPECT_THAT(plain.body, HasSubstr("class=\"verdict-note\" hidden>"));
}

// Privacy: after scans through the desk and POST /v1/verify, the ledger holds counts per
// partner, day and outcome, and no row anywhere holds a scanned card's serial together with the
// partner (its id or name).
TEST_F(DeskServiceTest, OnlyCountsPerPartnerDayAndOutcomeAreKept) {
  std::string desk = SignIn(partner_);
  json a = Claim("T4"), b = Claim("T5");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Outcome(Scan(desk, a["token"])), "valid");
  EXPECT_EQ(Verify(b["token"])["status"], "active");
  std::string forged = b["token"];
  forged[forged.size() - 2] = forged[forged.size() - 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(Outcome(Scan(desk, forged)), "damaged");
  ASSERT_EQ(Server().Terminate(), 0);  // stopping writes the last batch

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2((data_ / "ledger.sqlite").c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  auto rows = [&](const std::string& sql) {
    std::vector<std::vector<std::string>> out;
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        auto* t = sqlite3_column_text(st, i);
        row.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
      }
      out.push_back(std::move(row));
    }
    sqlite3_finalize(st);
    return out;
  };
  auto partner = rows("SELECT id FROM credentials WHERE kind = 'partner' AND name = 'Museum M'");
  ASSERT_EQ(partner.size(), 1u);
  std::string partner_id = partner[0][0];
  auto counts = rows("SELECT day, partner_id, outcome, count FROM verification_counts ORDER BY outcome");
  std::string today = FormatIsoDate(BrusselsDate(SystemClock().Now()));
  EXPECT_EQ(rows("SELECT group_concat(name) FROM pragma_table_info('verification_counts')")[0][0],
            "day,partner_id,outcome,count");
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts[0], (std::vector<std::string>{today, partner_id, "damaged", "1"}));
  EXPECT_EQ(counts[1], (std::vector<std::string>{today, partner_id, "valid", "4"}));
  // Every row of every table: never a scanned serial next to the partner's id or name.
  for (const auto& t : rows("SELECT name FROM sqlite_master WHERE type = 'table'")) {
    for (const auto& row : rows("SELECT * FROM \"" + t[0] + "\"")) {
      std::string all;
      for (const auto& cell : row) all += cell + "\x1f";
      for (const std::string& serial : {a["serial"].get<std::string>(), b["serial"].get<std::string>()})
        if (all.find(serial) != std::string::npos) {
          EXPECT_EQ(all.find("Museum M"), std::string::npos) << t[0] << ": " << all;
          EXPECT_NE(t[0], "verification_counts");
        }
    }
  }
  sqlite3_close(db);

  // Staff read the counts, by partner name.
  auto report = Cli({"report", "partners", "--format", "csv"});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  EXPECT_EQ(report.out, "day;partner;outcome;count\n" + today + ";\"Museum M\";damaged;1\n" + today +
                            ";\"Museum M\";valid;4\n");
  EXPECT_EQ(Cli({"report", "partners", "--from", "yesterday"}).exit_code, 2);
}

}  // namespace
}  // namespace lk::api::testing
