// Save links and the pass JSON: verified by PyJWT (an independent library) with the service
// account's public key; the barcode's token verifies as a card token; the 1,800-character budget.
#include <nlohmann/json.hpp>

#include "tests/passgen/google_fixture.h"

namespace lk::passgen {
namespace {
using json = nlohmann::json;

// Verifies `jwt` with PyJWT (RS256 only, audience "google") and returns its claims, or fails.
json PyJwtDecode(const testing::TempDir& dir, const std::string& public_pem, const std::string& jwt) {
  testing::WriteText(dir / "sa.pub.pem", public_pem);
  const char* script =
      "import json, sys, jwt\n"
      "pem = open(sys.argv[1]).read()\n"
      "claims = jwt.decode(sys.argv[2], pem, algorithms=['RS256'], audience='google',\n"
      "                    options={'require': ['iss', 'aud', 'iat']})\n"
      "header = jwt.get_unverified_header(sys.argv[2])\n"
      "print(json.dumps({'claims': claims, 'header': header}))\n";
  auto r = testing::RunProgram({"/usr/bin/python3", "-c", script, (dir / "sa.pub.pem").string(), jwt});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (r.exit_code != 0) return json();
  return json::parse(r.out);
}

std::string JwtOf(const std::string& link) {
  constexpr std::string_view kPrefix = "https://pay.google.com/gp/v/save/";
  EXPECT_TRUE(link.starts_with(kPrefix)) << link;
  return link.substr(kPrefix.size());
}

// `n` characters of a name with accents and non-Latin script (2- and 3-byte UTF-8).
std::string LongName(size_t n) {
  const char* parts[] = {"é", "Ö", "ł", "ß", "ş", "漢", "Я", "a"};
  std::string s;
  for (size_t i = 0; i < n; ++i) s += parts[i % 8];
  return s;
}

TEST_F(GoogleTest, SkinnyLinkVerifiesWithPyJwtAndCarriesEveryRequiredClaim) {
  config_.origins = {"https://lerarenkaart.be", "https://www.lerarenkaart.be"};
  auto link = SkinnySaveLink(*account_, config_, "LK-2026-000123", clock_.Now());
  ASSERT_TRUE(link) << link.error().message;
  json d = PyJwtDecode(dir_, account_->PublicKeyPem(), JwtOf(*link));
  ASSERT_TRUE(d.is_object());
  const json& c = d["claims"];
  EXPECT_EQ(c["iss"], account_->client_email());
  EXPECT_EQ(c["aud"], "google");
  EXPECT_EQ(c["typ"], "savetowallet");
  EXPECT_EQ(c["iat"], clock_.Now().time_since_epoch().count());
  EXPECT_EQ(c["origins"], json({"https://lerarenkaart.be", "https://www.lerarenkaart.be"}));
  EXPECT_EQ(c["payload"], json::parse(R"({"genericObjects":[{"id":"3388000000012345678.LK-2026-000123"}]})"));
  EXPECT_EQ(d["header"]["alg"], "RS256");
  EXPECT_EQ(d["header"]["kid"], account_->private_key_id());
}

TEST_F(GoogleTest, PyJwtRejectsTheLinkUnderAnotherKey) {
  auto link = SkinnySaveLink(*account_, config_, "LK1", clock_.Now());
  ASSERT_TRUE(link);
  signing::KeyConfig other{dir_ / "other"};
  ASSERT_TRUE(signing::InitDevelopmentKeys(other, clock_));
  testing::WriteText(dir_ / "other.pem", (*signing::ServiceAccount::Load(other))->PublicKeyPem());
  auto r = testing::RunProgram({"/usr/bin/python3", "-c",
                                "import sys, jwt; jwt.decode(sys.argv[2], open(sys.argv[1]).read(), "
                                "algorithms=['RS256'], audience='google')",
                                (dir_ / "other.pem").string(), JwtOf(*link)});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("InvalidSignatureError"), std::string::npos) << r.err;
}

TEST_F(GoogleTest, SkinnyLinkLengthDoesNotDependOnNamesAndStaysUnderTheLimit) {
  // The skinny JWT names only the object; the longest serial (40) and default origin give the
  // longest link. Names of 200 characters live in the object, created through the API.
  auto link = SkinnySaveLink(*account_, config_, std::string(40, 'Z'), clock_.Now());
  ASSERT_TRUE(link);
  EXPECT_LT(link->size(), kMaxSaveLinkChars);
  EXPECT_LT(link->size(), 1000u) << "skinny links should have ample headroom";
}

TEST_F(GoogleTest, TooManyOriginsAreRefusedBeforeTheLinkBreaks) {
  config_.origins.clear();
  for (int i = 0; i < 30; ++i)
    config_.origins.push_back("https://school-" + std::to_string(i) + ".lerarenkaart.be");
  auto link = SkinnySaveLink(*account_, config_, "LK1", clock_.Now());
  ASSERT_FALSE(link);
  EXPECT_EQ(link.error().code, Code::kInvalidArgument);
  EXPECT_NE(link.error().message.find("over Google's limit of 1800"), std::string::npos)
      << link.error().message;
}

TEST_F(GoogleTest, FullObjectLinkWithARealTokenIsOverTheLimitEvenForShortNames) {
  // Why links are skinny: the card's signed token alone fills most of the budget.
  ::lk::Card card = Card("LK1", "Jo Ma", "GO");
  auto token = issuer_->Issue(card.serial, card.year, clock_.Now());
  ASSERT_TRUE(token);
  auto link =
      FullSaveLink(*account_, config_, GenericClassJson(config_, design_, 2026),
                   GenericObjectJson(config_, design_, policy_, card, *token, "ACTIVE"), clock_.Now());
  ASSERT_FALSE(link);
  EXPECT_EQ(link.error().code, Code::kFailedPrecondition);
  EXPECT_NE(link.error().message.find("skinny"), std::string::npos) << link.error().message;
}

TEST_F(GoogleTest, FullObjectLinkIsOverTheLimitEvenWithoutAToken) {
  // The localized texts and validity of a real object alone take more than the budget.
  ::lk::Card card = Card("LK1", "Jo", "GO");
  auto link = FullSaveLink(*account_, config_, GenericClassJson(config_, design_, 2026),
                           GenericObjectJson(config_, design_, policy_, card, "T", "ACTIVE"), clock_.Now());
  ASSERT_FALSE(link);
  EXPECT_EQ(link.error().code, Code::kFailedPrecondition);
}

TEST_F(GoogleTest, FullObjectLinkCarriesClassAndObjectWhenItFits) {
  auto link = FullSaveLink(
      *account_, config_, R"({"id":"3388000000012345678.lerarenkaart-2026"})",
      R"({"id":"3388000000012345678.LK1","header":{"defaultValue":{"language":"nl","value":"Jo"}}})",
      clock_.Now());
  ASSERT_TRUE(link) << link.error().message;
  json c = PyJwtDecode(dir_, account_->PublicKeyPem(), JwtOf(*link))["claims"];
  EXPECT_EQ(c["payload"]["genericClasses"][0]["id"], "3388000000012345678.lerarenkaart-2026");
  EXPECT_EQ(c["payload"]["genericObjects"][0]["header"]["defaultValue"]["value"], "Jo");
  auto bad = FullSaveLink(*account_, config_, "{", "{}", clock_.Now());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "class: malformed JSON (1 bytes)");
}

