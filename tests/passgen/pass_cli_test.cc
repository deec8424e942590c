// `lerarenkaart pass build`, one card and a batch, run as a real process.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/base.h"
#include "tests/passgen/pkpass_check.h"
#include "tests/testing/testing.h"

namespace lk::passgen {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kAt = "2026-03-15T12:00:00Z";

class PassCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = Lk({"keys", "init"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  testing::RunResult Lk(std::vector<std::string> args) {
    args.insert(args.begin(), {testing::Binary(), "--data-dir", (tmp_ / "data").string()});
    return testing::RunProgram(args);
  }
  fs::path RootCa() { return tmp_ / "data" / "keys" / "dev-root-ca.pem"; }
  nlohmann::json PassJsonOf(const fs::path& pkpass, const std::string& name) {
    fs::path dir = tmp_ / ("json-" + name);
    EXPECT_EQ(check::Unzip(pkpass, dir), "");
    std::ifstream in(dir / "pass.json");
    return nlohmann::json::parse(in);
  }
  testing::TempDir tmp_;
};

TEST_F(PassCliTest, BuildsOneVerifiablePass) {
  fs::path out = tmp_ / "one.pkpass";
  auto r = Lk({"pass", "build", "--serial", "K1", "--year", "2026", "--name", "Jan Janssens", "--school",
               "Basisschool De Linde", "--lang", "fr", "--at", kAt, "-o", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("wrote " + out.string()));
  EXPECT_EQ(check::VerifyPkpass(out, tmp_.path(), RootCa()), "");
  auto p = PassJsonOf(out, "one");
  EXPECT_EQ(p["serialNumber"], "K1");
  EXPECT_EQ(p["storeCard"]["primaryFields"][0]["label"], "TITULAIRE");
  EXPECT_EQ(p["webServiceURL"], "https://lerarenkaart.be/wallet/");
  EXPECT_TRUE(fs::exists(tmp_ / "data" / "keys" / "pass-auth.key"));
  // The same card again keeps its authenticationToken (same secret), as Apple requires.
  fs::path again = tmp_ / "again.pkpass";
  ASSERT_EQ(Lk({"pass", "build", "--serial", "K1", "--year", "2026", "--name", "Jan Janssens", "--school",
                "X", "--at", kAt, "--web-service-url", "https://example.org/ws/", "-o", again.string()})
                .exit_code,
            0);
  auto q = PassJsonOf(again, "again");
  EXPECT_EQ(q["authenticationToken"], p["authenticationToken"]);
  EXPECT_EQ(q["webServiceURL"], "https://example.org/ws/");
  EXPECT_EQ(q["voided"], false);
  EXPECT_EQ(q["expirationDate"], "2027-01-01T00:00:00+01:00");
  // --voided: a revoked card's pass, void and expired at --at, still signed.
  fs::path voided = tmp_ / "voided.pkpass";
  ASSERT_EQ(Lk({"pass", "build", "--voided", "--serial", "K1", "--year", "2026", "--name", "Jan Janssens",
                "--school", "X", "--at", kAt, "-o", voided.string()})
                .exit_code,
            0);
  EXPECT_EQ(check::VerifyPkpass(voided, tmp_.path(), RootCa()), "");
  auto v = PassJsonOf(voided, "voided");
  EXPECT_EQ(v["voided"], true);
  auto at = ParseRfc3339(kAt), expires = ParseRfc3339(v.value("expirationDate", ""));
  ASSERT_TRUE(at && expires) << v.value("expirationDate", "");
  EXPECT_EQ(*expires, *at);
}

TEST_F(PassCliTest, UsageErrorsExit2) {
  auto both = Lk({"pass", "build", "--serial", "K1", "--year", "2026", "--name", "A", "--school", "B", "-o",
                  (tmp_ / "x").string(), "--batch", RootCa().string(), "--out-dir", (tmp_ / "d").string()});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_THAT(both.err, HasSubstr("give either -o FILE"));
  auto missing =
      Lk({"pass", "build", "--serial", "K1", "--year", "2026", "--school", "B", "-o", (tmp_ / "x").string()});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("--name is required"));
  auto bad_serial = Lk({"pass", "build", "--serial", "K 1", "--year", "2026", "--name", "A", "--school", "B",
                        "--at", kAt, "-o", (tmp_ / "x").string()});
  EXPECT_EQ(bad_serial.exit_code, 2);
  EXPECT_FALSE(fs::exists(tmp_ / "x"));
}

TEST_F(PassCliTest, BatchReportsBadRowsByLineAndBuildsTheRest) {
  fs::path csv = tmp_ / "cards.csv";
  testing::WriteText(csv,
                     "serial,year,name,school\r\n"
                     "B1,2026,Els Claes,\"Sint-Jan Berchmanscollege, Brussel\"\r\n"
                     "B2,20x6,Piet Maes,GO! Busleyden Atheneum\r\n"
                     "B3,2026,\"An \"\"Nancy\"\" Wouters\",Stedelijk Lyceum\r\n"
                     "bad serial!,2026,Tom Peeters,Sint-Victor\r\n"
                     "\r\n"
                     "B4,2026,Lies Jacobs,KTA Mol\r\n"
                     "B5,2027,Karel Smet,Heilig Hartinstituut\r\n"
                     "B1,2026,Els Claes again,Dubbel\r\n"
                     "B6,2026,only three columns\r\n");
  fs::path out = tmp_ / "out";
  auto r = Lk({"pass", "build", "--batch", csv.string(), "--out-dir", out.string(), "--at", kAt, "-j",
               "1"});  // one thread: the duplicate on line 9 comes second
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(csv.string() + ":3: year: \"20x6\" is not a card year"));
  EXPECT_THAT(r.err, HasSubstr(csv.string() + ":5: serial 'bad serial!' must be"));
  EXPECT_THAT(r.err, HasSubstr(csv.string() + ":8: "));
  EXPECT_THAT(r.err, HasSubstr("no template for card year 2027"));
  EXPECT_THAT(r.err, HasSubstr(csv.string() + ":9: "));
  EXPECT_THAT(r.err, HasSubstr("already exists"));
  EXPECT_THAT(r.err, HasSubstr(csv.string() + ":10: expected 4 columns"));
  EXPECT_THAT(r.err, Not(HasSubstr("\033[")));  // not a terminal: no progress bar
  EXPECT_THAT(r.out, HasSubstr("built 3 passes"));
  EXPECT_THAT(r.out, HasSubstr("5 rows failed"));
  std::vector<std::string> built;
  for (auto& e : fs::directory_iterator(out)) built.push_back(e.path().filename().string());
  EXPECT_THAT(built, ::testing::UnorderedElementsAre("B1.pkpass", "B3.pkpass", "B4.pkpass"));
  for (const auto& name : built)
    EXPECT_EQ(check::VerifyPkpass(out / name, tmp_.path(), RootCa()), "") << name;
  auto b1 = PassJsonOf(out / "B1.pkpass", "b1");
  EXPECT_EQ(b1["storeCard"]["secondaryFields"][0]["value"], "Sint-Jan Berchmanscollege, Brussel");
  EXPECT_EQ(b1["storeCard"]["primaryFields"][0]["value"], "Els Claes");  // the duplicate did not replace it
  EXPECT_EQ(PassJsonOf(out / "B3.pkpass", "b3")["storeCard"]["primaryFields"][0]["value"],
            "An \"Nancy\" Wouters");
}

TEST_F(PassCliTest, BatchOfGoodRowsExits0AndTemplateDirCanBeOverridden) {
  fs::path csv = tmp_ / "ok.csv";
  std::string rows;
  for (int i = 0; i < 40; ++i)
    rows += "C" + std::to_string(i) + ",2026,Naam " + std::to_string(i) + ",School\n";
  testing::WriteText(csv, rows);
  fs::create_directories(tmp_ / "tpl");
  fs::copy(testing::SourceDir() / "templates" / "2026", tmp_ / "tpl" / "2026", fs::copy_options::recursive);
  {  // a visibly different design through LK_TEMPLATES_DIR
    std::ifstream in(tmp_ / "tpl" / "2026" / "template.json");
    std::string text{std::istreambuf_iterator<char>(in), {}};
    text.replace(text.find("rgb(0, 84, 130)"), 15, "rgb(10, 20, 30)");
    testing::WriteText(tmp_ / "tpl" / "2026" / "template.json", text);
  }
  ::setenv("LK_TEMPLATES_DIR", (tmp_ / "tpl").c_str(), 1);
  auto r = Lk({"pass", "build", "--batch", csv.string(), "--out-dir", (tmp_ / "out").string(), "--at", kAt});
  ::unsetenv("LK_TEMPLATES_DIR");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("built 40 passes"));
  EXPECT_THAT(r.out, HasSubstr("0 rows failed"));
  EXPECT_EQ(PassJsonOf(tmp_ / "out" / "C7.pkpass", "c7")["backgroundColor"], "rgb(10, 20, 30)");
  EXPECT_EQ(check::VerifyPkpass(tmp_ / "out" / "C39.pkpass", tmp_.path(), RootCa()), "");
  // A rerun into the same directory refuses to replace, unless asked to.
  auto rerun =
      Lk({"pass", "build", "--batch", csv.string(), "--out-dir", (tmp_ / "out").string(), "--at", kAt});
  EXPECT_EQ(rerun.exit_code, 1);
  EXPECT_THAT(rerun.out, HasSubstr("40 rows failed"));
  auto forced =
      Lk({"pass", "build", "--batch", csv.string(), "--out-dir", (tmp_ / "out").string(), "--at", kAt,
          "--overwrite", "--template", (testing::SourceDir() / "templates" / "2026").string()});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(PassJsonOf(tmp_ / "out" / "C7.pkpass", "c7b")["backgroundColor"], "rgb(0, 84, 130)");
}

TEST_F(PassCliTest, BrokenTemplateIsReportedWithFileAndField) {
  fs::copy(testing::SourceDir() / "templates" / "2026", tmp_ / "tpl", fs::copy_options::recursive);
  fs::remove(tmp_ / "tpl" / "logo@3x.png");
  auto r = Lk({"pass", "build", "--serial", "K1", "--year", "2026", "--name", "A", "--school", "B", "--at",
               kAt, "--template", (tmp_ / "tpl").string(), "-o", (tmp_ / "x.pkpass").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr((tmp_ / "tpl" / "logo@3x.png").string() + ": missing"));
}

}  // namespace
}  // namespace lk::passgen
