// Passes built by PassBuilder, checked the way a device would with unzip, sha1sum, openssl and
// PyJWT; the rendered pass.json of a fixed card is guarded by a golden file.
#include "passgen/passgen.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/passgen/pkpass_check.h"
#include "tests/testing/testing.h"

namespace lk::passgen {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using json = nlohmann::json;

const Time kNow = *ParseRfc3339("2026-03-15T12:00:00Z");
const std::string kSecret = "0123456789abcdef0123456789abcdef";

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

class PassgenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keys_.dir = tmp_ / "data" / "keys";
    FakeClock clock(kNow);
    ASSERT_TRUE(signing::InitDevelopmentKeys(keys_, clock));
    auto signer = signing::PassSigner::Load(keys_);
    ASSERT_TRUE(signer) << signer.error().message;
    signer_ = std::move(*signer);
    auto t = templates::Template::Load(testing::SourceDir() / "templates" / "2026");
    ASSERT_TRUE(t) << t.error().message;
    template_ = std::move(*t);
    auto ring = signing::Keyring::Open(keys_);
    ASSERT_TRUE(ring) << ring.error().message;
    auto issuer = signing::TokenIssuer::Create(**ring, signing::TokenPolicy{});
    ASSERT_TRUE(issuer);
    card_ = {.serial = "LK26-000042",
             .year = 2026,
             .holder_name = "Ine Vermeulen",
             .school = "Sint-Lodewijkscollege, Brugge"};
    card_.token = *(*issuer)->Issue(card_.serial, 2026, kNow);
    card_.auth_token = AuthenticationToken(kSecret, "pass.be.lerarenkaart.dev", card_.serial);
    auto b =
        PassBuilder::Create(*template_, *signer_, {.web_service_url = "https://lerarenkaart.be/wallet/"});
    ASSERT_TRUE(b) << b.error().message;
    builder_ = std::move(*b);
  }

  fs::path WritePass(const Card& card, const std::string& name) {
    auto bytes = builder_->Build(card, kNow);
    EXPECT_TRUE(bytes) << bytes.error().message;
    fs::path path = tmp_ / name;
    testing::WriteText(path, bytes ? *bytes : "");
    return path;
  }
  fs::path RootCa() const { return keys_.dir / "dev-root-ca.pem"; }

  testing::TempDir tmp_;
  signing::KeyConfig keys_;
  std::unique_ptr<signing::PassSigner> signer_;
  std::unique_ptr<templates::Template> template_;
  std::unique_ptr<PassBuilder> builder_;
  Card card_;
};

TEST_F(PassgenTest, ArchiveUnzipsAtTheRootAndVerifiesWithSha1sumAndOpenssl) {
  fs::path pass = WritePass(card_, "card.pkpass");
  EXPECT_THAT(check::Entries(pass),
              ::testing::UnorderedElementsAre(
                  "pass.json", "manifest.json", "signature", "nl.lproj/pass.strings", "fr.lproj/pass.strings",
                  "en.lproj/pass.strings", "icon.png", "icon@2x.png", "icon@3x.png", "logo.png",
                  "logo@2x.png", "logo@3x.png", "strip.png", "strip@2x.png", "strip@3x.png"));
  EXPECT_EQ(check::VerifyPkpass(pass, tmp_.path(), RootCa()), "");
  // A root the pass was not signed under is refused, so the check above can fail.
  signing::KeyConfig other{.dir = tmp_ / "other"};
  FakeClock clock(kNow);
  ASSERT_TRUE(signing::InitDevelopmentKeys(other, clock));
  EXPECT_THAT(check::VerifyPkpass(pass, tmp_.path(), other.dir / "dev-root-ca.pem"),
              HasSubstr("openssl cms -verify failed"));
}

