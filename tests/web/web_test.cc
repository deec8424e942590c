// The page renderer on its own: escaping, translations in every language, language
// negotiation and the QR code's SVG.
#include "web/web.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace lk::web {
namespace {
using ::testing::HasSubstr;
using ::testing::Not;

std::unique_ptr<const Site> LoadSite() {
  auto site = Site::Load();
  EXPECT_TRUE(site) << site.error().message;
  return site ? std::move(*site) : nullptr;
}

TEST(WebTest, EveryPageRendersInEveryLanguageWithItsLangAttribute) {
  auto site = LoadSite();
  ASSERT_TRUE(site);
  for (Lang lang : kLangs)
    for (const char* page : {"home", "claim", "card", "not_found", "error"}) {
      auto html = site->Render(page, lang, {});
      ASSERT_TRUE(html) << page << ": " << html.error().message;
      EXPECT_THAT(*html, HasSubstr("<html lang=\"" + std::string(LangCode(lang)) + "\">")) << page;
      EXPECT_THAT(*html, Not(HasSubstr("{{"))) << page;
      EXPECT_THAT(*html, HasSubstr("<link rel=\"stylesheet\" href=\"/static/site.css\">"));
      EXPECT_THAT(*html, Not(HasSubstr("<script"))) << page;
    }
  EXPECT_EQ(site->Render("layout", Lang::kNl, {}).error().code, Code::kNotFound);
  EXPECT_EQ(site->Render("nope", Lang::kNl, {}).error().code, Code::kNotFound);
}

TEST(WebTest, TextComesFromTheTranslationFiles) {
  auto site = LoadSite();
  ASSERT_TRUE(site);
  EXPECT_EQ(site->Text(Lang::kNl, "card.add_apple"), "Voeg toe aan Apple Wallet");
  EXPECT_EQ(site->Text(Lang::kFr, "card.add_apple"), "Ajouter à Apple Wallet");
  EXPECT_EQ(site->Text(Lang::kEn, "card.add_apple"), "Add to Apple Wallet");
  EXPECT_EQ(site->Text(Lang::kEn, "no.such.key"), "");
  EXPECT_THAT(*site->Render("home", Lang::kFr, {}),
              HasSubstr(std::string(site->Text(Lang::kFr, "home.heading"))));
  EXPECT_THAT(site->Stylesheet(), HasSubstr(".wallet"));
}

TEST(WebTest, ValuesAreEscapedAndOnlyMarkupIsNot) {
  auto site = LoadSite();
  ASSERT_TRUE(site);
  Values v;
  v.text["name"] = "<script>alert('x')</script> & \"Co\"";
  v.markup["qr"] = "<svg id=\"trusted\"></svg>";
  auto html = site->Render("card", Lang::kEn, v);
  ASSERT_TRUE(html);
  EXPECT_THAT(*html, Not(HasSubstr("<script>")));
  EXPECT_THAT(*html, HasSubstr("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;Co&quot;"));
  EXPECT_THAT(*html, HasSubstr("<svg id=\"trusted\"></svg>"));
  EXPECT_EQ(HtmlEscape("a<b>&'\""), "a&lt;b&gt;&amp;&#39;&quot;");
}

TEST(WebTest, FlagsKeepOrDropBlocks) {
  auto site = LoadSite();
  ASSERT_TRUE(site);
  Values v;
  auto without = site->Render("card", Lang::kEn, v);
  EXPECT_THAT(*without, Not(HasSubstr("/card/google")));
  EXPECT_THAT(*without, HasSubstr("/card/pass.pkpass"));
  v.flags.insert("google");
  EXPECT_THAT(*site->Render("card", Lang::kEn, v), HasSubstr("href=\"/card/google\""));
  v.flags.insert("revoked");
  auto revoked = site->Render("card", Lang::kEn, v);
  EXPECT_THAT(*revoked, Not(HasSubstr("/card/pass.pkpass")));
  EXPECT_THAT(*revoked, HasSubstr(std::string(site->Text(Lang::kEn, "card.revoked"))));
}

TEST(WebTest, LanguageComesFromTheCookieThenAcceptLanguageThenDutch) {
  EXPECT_EQ(NegotiateLang("", ""), Lang::kNl);
  EXPECT_EQ(NegotiateLang("", "de-DE,de;q=0.9"), Lang::kNl);
  EXPECT_EQ(NegotiateLang("", "fr-BE,fr;q=0.9,en;q=0.8"), Lang::kFr);
  EXPECT_EQ(NegotiateLang("", "en-GB;q=0.5, fr;q=0.4"), Lang::kEn);
  EXPECT_EQ(NegotiateLang("", "de, fr;q=0.2, EN;q=0.3"), Lang::kEn);
  EXPECT_EQ(NegotiateLang("", "fr;q=0, *"), Lang::kNl);
  EXPECT_EQ(NegotiateLang("", "fr;q=abc,en"), Lang::kEn);
  EXPECT_EQ(NegotiateLang("fr", "en"), Lang::kFr);
  EXPECT_EQ(NegotiateLang("xx", "en"), Lang::kEn);
  EXPECT_EQ(ParseLang("NL"), std::nullopt);
  EXPECT_EQ(LangCode(Lang::kFr), "fr");
}

TEST(WebTest, QrSvgIsOnePathWithAQuietZoneAndAnAccessibleName) {
  std::string token(300, 'A');
  auto svg = QrSvg(token, "QR <code>");
  ASSERT_TRUE(svg) << svg.error().message;
  EXPECT_THAT(*svg, HasSubstr("role=\"img\" aria-label=\"QR &lt;code&gt;\""));
  EXPECT_THAT(*svg, HasSubstr("<path fill=\"#000\" d=\"M4 4h7v1h-7z"));  // the finder pattern's top row
  EXPECT_LT(svg->size(), 20000u);  // a 300-byte token: version 14, about 17 KB
  EXPECT_FALSE(QrSvg(std::string(4000, 'x'), "too long"));
}

}  // namespace
}  // namespace lk::web
