// The shipped template loads; every kind of template mistake is refused with the file and field.
#include "templates/templates.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "tests/testing/testing.h"

namespace lk::templates {
namespace {
namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ojson = nlohmann::ordered_json;

fs::path Shipped() { return testing::SourceDir() / "templates" / "2026"; }

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A private copy of the shipped template that a test may break.
class BrokenTemplate : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_ / "2026";
    fs::copy(Shipped(), dir_, fs::copy_options::recursive);
  }
  ojson Json() { return ojson::parse(Slurp(dir_ / "template.json")); }
  void SetJson(const ojson& j) { testing::WriteText(dir_ / "template.json", j.dump(2)); }
  void Replace(const std::string& rel, const std::string& from, const std::string& to) {
    std::string text = Slurp(dir_ / rel);
    size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from << " not in " << rel;
    text.replace(at, from.size(), to);
    testing::WriteText(dir_ / rel, text);
  }
  std::string LoadError() {
    auto t = Template::Load(dir_);
    if (t) return "(loaded fine)";
    EXPECT_EQ(t.error().code, Code::kInvalidArgument);
    return t.error().message;
  }
  std::string File(const std::string& rel) { return (dir_ / rel).string(); }

  testing::TempDir tmp_;
  fs::path dir_;
};

TEST(ShippedTemplate, LoadsWithEveryImageAndLanguage) {
  auto t = Template::Load(Shipped());
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ((*t)->year(), 2026);
  EXPECT_EQ((*t)->style(), "storeCard");
  EXPECT_THAT((*t)->languages(), ::testing::ElementsAre("nl", "fr", "en"));
  std::vector<std::string> paths;
  for (const auto& f : (*t)->static_files()) {
    paths.push_back(f.path);
    EXPECT_EQ(f.sha1_hex, HexEncode(Sha1(f.bytes))) << f.path;
  }
  EXPECT_THAT(paths,
              ::testing::ElementsAre("icon.png", "icon@2x.png", "icon@3x.png", "logo.png", "logo@2x.png",
                                     "logo@3x.png", "strip.png", "strip@2x.png", "strip@3x.png"));
}

TEST(ShippedTemplate, RendersInTheFallbackLanguageAndMapsEveryOther) {
  auto t = Template::Load(Shipped());
  ASSERT_TRUE(t) << t.error().message;
  CardValues card{"Anna Peeters", "GO! Atheneum Gent",         "K7Q2",
                  2026,           "2026-01-01T00:00:00+01:00", "2026-12-31T23:59:59+01:00"};
  card.name = "Anna \"Annie\" Peeters";
  auto r = (*t)->Render(card, "fr");
  ASSERT_TRUE(r) << r.error().message;
  auto members = ojson::parse("{\n" + r->members_json + "\n}");
  EXPECT_EQ(members["storeCard"]["primaryFields"][0]["label"], "TITULAIRE");
  EXPECT_EQ(members["storeCard"]["primaryFields"][0]["value"], "Anna \"Annie\" Peeters");
  EXPECT_EQ(members["storeCard"]["auxiliaryFields"][0]["value"], "2026-12-31T23:59:59+01:00");
  EXPECT_EQ(members.dump(2), "{\n" + r->members_json + "\n}") << "not in dump(2) layout";
  EXPECT_EQ(r->barcode_alt_text_json, "K7Q2");
  ASSERT_EQ(r->strings.size(), 3u);
  EXPECT_EQ(r->strings[2].first, "nl.lproj/pass.strings");
  auto nl = ParseStrings(r->strings[2].second, "nl");
  ASSERT_TRUE(nl) << nl.error().message;
  EXPECT_EQ(nl->at("TITULAIRE"), "HOUDER");
  EXPECT_EQ(
      nl->at("Cette carte est personnelle et valable pour l’année 2026 au nom de Anna \"Annie\" Peeters "
             "(GO! Atheneum Gent)."),
      "Deze kaart is persoonlijk en geldig in kaartjaar 2026 voor Anna \"Annie\" Peeters (GO! Atheneum "
      "Gent).");
  EXPECT_THAT(
      nl->at("Signalez la perte sur https://www.lerarenkaart.be/verlies avec le numéro de carte K7Q2. "
             "Nous bloquons cette carte et vous pourrez en ajouter une nouvelle à Wallet."),
      HasSubstr("met kaartnummer K7Q2"));
  EXPECT_FALSE((*t)->Render(card, "de"));
  card.name = "\xC3\x28";  // invalid UTF-8
  EXPECT_FALSE((*t)->Render(card, "nl"));
}