TEST_F(PassgenTest, SignatureHoldsTheIntermediateAndTheSigningTime) {
  fs::path pass = WritePass(card_, "card.pkpass");
  ASSERT_EQ(check::Unzip(pass, tmp_ / "u"), "");
  auto r = testing::RunProgram(
      {"openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", (tmp_ / "u" / "signature").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("CN=Development stand-in for Apple WWDR G4"));
  EXPECT_THAT(r.out, HasSubstr("CN=Pass Type ID: pass.be.lerarenkaart.dev"));
  EXPECT_THAT(r.out, HasSubstr("object: signingTime (1.2.840.113549.1.9.5)"));
  EXPECT_THAT(r.out, HasSubstr("UTCTIME:Mar 15 12:00:00 2026 GMT"));
  EXPECT_THAT(r.out, HasSubstr("sha256"));
}

TEST_F(PassgenTest, OneByteChangeAnywhereBreaksVerification) {
  fs::path pass = WritePass(card_, "card.pkpass");
  fs::path clean = tmp_ / "clean";
  ASSERT_EQ(check::Unzip(pass, clean), "");
  ASSERT_EQ(check::VerifyUnpacked(clean, RootCa()), "");
  int n = 0;
  for (auto& e : fs::recursive_directory_iterator(clean)) {
    if (!e.is_regular_file()) continue;
    std::string rel = fs::relative(e.path(), clean).generic_string();
    std::string bytes = Slurp(e.path());
    for (size_t at : {size_t{0}, bytes.size() / 2, bytes.size() - 1}) {
      fs::path dir = tmp_ / ("flip-" + std::to_string(++n));
      fs::copy(clean, dir, fs::copy_options::recursive);
      std::string changed = bytes;
      changed[at] = static_cast<char>(changed[at] ^ 0x01);
      testing::WriteText(dir / rel, changed);
      EXPECT_NE(check::VerifyUnpacked(dir, RootCa()), "")
          << "flipping byte " << at << " of " << rel << " went unnoticed";
    }
  }
  EXPECT_EQ(n, 15 * 3);
  // And in the archive itself: a flipped byte inside a stored file is caught by unzip's CRC.
  std::string zip = Slurp(pass);
  size_t at = zip.find("KAARTJAAR");
  ASSERT_NE(at, std::string::npos);
  zip[at] = 'X';
  testing::WriteText(tmp_ / "bad.pkpass", zip);
  EXPECT_NE(check::VerifyPkpass(tmp_ / "bad.pkpass", tmp_.path(), RootCa()), "");
}

// Signing times whose signingTime is a GeneralizedTime (2050 on) take the slow CMS_sign path;
// both kinds, and one made on another thread, verify with openssl.
TEST_F(PassgenTest, PassesSignedAtAnyTimeAndOnAnyThreadVerify) {
  int n = 0;
  for (const char* at : {"2026-01-01T00:00:00Z", "2049-12-31T23:59:59Z", "2050-01-01T00:00:00Z"}) {
    auto bytes = builder_->Build(card_, *ParseRfc3339(at));
    ASSERT_TRUE(bytes) << bytes.error().message;
    fs::path path = tmp_ / ("at-" + std::to_string(++n) + ".pkpass");
    testing::WriteText(path, *bytes);
    EXPECT_EQ(check::VerifyPkpass(path, tmp_.path(), RootCa()), "") << at;
  }
  std::string from_thread;
  std::thread([&] { from_thread = *builder_->Build(card_, kNow); }).join();
  EXPECT_EQ(from_thread, *builder_->Build(card_, kNow));
}

TEST_F(PassgenTest, PassJsonHasEveryRequiredKeyWithTheRightType) {
  auto text = builder_->PassJson(card_);
  ASSERT_TRUE(text) << text.error().message;
  json p = json::parse(*text);
  EXPECT_TRUE(p["formatVersion"].is_number_integer());
  EXPECT_EQ(p["formatVersion"], 1);
  EXPECT_EQ(p["passTypeIdentifier"], signer_->pass_type_identifier());
  EXPECT_EQ(p["teamIdentifier"], signer_->team_identifier());
  EXPECT_EQ(p["serialNumber"], "LK26-000042");
  EXPECT_TRUE(p["organizationName"].is_string() && !p["organizationName"].get<std::string>().empty());
  EXPECT_TRUE(p["description"].is_string() && !p["description"].get<std::string>().empty());
  EXPECT_TRUE(p["storeCard"].is_object());
  ASSERT_TRUE(p["barcodes"].is_array());
  ASSERT_EQ(p["barcodes"].size(), 1u);
  EXPECT_EQ(p["barcodes"][0]["format"], "PKBarcodeFormatQR");
  EXPECT_EQ(p["barcodes"][0]["message"], card_.token);
  EXPECT_EQ(p["barcodes"][0]["messageEncoding"], "iso-8859-1");
  EXPECT_EQ(p["expirationDate"], "2027-01-01T00:00:00+01:00");
  EXPECT_TRUE(p["voided"].is_boolean());
  EXPECT_EQ(p["voided"], false);
  EXPECT_EQ(p["webServiceURL"], "https://lerarenkaart.be/wallet/");
  ASSERT_TRUE(p["authenticationToken"].is_string());
  EXPECT_GE(p["authenticationToken"].get<std::string>().size(), 16u);
  EXPECT_EQ(p["authenticationToken"],
            AuthenticationToken(kSecret, "pass.be.lerarenkaart.dev", "LK26-000042"));

  card_.revoked = true;
  json v = json::parse(*builder_->PassJson(card_));
  EXPECT_EQ(v["voided"], true);
  EXPECT_EQ(v["expirationDate"], "2027-01-01T00:00:00+01:00") << "no revocation time: the card year's end";
  // Revoked on 3 August 2026 at 14:05:09 UTC: the pass also expires then (Brussels summer time),
  // for readers that ignore voided.
  card_.revoked_at = Time(std::chrono::sys_days(std::chrono::year(2026) / 8 / 3)) + std::chrono::hours(14) +
                     std::chrono::minutes(5) + std::chrono::seconds(9);
  v = json::parse(*builder_->PassJson(card_));
  EXPECT_EQ(v["voided"], true);
  EXPECT_EQ(v["expirationDate"], "2026-08-03T16:05:09+02:00");
  // Never later than the card year's end (a card revoked after its year).
  card_.revoked_at = Time(std::chrono::sys_days(std::chrono::year(2027) / 2 / 1));
  EXPECT_EQ(json::parse(*builder_->PassJson(card_))["expirationDate"], "2027-01-01T00:00:00+01:00");
  // Only a revoked card's pass: a revocation time on an active card changes nothing.
  card_.revoked = false;
  card_.revoked_at = Time(std::chrono::sys_days(std::chrono::year(2026) / 8 / 3));
  EXPECT_EQ(json::parse(*builder_->PassJson(card_))["expirationDate"], "2027-01-01T00:00:00+01:00");
  card_.revoked = true;
  auto plain = PassBuilder::Create(*template_, *signer_, {.web_service_url = ""});
  ASSERT_TRUE(plain);
  json q = json::parse(*(*plain)->PassJson(card_));
  EXPECT_FALSE(q.contains("webServiceURL"));
  EXPECT_FALSE(q.contains("authenticationToken"));
}

TEST_F(PassgenTest, BarcodeVerifiesAsATokenWithPyJwt) {
  auto jwks =
      testing::RunProgram({testing::Binary(), "--data-dir", (tmp_ / "data").string(), "keys", "jwks"});
  ASSERT_EQ(jwks.exit_code, 0) << jwks.err;
  testing::WriteText(tmp_ / "jwks.json", jwks.out);
  fs::path pass = WritePass(card_, "card.pkpass");
  ASSERT_EQ(check::Unzip(pass, tmp_ / "u"), "");
  std::string token = json::parse(Slurp(tmp_ / "u" / "pass.json"))["barcodes"][0]["message"];
  const std::string script = R"(
import json, sys, jwt
jwks = json.load(open(sys.argv[1]))
token = sys.argv[2]
kid = jwt.get_unverified_header(token)["kid"]
key = next(k for k in jwks["keys"] if k["kid"] == kid)
public = jwt.algorithms.ECAlgorithm.from_jwk(json.dumps(key))
claims = jwt.decode(token, public, algorithms=["ES256"], issuer="https://lerarenkaart.be",
                    options={"verify_exp": False, "verify_nbf": False, "require": ["iss", "sub", "nbf", "exp"]})
now = int(sys.argv[3])
assert claims["nbf"] <= now < claims["exp"], "not valid at the test clock"
print(json.dumps(claims))
)";
  std::string now = std::to_string(kNow.time_since_epoch().count());
  auto r = testing::RunProgram({"/usr/bin/python3", "-c", script, (tmp_ / "jwks.json").string(), token, now});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json claims = json::parse(r.out);
  EXPECT_EQ(claims["sub"], "LK26-000042");
  EXPECT_EQ(claims["y"], 2026);
  std::string tampered = token;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  auto bad =
      testing::RunProgram({"/usr/bin/python3", "-c", script, (tmp_ / "jwks.json").string(), tampered, now});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.err, HasSubstr("Signature verification failed"));
}