TEST_F(GoogleTest, ObjectHasEveryFieldAndItsBarcodeVerifiesAsACardToken) {
  design_.logo_url = "https://lerarenkaart.be/logo.png";
  ::lk::Card card = Card("LK-7", LongName(200), LongName(200));
  ASSERT_TRUE(ValidateCard(card));
  auto token = issuer_->Issue(card.serial, card.year, clock_.Now());
  ASSERT_TRUE(token);
  json o = json::parse(GenericObjectJson(config_, design_, policy_, card, *token, "ACTIVE"));
  EXPECT_EQ(o["id"], "3388000000012345678.LK-7");
  EXPECT_EQ(o["classId"], "3388000000012345678.lerarenkaart-2026");
  EXPECT_EQ(o["state"], "ACTIVE");
  EXPECT_EQ(o["cardTitle"]["defaultValue"], json({{"language", "nl"}, {"value", "Lerarenkaart"}}));
  EXPECT_EQ(o["cardTitle"]["translatedValues"][0]["language"], "fr");
  EXPECT_EQ(o["header"]["defaultValue"]["value"], card.holder_name);
  EXPECT_EQ(o["textModulesData"][0]["id"], "school");
  EXPECT_EQ(o["textModulesData"][0]["body"], card.school);
  EXPECT_EQ(o["textModulesData"][1]["id"], "year");
  EXPECT_EQ(o["textModulesData"][1]["body"], "2026");
  EXPECT_EQ(o["hexBackgroundColor"], "#1d3557");
  EXPECT_EQ(o["logo"]["sourceUri"]["uri"], "https://lerarenkaart.be/logo.png");
  EXPECT_EQ(o["barcode"]["type"], "QR_CODE");
  EXPECT_EQ(o["barcode"]["alternateText"], "LK-7");
  auto v = signing::CardYearValidity(2026, policy_);
  EXPECT_EQ(o["validTimeInterval"]["start"]["date"], FormatRfc3339(v.not_before));
  EXPECT_EQ(o["validTimeInterval"]["end"]["date"], FormatRfc3339(v.expires));
  EXPECT_EQ(o["validTimeInterval"]["start"]["date"], "2025-12-31T23:00:00Z");

  auto verdict = verifier_->Verify(o["barcode"]["value"].get<std::string>(), clock_.Now());
  EXPECT_TRUE(verdict.valid) << verdict.reason;
  EXPECT_EQ(verdict.serial, "LK-7");
  EXPECT_EQ(verdict.year, 2026);
}