TEST_F(BrokenTemplate, MissingImageNamesTheFile) {
  fs::remove(dir_ / "strip@2x.png");
  EXPECT_THAT(LoadError(), AllOf(HasSubstr(File("strip@2x.png")), HasSubstr("missing")));
}

TEST_F(BrokenTemplate, ImageOfTheWrongScaleNamesTheFile) {
  fs::copy_file(dir_ / "icon@3x.png", dir_ / "icon@2x.png", fs::copy_options::overwrite_existing);
  EXPECT_THAT(LoadError(),
              AllOf(HasSubstr(File("icon@2x.png")), HasSubstr("must be 2 times icon.png (58x58)")));
}

TEST_F(BrokenTemplate, NotAPngNamesTheFile) {
  testing::WriteText(dir_ / "logo.png", "GIF89a...");
  EXPECT_THAT(LoadError(), AllOf(HasSubstr(File("logo.png")), HasSubstr("not a PNG")));
}

TEST_F(BrokenTemplate, ImageTheStyleCannotShow) {
  auto j = Json();
  j["images"].push_back("thumbnail");
  SetJson(j);
  EXPECT_THAT(LoadError(), AllOf(HasSubstr(File("template.json")), HasSubstr("images[3]"),
                                 HasSubstr("\"thumbnail\" is not an image a storeCard pass shows")));
}

TEST_F(BrokenTemplate, StrayFileIsRefused) {
  fs::copy_file(dir_ / "logo.png", dir_ / "thumbnail.png");
  EXPECT_THAT(LoadError(), AllOf(HasSubstr(File("thumbnail.png")), HasSubstr("not part of the template")));
}

TEST_F(BrokenTemplate, MissingTranslationKeyNamesTheFileAndKey) {
  Replace("fr.lproj/pass.strings", "\"label.school\" = \"ÉCOLE\";", "");
  EXPECT_THAT(LoadError(), AllOf(HasSubstr(File("fr.lproj/pass.strings")),
                                 HasSubstr("missing translation key \"label.school\"")));
}

TEST_F(BrokenTemplate, KeyOnlyOneLanguageDefinesIsMissingInTheOthers) {
  Replace("en.lproj/pass.strings", "\"label.school\"", "\"label.extra\" = \"X\";\n\"label.school\"");
  EXPECT_THAT(LoadError(), AllOf(HasSubstr(File("nl.lproj/pass.strings")),
                                 HasSubstr("missing translation key \"label.extra\" (defined in en.lproj")));
}

TEST_F(BrokenTemplate, KeyUsedByTemplateButUndefined) {
  Replace("template.json", "\"@label.school\"", "\"@label.schol\"");
  EXPECT_THAT(LoadError(),
              AllOf(HasSubstr(File("nl.lproj/pass.strings")),
                    HasSubstr("missing translation key \"label.schol\" (used in template.json)")));
}

TEST_F(BrokenTemplate, MissingLanguageFile) {
  fs::remove_all(dir_ / "en.lproj");
  EXPECT_THAT(LoadError(), AllOf(HasSubstr(File("en.lproj/pass.strings")), HasSubstr("missing")));
}

TEST_F(BrokenTemplate, UnknownPlaceholderInTemplateNamesTheField) {
  Replace("template.json", "\"{name}\"", "\"{nmae}\"");
  EXPECT_THAT(LoadError(),
              AllOf(HasSubstr(File("template.json")), HasSubstr("pass.storeCard.primaryFields[0].value"),
                    HasSubstr("unknown placeholder '{nmae}'")));
}

TEST_F(BrokenTemplate, UnknownPlaceholderInStringsNamesTheFileAndKey) {
  Replace("fr.lproj/pass.strings", "numéro de carte {serial}", "numéro de carte {serail}");
  EXPECT_THAT(LoadError(), AllOf(HasSubstr(File("fr.lproj/pass.strings")), HasSubstr("\"back.lost\""),
                                 HasSubstr("unknown placeholder '{serail}'")));
}