// A fixed card, token and secret with the shipped template and the development certificate.
// Set LK_UPDATE_GOLDEN=1 to rewrite the file after a deliberate change; review the diff.
TEST_F(PassgenTest, GoldenPassJson) {
  Card fixed{.serial = "LK26-GOLDEN",
             .year = 2026,
             .holder_name = "Marie-Louise Van den Broeck",
             .school = "Koninklijk Atheneum \"Redingenhof\", Leuven",
             .language = "nl",
             .token = "eyJhbGciOiJFUzI1NiIsImtpZCI6IkZJWEVEMSJ9.eyJzdWIiOiJMSzI2LUdPTERFTiJ9.c2lnbmF0dXJl",
             .auth_token = AuthenticationToken(kSecret, "pass.be.lerarenkaart.dev", "LK26-GOLDEN")};
  for (std::string lang : {"nl", "fr"}) {
    fixed.language = lang;
    auto text = builder_->PassJson(fixed);
    ASSERT_TRUE(text) << text.error().message;
    fs::path golden = testing::SourceDir() / "tests" / "passgen" / "golden" / ("pass-2026-" + lang + ".json");
    if (const char* u = std::getenv("LK_UPDATE_GOLDEN"); u && std::string(u) == "1")
      testing::WriteText(golden, *text + "\n");
    EXPECT_EQ(*text + "\n", Slurp(golden)) << "rendered pass.json differs from " << golden;
  }
}