TEST_F(GoogleTest, ClassTemplateShowsSchoolAndYear) {
  json c = json::parse(GenericClassJson(config_, design_, 2027));
  EXPECT_EQ(c["id"], "3388000000012345678.lerarenkaart-2027");
  auto row = c["classTemplateInfo"]["cardTemplateOverride"]["cardRowTemplateInfos"][0]["twoItems"];
  EXPECT_EQ(row["startItem"]["firstValue"]["fields"][0]["fieldPath"], "object.textModulesData['school']");
  EXPECT_EQ(row["endItem"]["firstValue"]["fields"][0]["fieldPath"], "object.textModulesData['year']");
}

TEST_F(GoogleTest, CardFieldsAreValidatedWithTheFieldNamed) {
  auto err = [](::lk::Card c) { return ValidateCard(c).error().message; };
  EXPECT_TRUE(ValidateCard(Card("LK1", LongName(200), LongName(200))));
  EXPECT_EQ(err(Card("LK1", LongName(201))), "name: 201 characters, at most 200 allowed");
  EXPECT_EQ(err(Card("LK1", "An", "\xC3\x28")),
            "school: not valid UTF-8 text (or holds a control character)");
  EXPECT_EQ(err(Card("LK1", "An\nPeeters")), "name: not valid UTF-8 text (or holds a control character)");
  EXPECT_EQ(err(Card("LK1", "An", "  ")), "school: must not be empty");
  EXPECT_EQ(err(Card("LK 1")), "serial 'LK 1' must be 1-40 letters, digits, '-' or '_'");
  EXPECT_EQ(err(Card("LK.1")), "serial 'LK.1' must be 1-40 letters, digits, '-' or '_'");
  EXPECT_EQ(err(Card("\xC0\xAF")), "serial '\xC0\xAF' must be 1-40 letters, digits, '-' or '_'");
  EXPECT_EQ(err(Card("LK1", "\xE0\x80\xAF")), "name: not valid UTF-8 text (or holds a control character)");
}

TEST_F(GoogleTest, ConfigIsValidated) {
  config_.issuer_id = "33880x";
  EXPECT_NE(ValidateConfig(config_).error().message.find("issuer id '33880x'"), std::string::npos);
  config_.issuer_id = "3388";
  config_.origins = {"lerarenkaart.be"};
  EXPECT_NE(ValidateConfig(config_).error().message.find("origin 'lerarenkaart.be'"), std::string::npos);
  config_.origins = {};
  EXPECT_EQ(ValidateConfig(config_).error().code, Code::kInvalidArgument);
}

}  // namespace
}  // namespace lk::passgen