TEST_F(BrokenTemplate, FieldOwnedByTheGeneratorIsForbidden) {
  auto j = Json();
  j["pass"]["serialNumber"] = "X";
  SetJson(j);
  EXPECT_THAT(LoadError(), AllOf(HasSubstr(File("template.json")), HasSubstr("pass.serialNumber"),
                                 HasSubstr("set by the generator")));
}

TEST_F(BrokenTemplate, KeyAppleDoesNotAllowIsForbidden) {
  auto j = Json();
  j["pass"]["foregroundColour"] = "rgb(1, 2, 3)";
  SetJson(j);
  EXPECT_THAT(LoadError(),
              AllOf(HasSubstr("pass.foregroundColour"), HasSubstr("not a pass.json key Apple allows")));
}

TEST_F(BrokenTemplate, FieldKeyAppleDoesNotAllowIsForbidden) {
  auto j = Json();
  j["pass"]["storeCard"]["headerFields"][0]["colour"] = "red";
  SetJson(j);
  EXPECT_THAT(LoadError(),
              AllOf(HasSubstr(File("template.json")), HasSubstr("pass.storeCard.headerFields[0].colour"),
                    HasSubstr("not a field key Apple allows")));
}

TEST_F(BrokenTemplate, RelevantDateOnAStoreCardIsForbidden) {
  auto j = Json();
  j["pass"]["relevantDate"] = "2026-05-01T10:00:00+02:00";
  SetJson(j);
  EXPECT_THAT(LoadError(),
              AllOf(HasSubstr("pass.relevantDate"), HasSubstr("does not support relevant dates")));
}

TEST_F(BrokenTemplate, TooManySecondaryAndAuxiliaryFields) {
  auto j = Json();
  auto& aux = j["pass"]["storeCard"]["auxiliaryFields"];
  aux.push_back({{"key", "x1"}, {"value", "1"}});
  aux.push_back({{"key", "x2"}, {"value", "2"}});
  SetJson(j);
  EXPECT_THAT(LoadError(),
              AllOf(HasSubstr("pass.storeCard"), HasSubstr("at most 4 secondary and auxiliary")));
}

TEST_F(BrokenTemplate, DuplicateFieldKey) {
  auto j = Json();
  j["pass"]["storeCard"]["secondaryFields"][0]["key"] = "holder";
  SetJson(j);
  EXPECT_THAT(LoadError(),
              AllOf(HasSubstr("pass.storeCard.secondaryFields[0].key"), HasSubstr("must be unique")));
}

TEST_F(BrokenTemplate, BadColour) {
  auto j = Json();
  j["pass"]["labelColor"] = "#ffd600";
  SetJson(j);
  EXPECT_THAT(LoadError(), AllOf(HasSubstr("pass.labelColor"), HasSubstr("rgb(r, g, b)")));
}

TEST_F(BrokenTemplate, MissingRequiredKey) {
  auto j = Json();
  j["pass"].erase("description");
  SetJson(j);
  EXPECT_THAT(LoadError(), AllOf(HasSubstr("pass.description"), HasSubstr("missing")));
}

TEST_F(BrokenTemplate, BrokenJsonNamesTheFileAndLine) {
  testing::WriteText(dir_ / "template.json", "{\n  \"year\": 2026,\n  oops\n}\n");
  EXPECT_THAT(LoadError(), AllOf(HasSubstr(File("template.json")), HasSubstr("line 3")));
}

TEST_F(BrokenTemplate, BrokenStringsNamesTheFileAndLine) {
  Replace("nl.lproj/pass.strings", "\"label.year\" = \"KAARTJAAR\";", "\"label.year\" \"KAARTJAAR\";");
  EXPECT_THAT(LoadError(),
              AllOf(HasSubstr(File("nl.lproj/pass.strings") + ":5:"), HasSubstr("expected '='")));
}

TEST_F(BrokenTemplate, AmbiguousFallbackTextIsRefused) {
  Replace("nl.lproj/pass.strings", "\"label.school\" = \"SCHOOL\";", "\"label.school\" = \"HOUDER\";");
  EXPECT_THAT(LoadError(), AllOf(HasSubstr(File("nl.lproj/pass.strings")), HasSubstr("\"label.holder\""),
                                 HasSubstr("\"label.school\""), HasSubstr("could not tell them apart")));
}