TEST_F(PassgenTest, SameInputsGiveByteIdenticalPasses) {
  auto a = builder_->Build(card_, kNow);
  ASSERT_TRUE(a) << a.error().message;
  auto again = BuildPass(card_, *template_, *signer_, {}, kNow);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(*a == *again) << "two builds of the same card differ";
  auto later = builder_->Build(card_, kNow + std::chrono::seconds(2));
  ASSERT_TRUE(later);
  EXPECT_NE(*a, *later);
  Card other = card_;
  other.school = "Sint-Lodewijkscollege, Gent";
  EXPECT_NE(*builder_->Build(other, kNow), *a);
}

// The images are zipped once per template and copied into each pass; every entry must still be
// a stored file with the pass's own signing time and mode 0644, whatever time the pass has.
TEST_F(PassgenTest, EveryEntryIsStoredWithThePassesSigningTime) {
  for (auto [at, stamp] :
       {std::pair{kNow, "20260315.120000"}, {*ParseRfc3339("2026-11-02T08:30:10Z"), "20261102.083010"}}) {
    auto bytes = builder_->Build(card_, at);
    ASSERT_TRUE(bytes) << bytes.error().message;
    fs::path path = tmp_ / ("at-" + std::string(stamp) + ".pkpass");
    testing::WriteText(path, *bytes);
    auto listing = testing::RunProgram({"unzip", "-Z", "-T", path.string()});
    ASSERT_EQ(listing.exit_code, 0) << listing.err;
    std::regex entry(R"((\S+)\s+\S+\s+unx\s+\d+\s+\S+\s+(\S+)\s+(\d{8}\.\d{6})\s+(\S+))");
    int entries = 0;
    std::istringstream lines(listing.out);
    for (std::string line; std::getline(lines, line);) {
      std::smatch m;
      if (!std::regex_match(line, m, entry)) continue;
      ++entries;
      EXPECT_EQ(m[1], "-rw-r--r--") << line;
      EXPECT_EQ(m[2], "stor") << line;
      EXPECT_EQ(m[3], stamp) << line;
    }
    EXPECT_EQ(entries, 3 + 3 * 3 + 3) << listing.out;  // pass.json, manifest, signature, 9 images, 3 .strings
  }
}

TEST_F(PassgenTest, BadCardsAreRefusedNamingTheField) {
  auto error = [&](Card c) {
    auto r = builder_->Build(c, kNow);
    EXPECT_FALSE(r);
    if (r) return std::string();
    EXPECT_EQ(r.error().code, Code::kInvalidArgument);
    return r.error().message;
  };
  Card c = card_;
  c.year = 2027;
  EXPECT_THAT(error(c), HasSubstr("year: 2027 does not match template"));
  c = card_;
  c.serial = "bad serial";
  EXPECT_THAT(error(c), HasSubstr("serial: must be 1-40 letters"));
  c = card_;
  c.holder_name = "Ine\nVermeulen";
  EXPECT_THAT(error(c), HasSubstr("name: must be 1-100 bytes"));
  c = card_;
  c.holder_name = "Ine \xFF";
  EXPECT_THAT(error(c), HasSubstr("not valid UTF-8"));
  c = card_;
  c.school = "";
  EXPECT_THAT(error(c), HasSubstr("school: must be 1-200 bytes"));
  c = card_;
  c.token = "not a token!";
  EXPECT_THAT(error(c), HasSubstr("token: must be a compact JWS"));
  c = card_;
  c.language = "de";
  EXPECT_THAT(error(c), HasSubstr("language: \"de\" is not a template language"));
  c = card_;
  c.auth_token = "short";
  EXPECT_THAT(error(c), HasSubstr("authentication token: must be 16-64"));
  c.auth_token = "0123456789abcdef\"";
  EXPECT_THAT(error(c), HasSubstr("authentication token: must be 16-64"));
  c.auth_token = "";  // fine without a web service
  auto plain = PassBuilder::Create(*template_, *signer_, {.web_service_url = ""});
  ASSERT_TRUE(plain);
  EXPECT_TRUE((*plain)->Build(c, kNow));
}

