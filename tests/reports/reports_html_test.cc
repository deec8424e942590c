// The HTML report in a real browser: renders the page with headless Chromium (no network, a fresh
// profile per run), checks the DOM it built (tables, SVG charts, numbers, n/a cells) and a
// screenshot (PNG size from IHDR, pixels decoded with zlib: not blank, the chart colours drawn).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <array>
#include <cstdint>
#include <fstream>
#include <regex>

#include "reports/reports.h"
#include "tests/reports/report_inputs.h"
#include "tests/testing/testing.h"

namespace lk::reports {
namespace {

using lk::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kChromium = "/usr/bin/chromium";

std::vector<std::string> ChromiumArgs(const TempDir& dir, const std::string& profile) {
  return {"timeout",
          "120",
          kChromium,
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-background-networking",
          "--no-first-run",
          "--disable-extensions",
          "--proxy-server=127.0.0.1:9",  // nothing may leave the machine, should anything try
          "--user-data-dir=" + (dir / profile).string()};
}

std::string DumpDom(const TempDir& dir, const std::filesystem::path& page) {
  auto args = ChromiumArgs(dir, "profile-dom");
  args.push_back("--dump-dom");
  args.push_back("file://" + page.string());
  auto r = lk::testing::RunProgram(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

struct Image {
  uint32_t width = 0, height = 0;
  int channels = 0;
  std::vector<uint8_t> pixels;  // row-major, `channels` bytes per pixel
  std::array<uint8_t, 3> Rgb(uint32_t x, uint32_t y) const {
    const uint8_t* p = &pixels[(size_t(y) * width + x) * size_t(channels)];
    return {p[0], p[1], p[2]};
  }
};

uint32_t Be32(const std::string& s, size_t at) {
  return uint32_t(uint8_t(s[at])) << 24 | uint32_t(uint8_t(s[at + 1])) << 16 |
         uint32_t(uint8_t(s[at + 2])) << 8 | uint32_t(uint8_t(s[at + 3]));
}

// Decodes an 8-bit RGB or RGBA non-interlaced PNG (what Chromium writes); fails the test otherwise.
Image DecodePng(const std::string& png) {
  Image img;
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  if (png.size() < 33 || png.substr(12, 4) != "IHDR") {
    ADD_FAILURE() << "no IHDR chunk";
    return img;
  }
  img.width = Be32(png, 16);
  img.height = Be32(png, 20);
  int depth = uint8_t(png[24]), color = uint8_t(png[25]), interlace = uint8_t(png[28]);
  if (depth != 8 || (color != 2 && color != 6) || interlace != 0) {
    ADD_FAILURE() << "unsupported PNG: depth " << depth << " colour type " << color << " interlace "
                  << interlace;
    return img;
  }
  img.channels = color == 6 ? 4 : 3;
  std::string idat;
  for (size_t at = 8; at + 12 <= png.size();) {
    uint32_t len = Be32(png, at);
    std::string type = png.substr(at + 4, 4);
    if (type == "IDAT") idat += png.substr(at + 8, len);
    if (type == "IEND") break;
    at += 12 + len;
  }
  size_t stride = size_t(img.width) * size_t(img.channels);
  std::vector<uint8_t> raw(size_t(img.height) * (stride + 1));
  uLongf raw_len = raw.size();
  int z = uncompress(raw.data(), &raw_len, reinterpret_cast<const Bytef*>(idat.data()), idat.size());
  if (z != Z_OK || raw_len != raw.size()) {
    ADD_FAILURE() << "zlib: " << z << ", " << raw_len << " of " << raw.size() << " bytes";
    return img;
  }
  img.pixels.assign(size_t(img.height) * stride, 0);
  size_t bpp = size_t(img.channels);
  for (size_t y = 0; y < img.height; ++y) {
    uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* in = &raw[y * (stride + 1) + 1];
    uint8_t* out = &img.pixels[y * stride];
    const uint8_t* up = y ? &img.pixels[(y - 1) * stride] : nullptr;
    for (size_t i = 0; i < stride; ++i) {
      int a = i >= bpp ? out[i - bpp] : 0, b = up ? up[i] : 0, c = (up && i >= bpp) ? up[i - bpp] : 0;
      int v = in[i];
      switch (filter) {
        case 0:
          break;
        case 1:
          v += a;
          break;
        case 2:
          v += b;
          break;
        case 3:
          v += (a + b) / 2;
          break;
        case 4: {
          int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          v += (pa <= pb && pa <= pc) ? a : pb <= pc ? b : c;
          break;
        }
        default:
          ADD_FAILURE() << "bad filter " << int(filter) << " on row " << y;
          return img;
      }
      out[i] = uint8_t(v);
    }
  }
  return img;
}

struct PixelStats {
  double non_white = 0;  // fraction of sampled pixels that are not near-white
  size_t colours = 0;    // distinct sampled colours
  bool has(std::array<uint8_t, 3> want) const {
    return std::find(seen.begin(), seen.end(), want) != seen.end();
  }
  bool near(std::array<uint8_t, 3> want, int tol) const {
    for (const auto& c : seen)
      if (std::abs(c[0] - want[0]) <= tol && std::abs(c[1] - want[1]) <= tol &&
          std::abs(c[2] - want[2]) <= tol)
        return true;
    return false;
  }
  std::vector<std::array<uint8_t, 3>> seen;
};

// Samples every 4th pixel in both directions.
PixelStats Sample(const Image& img) {
  PixelStats s;
  size_t n = 0, dark = 0;
  for (uint32_t y = 0; y < img.height; y += 4)
    for (uint32_t x = 0; x < img.width; x += 4) {
      auto c = img.Rgb(x, y);
      ++n;
      if (c[0] < 235 || c[1] < 235 || c[2] < 235) ++dark;
      if (std::find(s.seen.begin(), s.seen.end(), c) == s.seen.end()) s.seen.push_back(c);
    }
  s.non_white = n ? double(dark) / double(n) : 0;
  s.colours = s.seen.size();
  return s;
}

Image Screenshot(const TempDir& dir, const std::filesystem::path& page, const std::string& name) {
  auto png = dir / (name + ".png");
  auto args = ChromiumArgs(dir, "profile-" + name);
  args.push_back("--screenshot=" + png.string());
  args.push_back("--window-size=1200,1600");
  args.push_back("file://" + page.string());
  auto r = lk::testing::RunProgram(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(png)) << r.err;
  auto bytes = ReadFile(png);
  if (!bytes) {
    ADD_FAILURE() << bytes.error().message;
    return {};
  }
  return DecodePng(*bytes);
}

Report MixedReport(Dimension by) {
  std::vector<CountsRow> cards;
  for (int y = 2020; y <= 2026; ++y) {
    if (by == Dimension::kProvince) {
      int g = 0;
      for (const char* p : {"Antwerpen", "Limburg", "Oost-Vlaanderen", "West-Vlaanderen", "Vlaams-Brabant"})
        cards.push_back(testing::SyntheticCell(std::to_string(y), std::string(p), y - 2020, g++));
    } else {
      cards.push_back(testing::SyntheticCell(std::to_string(y), std::nullopt, y - 2020, 0));
    }
  }
  auto r = BuildAdoptionReport(cards, testing::LoadPublishedCsv(), {.by = by});
  EXPECT_TRUE(r) << r.error().message;
  return r.value_or(Report{});
}

size_t CountOf(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

const std::string kNnbsp = "\u202F";

TEST(HtmlReport, PageIsSelfContained) {
  std::string html = RenderHtml(MixedReport(Dimension::kProvince));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("src=")));
  EXPECT_THAT(html, Not(HasSubstr("url(")));
  EXPECT_THAT(html, Not(HasSubstr("@import")));
  EXPECT_THAT(html, Not(HasSubstr("<link")));
  std::string rest = std::regex_replace(html, std::regex("xmlns=\"http://www.w3.org/2000/svg\""), "");
  EXPECT_THAT(rest, Not(HasSubstr("http:")));
  EXPECT_THAT(rest, Not(HasSubstr("https:")));
  EXPECT_THAT(html, HasSubstr("Content-Security-Policy\" content=\"default-src 'none'"));
}

TEST(HtmlReport, ChromiumBuildsTheTablesChartsAndNumbers) {
  TempDir dir;
  auto page = dir / "report.html";
  lk::testing::WriteText(page, RenderHtml(MixedReport(Dimension::kNone)));
  std::string dom = DumpDom(dir, page);
  ASSERT_THAT(dom, HasSubstr("</html>"));
  for (const char* id : {"chart-holders", "chart-channels", "chart-digital"})
    EXPECT_THAT(dom, HasSubstr(std::string("<svg id=\"") + id + "\"")) << id;
  // Holders chart: one bar per year for eligible and for holders, with the exact counts.
  EXPECT_EQ(CountOf(dom, "<rect class=\"holders\""), 10u + 1u);  // + the legend swatch
  EXPECT_THAT(dom, HasSubstr("<rect class=\"holders\" x=\""));
  EXPECT_THAT(dom, HasSubstr("data-value=\"138365\""));
  EXPECT_THAT(dom, HasSubstr("data-value=\"204530\""));
  // Channel chart: not-itemised segments exist for the published years only.
  EXPECT_EQ(CountOf(dom, "<rect class=\"ch-not_itemised\" x=\""), 3u + 1u);
  EXPECT_THAT(dom, HasSubstr("data-value=\"5465\""));
  // Digital share: points for the card years, n/a for the published ones.
  EXPECT_EQ(CountOf(dom, "<circle class=\"digital-point\""), 7u);
  EXPECT_THAT(dom, HasSubstr("<path class=\"digital-line\""));
  // Tables: 10 year rows + the sum + the printed total; reconciliation; notes.
  EXPECT_THAT(dom, HasSubstr("<table class=\"adoption\">"));
  EXPECT_THAT(dom, HasSubstr("<table class=\"digital\">"));
  EXPECT_THAT(dom, HasSubstr("<table class=\"reconciliation\">"));
  auto adoption = dom.substr(dom.find("<table class=\"adoption\">"));
  adoption = adoption.substr(0, adoption.find("</table>"));
  EXPECT_EQ(CountOf(adoption, "<tr"), 1u + 10u + 2u);
  for (std::string n : {"138 365", "416 585", "416 586", "5 465", "625 866"}) {
    n.replace(n.find(' '), 1, kNnbsp);
    EXPECT_THAT(dom, HasSubstr(n)) << n;
  }
  for (const char* s : {"67.65%", "67.50%", "67.10%", "64.99%", "66.56%", "66.50%"})
    EXPECT_THAT(dom, HasSubstr(s));
  EXPECT_THAT(dom, HasSubstr("<td class=\"na\""));
  EXPECT_THAT(dom, HasSubstr(">n/a<sup><a href=\"#note-"));
  EXPECT_THAT(dom, HasSubstr("<li id=\"note-1\">"));
}

TEST(HtmlReport, ScreenshotIsTheRightSizeAndShowsTheCharts) {
  TempDir dir;
  auto page = dir / "report.html";
  lk::testing::WriteText(page, RenderHtml(MixedReport(Dimension::kNone)));
  Image img = Screenshot(dir, page, "report");
  ASSERT_EQ(img.width, 1200u);
  ASSERT_EQ(img.height, 1600u);
  ASSERT_FALSE(img.pixels.empty());
  PixelStats s = Sample(img);
  EXPECT_GT(s.non_white, 0.05) << "the page looks blank";
  EXPECT_GT(s.colours, 20u);
  // The colours of the drawn bars: holders, library, subscription, digital line.
  EXPECT_TRUE(s.near({0x1f, 0x5f, 0xa8}, 6)) << "no holders bar";
  EXPECT_TRUE(s.near({0x2c, 0xa0, 0x2c}, 6)) << "no library segment";
  EXPECT_TRUE(s.near({0x1f, 0x77, 0xb4}, 6)) << "no subscription segment";
  EXPECT_TRUE(s.near({0xd6, 0x27, 0x28}, 6)) << "no digital colour";
}

TEST(HtmlReport, BlankPageIsDetectedAsBlank) {  // the screenshot checks above can fail
  TempDir dir;
  auto page = dir / "blank.html";
  lk::testing::WriteText(page, "<!DOCTYPE html><html><body></body></html>");
  Image img = Screenshot(dir, page, "blank");
  ASSERT_EQ(img.width, 1200u);
  PixelStats s = Sample(img);
  EXPECT_LT(s.non_white, 0.001);
  EXPECT_FALSE(s.near({0x1f, 0x5f, 0xa8}, 6));
}

TEST(HtmlReport, ProvinceViewDrawsBarsWhereThereAreProvincesAndNaElsewhere) {
  TempDir dir;
  auto page = dir / "province.html";
  lk::testing::WriteText(page, RenderHtml(MixedReport(Dimension::kProvince)));
  std::string dom = DumpDom(dir, page);
  for (int y = 2020; y <= 2026; ++y)
    EXPECT_THAT(dom, HasSubstr("<svg id=\"chart-province-" + std::to_string(y) + "\"")) << y;
  EXPECT_THAT(dom, Not(HasSubstr("chart-province-2019")));
  auto chart = dom.substr(dom.find("<svg id=\"chart-province-2026\""));
  chart = chart.substr(0, chart.find("</svg>"));
  EXPECT_EQ(CountOf(chart, "<rect class=\"holders\""), 5u);
  EXPECT_THAT(chart, HasSubstr(">Antwerpen</text>"));
  // 2017-2019 have no provinces: every province row is n/a with the note.
  auto adoption = dom.substr(dom.find("<table class=\"adoption\">"));
  adoption = adoption.substr(0, adoption.find("</table>"));
  EXPECT_THAT(adoption, HasSubstr("<td>2017</td><td>Brussel</td><td>none</td><td class=\"na\""));
  EXPECT_THAT(dom, HasSubstr("2017: known only as published totals, which have no split by province"));
}

TEST(HtmlReport, PublishedOnlyProvinceViewSaysThereAreNoProvinces) {
  TempDir dir;
  auto page = dir / "none.html";
  auto r = BuildAdoptionReport({}, testing::LoadPublishedCsv(), {.by = Dimension::kProvince});
  ASSERT_TRUE(r);
  lk::testing::WriteText(page, RenderHtml(*r));
  std::string dom = DumpDom(dir, page);
  EXPECT_THAT(dom,
              HasSubstr("n/a: no period in this range has per-card records, so there are no provinces."));
  EXPECT_THAT(dom, Not(HasSubstr("chart-province-")));
}

}  // namespace
}  // namespace lk::reports