TEST(Strings, ParsesEscapesCommentsAndRejectsDuplicates) {
  auto r =
      ParseStrings("\xEF\xBB\xBF/* c\n */\n// line\n\"a\" = \"x\\\"y\\\\z\\n\\u00e9\";\n\"b\"=\"\";", "f");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->at("a"), "x\"y\\z\n\xC3\xA9");
  EXPECT_EQ(r->at("b"), "");
  auto dup = ParseStrings("\"a\" = \"1\";\n\"a\" = \"2\";\n", "f.strings");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().message, "f.strings:2: key \"a\" appears twice");
  EXPECT_FALSE(ParseStrings("\"a\" = \"1\"", "f"));
  EXPECT_FALSE(ParseStrings("\"a = \"1\";", "f"));
  auto round = ParseStrings(FormatStrings({{"q\"k", "v\\\n\t"}}), "f");
  ASSERT_TRUE(round);
  EXPECT_EQ(round->at("q\"k"), "v\\\n\t");
}

TEST(Placeholders, FillsKnownNamesAndEscapedBraces) {
  CardValues c{"N", "S", "X1", 2026, "from", "until"};
  EXPECT_EQ(*FillPlaceholders("{{{name}}} {school} {serial} {year} {valid_from}-{valid_until}", c, "w"),
            "{N} S X1 2026 from-until");
  EXPECT_EQ(FillPlaceholders("a}b", c, "w").error().message, "w: stray '}' (write '}}' for a literal brace)");
  EXPECT_THAT(FillPlaceholders("{name", c, "w").error().message, HasSubstr("unterminated placeholder"));
}

// A template that declares "followingYears" serves every later card year without a template of
// its own, as that year; a newer template takes over from its year on; without the declaration
// a later year has no template.
TEST_F(BrokenTemplate, FollowingYearsServeLaterCardYearsUntilReplaced) {
  auto plain = Template::LoadFor(tmp_.path(), 2028);
  ASSERT_FALSE(plain.has_value());
  EXPECT_EQ(plain.error().code, Code::kNotFound);
  EXPECT_THAT(plain.error().message, AllOf(HasSubstr("no template for card year 2028"),
                                           HasSubstr("does not declare \"followingYears\": true")));

  ojson j = Json();
  j["followingYears"] = true;
  SetJson(j);
  auto own = Template::LoadFor(tmp_.path(), 2026);
  ASSERT_TRUE(own.has_value()) << own.error().message;
  EXPECT_EQ((*own)->year(), 2026);
  auto later = Template::LoadFor(tmp_.path(), 2028);
  ASSERT_TRUE(later.has_value()) << later.error().message;
  EXPECT_EQ((*later)->year(), 2028);
  EXPECT_EQ((*later)->own_year(), 2026);
  EXPECT_EQ((*later)->dir(), dir_);
  auto rendered = (*later)->Render({"An", "School", "S1", 2028, "2028-01-01", "2028-12-31"}, "nl");
  ASSERT_TRUE(rendered.has_value()) << rendered.error().message;
  EXPECT_THAT(rendered->members_json, HasSubstr("2028"));
  // Before the template's own year nothing serves.
  EXPECT_EQ(Template::LoadFor(tmp_.path(), 2025).error().code, Code::kNotFound);
  // A template of 2027 without the declaration replaces it from 2027 on: 2027 yes, 2028 no.
  fs::copy(Shipped(), tmp_ / "2027", fs::copy_options::recursive);
  ojson j27 = ojson::parse(Slurp(tmp_ / "2027" / "template.json"));
  j27["year"] = 2027;
  testing::WriteText(tmp_ / "2027" / "template.json", j27.dump(2));
  EXPECT_EQ((*Template::LoadFor(tmp_.path(), 2027))->own_year(), 2027);
  auto replaced = Template::LoadFor(tmp_.path(), 2028);
  ASSERT_FALSE(replaced.has_value());
  EXPECT_THAT(replaced.error().message, HasSubstr((tmp_ / "2027" / "template.json").string()));

  j["followingYears"] = "yes";
  SetJson(j);
  EXPECT_THAT(LoadError(), AllOf(HasSubstr("followingYears"), HasSubstr("must be true or false")));
}

}  // namespace
}  // namespace lk::templates