TEST_F(PassgenTest, TheAuthenticationTokenIsTheCardsOwn) {
  Card c = card_;
  c.auth_token = "ledger-token_0123456789ABCDEFxyz";  // e.g. the ledger's auth_token
  EXPECT_EQ(json::parse(*builder_->PassJson(c))["authenticationToken"], c.auth_token);
}

TEST_F(PassgenTest, PassBuildersLoadEachYearOnceAndRememberErrors) {
  fs::create_directories(tmp_ / "tpl");
  fs::copy(testing::SourceDir() / "templates" / "2026", tmp_ / "tpl" / "2026", fs::copy_options::recursive);
  fs::copy(testing::SourceDir() / "templates" / "2026", tmp_ / "tpl" / "2028", fs::copy_options::recursive);
  fs::remove(tmp_ / "tpl" / "2028" / "logo@2x.png");
  PassBuilders builders(*signer_, {.web_service_url = ""}, tmp_ / "tpl");
  auto a = builders.For(2026);
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(*builders.For(2026), *a);  // the same builder
  auto pass = (*a)->Build(card_, kNow);
  ASSERT_TRUE(pass) << pass.error().message;
  auto missing = builders.For(2027);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::kNotFound);
  EXPECT_THAT(missing.error().message, HasSubstr("no template for card year 2027"));
  auto broken = builders.For(2028);
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().code, Code::kInvalidArgument);
  EXPECT_THAT(broken.error().message, HasSubstr("logo@2x.png"));
  fs::copy_file(tmp_ / "tpl" / "2028" / "logo.png", tmp_ / "tpl" / "2028" / "logo@2x.png");
  EXPECT_FALSE(builders.For(2028));  // remembered, not reloaded
  PassBuilders fixed(*signer_, {.web_service_url = ""}, tmp_ / "nowhere", tmp_ / "tpl" / "2026");
  EXPECT_TRUE(fixed.For(2026));
}

TEST_F(PassgenTest, OptionsAreChecked) {
  auto http = PassBuilder::Create(*template_, *signer_, {.web_service_url = "http://x/"});
  ASSERT_FALSE(http);
  EXPECT_THAT(http.error().message, HasSubstr("must start with https://"));
}

TEST_F(PassgenTest, AuthenticationTokenIsStablePerPassAndTheSecretIsPrivate) {
  std::string t1 = AuthenticationToken(kSecret, "pass.x", "A1");
  EXPECT_EQ(t1.size(), 32u);
  // The same value as OpenSSL's HMAC-SHA256, for a short and a longer-than-a-block secret.
  for (std::string secret : {kSecret, std::string(100, 's')}) {
    unsigned char mac[32];
    unsigned int len = 0;
    std::string msg = "pass.x/A1";
    HMAC(EVP_sha256(), secret.data(), int(secret.size()), reinterpret_cast<const unsigned char*>(msg.data()),
         msg.size(), mac, &len);
    EXPECT_EQ(AuthenticationToken(secret, "pass.x", "A1"),
              Base64UrlEncode(std::string_view(reinterpret_cast<char*>(mac), len)).substr(0, 32));
  }
  EXPECT_EQ(t1, AuthenticationToken(kSecret, "pass.x", "A1"));
  EXPECT_NE(t1, AuthenticationToken(kSecret, "pass.x", "A2"));
  EXPECT_NE(t1, AuthenticationToken("another secret..", "pass.x", "A1"));
  auto s1 = LoadOrCreateAuthSecret(keys_.dir);
  ASSERT_TRUE(s1) << s1.error().message;
  EXPECT_EQ(s1->size(), 32u);
  struct stat st {};
  ASSERT_EQ(::stat((keys_.dir / "pass-auth.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(*LoadOrCreateAuthSecret(keys_.dir), *s1);
  testing::WriteText(keys_.dir / "pass-auth.key", "truncated");
  auto bad = LoadOrCreateAuthSecret(keys_.dir);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Code::kDataLoss);
  EXPECT_FALSE(LoadOrCreateAuthSecret(tmp_ / "nowhere"));
}

}  // namespace
}  // namespace lk::passgen
