// Sync against the stand-in Google: creation, revocation, expiry, key rotation, changed names,
// per-card failures, and the CLI end to end (link, and sync from a real SQLite or PostgreSQL ledger).
#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>

#include "ledger/ledger.h"
#include "passgen/passgen.h"
#include "tests/ledger/ledger_testing.h"
#include "tests/passgen/google_fixture.h"

namespace lk::passgen {
namespace {
using json = nlohmann::json;
using std::chrono::milliseconds;

class GoogleSyncTest : public GoogleTest {
 protected:
  Result<SyncSummary> RunSync(const std::vector<::lk::Card>& cards, SyncOptions options = {}) {
    auto api = Client();
    return Sync(*api, config_, design_, *issuer_, *verifier_, policy_, 2026, cards, clock_.Now(), options);
  }
  std::vector<::lk::Card> cards_ = {Card("LK1"), Card("LK2", "Ömer Şahin", "Sint-Lievenscollege"),
                                    Card("LK3", "Zoë Dubois", "Athénée royal d'Uccle"),
                                    Card("LK4", "Bram Claes", "KA Mol", 2026, true),
                                    Card("OLD", "Els Maes", "KA Mol", 2025)};
};

TEST_F(GoogleSyncTest, FirstSyncCreatesObjectsOfActiveCardsThenNothingChanges) {
  std::vector<std::pair<size_t, size_t>> progress;
  SyncOptions options;
  options.progress = [&](size_t done, size_t total) { progress.emplace_back(done, total); };
  auto s = RunSync(cards_, options);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_TRUE(s->class_created);
  EXPECT_EQ(s->cards, 4u);
  EXPECT_EQ(s->other_years, 1u);
  EXPECT_EQ(s->created, 3u);
  EXPECT_EQ(s->skipped, 1u) << "a revoked card that was never saved needs no object";
  EXPECT_EQ(s->failed, 0u);
  ASSERT_EQ(progress.size(), 4u);
  EXPECT_EQ(progress.back(), std::make_pair(size_t(4), size_t(4)));

  auto objects = google_->objects();
  ASSERT_EQ(objects.size(), 3u);
  const json& o = objects.at("3388000000012345678.LK2");
  EXPECT_EQ(o["header"]["defaultValue"]["value"], "Ömer Şahin");
  EXPECT_EQ(o["state"], "ACTIVE");
  auto v = verifier_->Verify(o["barcode"]["value"].get<std::string>(), clock_.Now());
  EXPECT_TRUE(v.valid) << v.reason;
  EXPECT_EQ(v.serial, "LK2");

  auto again = RunSync(cards_);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->class_created || again->class_updated);
  EXPECT_EQ(again->unchanged, 3u);
  EXPECT_EQ(again->skipped, 1u);
  EXPECT_EQ(google_->CountRequests("PATCH", "/"), 0u);
  EXPECT_EQ(again->ToText(),
            "class: unchanged\ncards: 4 (created 0, updated 0, barcode rotated 0, revoked 0, expired 0, "
            "unchanged 3, "
            "skipped 1, failed 0)\nignored: 1 cards of other years\n");
}

TEST_F(GoogleSyncTest, RevokedCardBecomesInactive) {
  ASSERT_TRUE(RunSync(cards_));
  cards_[1].revoked = true;
  auto s = RunSync(cards_);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->revoked, 1u);
  EXPECT_EQ(s->unchanged, 2u);
  EXPECT_EQ(google_->objects().at("3388000000012345678.LK2")["state"], "INACTIVE");
  auto reqs = google_->requests();
  auto patch = std::find_if(reqs.begin(), reqs.end(), [](auto& r) { return r.method == "PATCH"; });
  ASSERT_NE(patch, reqs.end());
  EXPECT_EQ(patch->path, "/walletobjects/v1/genericObject/3388000000012345678.LK2");
  EXPECT_EQ(json::parse(patch->body), json({{"state", "INACTIVE"}}));
}

TEST_F(GoogleSyncTest, CardsExpireAfterTheirYearAndGrace) {
  ASSERT_TRUE(RunSync(cards_));
  clock_.Set(signing::CardYearValidity(2026, policy_).expires - std::chrono::seconds(1));
  auto before = RunSync(cards_);
  ASSERT_TRUE(before);
  EXPECT_EQ(before->unchanged, 3u);
  clock_.Set(signing::CardYearValidity(2026, policy_).expires);
  auto s = RunSync(cards_);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->expired, 3u);
  EXPECT_EQ(s->failed, 0u) << (s->errors.empty() ? "" : s->errors[0]);
  for (const auto& [id, o] : google_->objects()) EXPECT_EQ(o["state"], "EXPIRED") << id;
}

TEST_F(GoogleSyncTest, KeyRotationReplacesEveryBarcode) {
  ASSERT_TRUE(RunSync(cards_));
  std::string old_value = google_->objects().at("3388000000012345678.LK1")["barcode"]["value"];
  clock_.Advance(std::chrono::hours(24));
  auto fresh = keyring_->Rotate(clock_);
  ASSERT_TRUE(fresh);
  issuer_ = std::move(*signing::TokenIssuer::Create(*keyring_, policy_));
  verifier_ = signing::TokenVerifier::Create(keyring_->Published(clock_.Now()), policy_);
  auto s = RunSync(cards_);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->barcode_rotated, 3u);
  json o = google_->objects().at("3388000000012345678.LK1");
  EXPECT_NE(o["barcode"]["value"], old_value);
  auto v = verifier_->Verify(o["barcode"]["value"].get<std::string>(), clock_.Now());
  EXPECT_TRUE(v.valid);
  EXPECT_EQ(v.kid, fresh->kid);
  EXPECT_EQ(RunSync(cards_)->unchanged, 3u);
}

TEST_F(GoogleSyncTest, TamperedBarcodeAndChangedSchoolArePatched) {
  ASSERT_TRUE(RunSync(cards_));
  json o = google_->objects().at("3388000000012345678.LK1");
  o["barcode"]["value"] = "forged";
  google_->PutObject(o);
  cards_[2].school = "Sint-Jozefscollege Aalst";
  auto s = RunSync(cards_);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->barcode_rotated, 1u);
  EXPECT_EQ(s->updated, 1u);
  EXPECT_EQ(google_->objects().at("3388000000012345678.LK3")["textModulesData"][0]["body"],
            "Sint-Jozefscollege Aalst");
  EXPECT_TRUE(
      verifier_
          ->Verify(google_->objects().at("3388000000012345678.LK1")["barcode"]["value"].get<std::string>(),
                   clock_.Now())
          .valid);
}

TEST_F(GoogleSyncTest, OneFailingCardIsCountedAndTheOthersProceed) {
  config_.max_attempts = 2;
  google_->AddFault(
      {"/walletobjects/v1/genericObject/3388000000012345678.LK2", 500, "", milliseconds(0), false, 10});
  auto s = RunSync(cards_);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->created, 2u);
  EXPECT_EQ(s->failed, 1u);
  ASSERT_EQ(s->errors.size(), 1u);
  EXPECT_TRUE(s->errors[0].starts_with("LK2: GET " + config_.api_url)) << s->errors[0];
}

TEST_F(GoogleSyncTest, UnreachableClassFailsTheWholeSync) {
  config_.max_attempts = 1;
  google_->AddFault({"/walletobjects/v1/genericClass/", 503, "", milliseconds(0), false, 1});
  auto s = RunSync(cards_);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Code::kUnavailable);
  EXPECT_TRUE(s.error().message.starts_with("class 3388000000012345678.lerarenkaart-2026: GET"))
      << s.error().message;
  EXPECT_TRUE(google_->objects().empty());
}

TEST_F(GoogleSyncTest, ManyCardsInParallelWithThrottlingAllArrive) {
  std::vector<::lk::Card> many;
  for (int i = 0; i < 60; ++i) many.push_back(Card("P" + std::to_string(i), "Leraar " + std::to_string(i)));
  // Fewer faults in all than attempts per call, so no card can run out of attempts.
  config_.max_attempts = 10;
  google_->AddFault({"/walletobjects/v1/genericObject", 429, "1", milliseconds(0), false, 6});
  google_->AddFault({"/walletobjects/v1/genericObject", 503, "", milliseconds(0), false, 3});
  SyncOptions options;
  options.parallelism = 8;
  auto s = RunSync(many, options);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->created, 60u) << (s->errors.empty() ? "" : s->errors[0]);
  EXPECT_EQ(google_->objects().size(), 60u);
  EXPECT_EQ(google_->token_grants(), 1u);
  EXPECT_EQ(std::count_if(logged_.begin(), logged_.end(),
                          [](const std::string& l) { return l.find("stand-in fault") != std::string::npos; }),
            9)
      << ::testing::PrintToString(logged_);
  EXPECT_GE(std::count_if(sleeps_.begin(), sleeps_.end(), [](auto d) { return d >= milliseconds(1000); }), 6)
      << "every 429 waits its Retry-After";
}

TEST(GoogleLedgerCard, AppliesTheServicesDefaults) {
  ::lk::Card recorded;
  recorded.serial = "ABC";
  recorded.year = 2026;
  recorded.school = "012345";
  recorded.revoked = true;
  ::lk::Card c = ShownCard(recorded);
  EXPECT_EQ(c.serial, "ABC");
  EXPECT_EQ(c.year, 2026);
  EXPECT_EQ(c.holder_name, "Lerarenkaart");
  EXPECT_EQ(c.school, "School 012345");
  EXPECT_TRUE(c.revoked);
  recorded.holder_name = "An Peeters";
  recorded.school = "";
  recorded.revoked = false;
  ::lk::Card d = ShownCard(recorded);
  EXPECT_EQ(d.holder_name, "An Peeters");
  EXPECT_EQ(d.school, "-");
  EXPECT_FALSE(d.revoked);
  recorded.school = "012345";
  recorded.school_name = "Sint-Jozefscollege";
  EXPECT_EQ(ShownCard(recorded).school, "Sint-Jozefscollege");
}

// The CLI end to end, against the stand-in, with development keys in a data dir.
class GoogleCliTest : public GoogleTest {
 protected:
  void SetUp() override {
    data_ = dir_ / "data";
    keys_.dir = data_ / "keys";
    SystemClock real;
    ASSERT_TRUE(signing::InitDevelopmentKeys(keys_, real));
    account_ = std::move(*signing::ServiceAccount::Load(keys_));
    google_ = std::make_unique<testing::GoogleStandIn>(account_->PublicKeyPem(), account_->client_email());
    year_ = int(BrusselsDate(real.Now()).year());
  }
  testing::RunResult Run(std::vector<std::string> args) {
    std::vector<std::string> argv = {testing::Binary(), "--data-dir", data_.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> google = {
        "--issuer-id", "3388000000012345678", "--token-url", google_->token_url(),
        "--api-url",   google_->api_url(),    "--timeout",   "5"};
    argv.insert(argv.end(), google.begin(), google.end());
    return testing::RunProgram(argv);
  }
  testing::RunResult Run0(std::vector<std::string> args) {  // without the Google flags
    std::vector<std::string> argv = {testing::Binary(), "--data-dir", data_.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunProgram(argv);
  }
  std::filesystem::path data_;
  int year_ = 0;
};

TEST_F(GoogleCliTest, LinkCommandCreatesTheObjectAndPrintsASkinnyLinkForLongNames) {
  std::string name, school;
  for (int i = 0; i < 100; ++i) name += "Åé";    // 200 characters, 400 bytes
  for (int i = 0; i < 200; ++i) school += "漢";  // 200 characters, 600 bytes
  auto r = Run({"pass", "google-link", "--serial", std::string(40, 'Q'), "--year", std::to_string(year_),
                "--name", name, "--school", school});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string link = r.out.substr(0, r.out.find('\n'));
  EXPECT_TRUE(link.starts_with("https://pay.google.com/gp/v/save/"));
  EXPECT_LT(link.size(), kMaxSaveLinkChars);
  EXPECT_NE(r.err.find("object 3388000000012345678." + std::string(40, 'Q') + ": created"), std::string::npos)
      << r.err;
  json o = google_->objects().at("3388000000012345678." + std::string(40, 'Q'));
  EXPECT_EQ(o["header"]["defaultValue"]["value"], name);
  EXPECT_EQ(o["textModulesData"][0]["body"], school);

  auto full = Run({"pass", "google-link", "--full", "--serial", "LK9", "--year", std::to_string(year_),
                   "--name", name, "--school", school});
  EXPECT_EQ(full.exit_code, 1);
  EXPECT_NE(full.err.find("over Google's limit of 1800"), std::string::npos) << full.err;

  auto bad = Run({"pass", "google-link", "--serial", "LK9", "--year", std::to_string(year_), "--name",
                  name + "x", "--school", school});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err, "lerarenkaart: name: 201 characters, at most 200 allowed\n");
}

// The cards CSV of `google sync --cards`: the project's CSV parser, all or nothing.
TEST(GoogleCardsCsv, ReadsActiveAndRevokedRowsSeparatedBySemicolonsAfterABom) {
  auto cards = ReadCardsCsv(
      "\xEF\xBB\xBF"
      "Serial;Year;Name;School;Status;note\r\n"
      "LK1;2026;An Peeters;GO! Atheneum Gent;active;x\r\n"
      "\r\n"
      "\"LK-2\";2026;\"Zoë Dubois; née Claes\";Athénée royal d'Uccle; Revoked ;\r\n",
      "export.csv", 2026);
  ASSERT_TRUE(cards) << cards.error().message;
  ASSERT_EQ(cards->size(), 2u);
  EXPECT_EQ((*cards)[0].serial, "LK1");
  EXPECT_EQ((*cards)[0].year, 2026);
  EXPECT_EQ((*cards)[0].holder_name, "An Peeters");
  EXPECT_EQ((*cards)[0].school, "GO! Atheneum Gent");
  EXPECT_FALSE((*cards)[0].revoked);
  EXPECT_EQ((*cards)[1].serial, "LK-2");
  EXPECT_EQ((*cards)[1].holder_name, "Zoë Dubois; née Claes");
  EXPECT_TRUE((*cards)[1].revoked);
  auto empty = ReadCardsCsv("serial,year,name,school,status\n", "empty.csv", 2026);
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_TRUE(empty->empty());
}

TEST(GoogleCardsCsv, AnyBadRowRefusesTheWholeFileNamingEveryLineAndColumn) {
  auto r = ReadCardsCsv(
      "serial,year,name,school,status\n"
      "LK1,2026,An Peeters,KA Mol,active\n"
      "LK2,2026,Bram Claes,KA Mol,lost\n"
      "LK3,2025,Els Maes,KA Mol,active\n"
      ",2026,Jan Smet,KA Mol,active\n"
      "LK 5,2026,Jan Smet,KA Mol,active\n"
      "LK1,2026,An Peeters,KA Mol,revoked\n"
      "LK7,2026,,KA Mol,active\n"
      "LK8,2026,Piet,KA Mol\n"
      "LK9,2026,Ann\xC3,KA Mol,active\n"
      "LK10,26,Ann,KA Mol,active\n",
      "cards.csv", 2026);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_EQ(r.error().message,
            "cards.csv: 9 bad rows; nothing was sent to Google (correct the file and run google sync again)\n"
            "  cards.csv:3:5 (status): 'lost' is not a status: write active or revoked\n"
            "  cards.csv:4:2 (year): card year 2025, but --year is 2026: sync each card year with its own "
            "file and --year\n"
            "  cards.csv:5:1 (serial): empty serial\n"
            "  cards.csv:6:1 (serial): 'LK 5' is not a card serial: 1-40 letters, digits, '-' or '_'\n"
            "  cards.csv:7:1 (serial): serial LK1 is already on line 2\n"
            "  cards.csv:8:3 (name): must not be empty\n"
            "  cards.csv:9: has 4 fields, the header has 5\n"
            "  cards.csv:10:3 (name): not valid UTF-8\n"
            "  cards.csv:11:2 (year): '26' is not a card year (four digits, such as 2026)");
}

TEST(GoogleCardsCsv, AHeaderWithoutTheColumnsIsRefusedNamingTheMissingOnes) {
  auto r = ReadCardsCsv("serial,naam,school,status\nLK1,An,KA Mol,active\n", "cards.csv", 2026);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "cards.csv:1: the header lacks column 'year', 'name' (expected serial,year,name,school,status); "
            "nothing was sent to Google");
  auto none = ReadCardsCsv("", "cards.csv", 2026);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message,
            "cards.csv:1: empty file: a header row serial,year,name,school,status is required; nothing was "
            "sent to Google");
}

// `google sync --cards FILE`: the cards of a CSV export instead of the ledger.
TEST_F(GoogleCliTest, CardsFileSyncsActiveAndRevokedRowsWithoutALedger) {
  const std::string y = std::to_string(year_);
  testing::WriteText(dir_ / "cards.csv",
                     "serial;year;name;school;status\n"
                     "LKA1;" +
                         y +
                         ";An Peeters;GO! Atheneum Gent;active\n"
                         "LKA2;" +
                         y +
                         ";Ömer Şahin;Sint-Lievenscollege;active\n"
                         "LKA3;" +
                         y + ";Els Maes;KA Mol;revoked\n");
  auto first = Run({"google", "sync", "--year", y, "--cards", (dir_ / "cards.csv").string()});
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_EQ(first.out,
            "class: created\ncards: 3 (created 2, updated 0, barcode rotated 0, revoked 0, expired 0, "
            "unchanged 0, skipped 1, failed 0)\n");
  auto objects = google_->objects();
  ASSERT_EQ(objects.size(), 2u) << "a revoked card never saved needs no object";
  const json& a2 = objects.at("3388000000012345678.LKA2");
  EXPECT_EQ(a2["state"], "ACTIVE");
  EXPECT_EQ(a2["header"]["defaultValue"]["value"], "Ömer Şahin");
  EXPECT_EQ(a2["textModulesData"][0]["body"], "Sint-Lievenscollege");
  EXPECT_EQ(objects.count("3388000000012345678.LKA3"), 0u);

  // The next export has LKA2 revoked: exactly that object goes INACTIVE.
  testing::WriteText(dir_ / "cards.csv",
                     "\xEF\xBB\xBFserial,year,name,school,status\n"
                     "LKA1," +
                         y +
                         ",An Peeters,GO! Atheneum Gent,active\n"
                         "LKA2," +
                         y +
                         ",Ömer Şahin,Sint-Lievenscollege,revoked\n"
                         "LKA3," +
                         y + ",Els Maes,KA Mol,revoked\n");
  auto second = Run({"google", "sync", "--year", y, "--cards", (dir_ / "cards.csv").string()});
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_EQ(second.out,
            "class: unchanged\ncards: 3 (created 0, updated 0, barcode rotated 0, revoked 1, expired 0, "
            "unchanged 1, skipped 1, failed 0)\n");
  EXPECT_EQ(google_->CountRequests("PATCH", "/walletobjects/v1/genericObject/3388000000012345678.LKA2"), 1u);
  EXPECT_EQ(google_->objects().at("3388000000012345678.LKA2")["state"], "INACTIVE");
  EXPECT_EQ(google_->objects().at("3388000000012345678.LKA1")["state"], "ACTIVE");
}

TEST_F(GoogleCliTest, ABadCardsFileIsRefusedWholeAndNothingReachesGoogle) {
  const std::string y = std::to_string(year_);
  const std::string file = (dir_ / "cards.csv").string();
  testing::WriteText(dir_ / "cards.csv",
                     "serial,year,name,school,status\n"
                     "LKB1," +
                         y +
                         ",An Peeters,KA Mol,active\n"
                         "LKB2," +
                         y + ",Bram Claes,KA Mol,gone\n");
  auto bad = Run({"google", "sync", "--year", y, "--cards", file});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.out, "");
  EXPECT_EQ(bad.err,
            "lerarenkaart: " + file +
                ": 1 bad row; nothing was sent to Google (correct the file and run google sync again)\n"
                "  " +
                file + ":3:5 (status): 'gone' is not a status: write active or revoked\n");
  EXPECT_TRUE(google_->requests().empty());

  // Limits before work: a file over 64 MiB is refused unread (a sparse file: nothing is written).
  std::filesystem::resize_file(dir_ / "cards.csv", (uintmax_t{64} << 20) + 1);
  auto huge = Run({"google", "sync", "--year", y, "--cards", file});
  EXPECT_EQ(huge.exit_code, 2);
  EXPECT_EQ(huge.err, "lerarenkaart: " + file +
                          ": 67108865 bytes, over the limit of 64 MiB for --cards (a card year's cards take "
                          "about 15 MiB): check that it is the cards export, or sync from the ledger\n");
  EXPECT_TRUE(google_->requests().empty());

  auto missing = Run({"google", "sync", "--year", y, "--cards", (dir_ / "nope.csv").string()});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("nope.csv"), std::string::npos) << missing.err;

  auto both = Run({"google", "sync", "--year", y, "--cards", file, "--ledger", (dir_ / "l.sqlite").string()});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.err.find("--ledger excludes --cards"), std::string::npos) << both.err;
  EXPECT_TRUE(google_->requests().empty());
  EXPECT_FALSE(std::filesystem::exists(dir_ / "l.sqlite"));
}

// `google sync` reads the cards of a year from a ledger, on every backend.
class GoogleLedgerSyncTest : public GoogleCliTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    GoogleCliTest::SetUp();
    if (HasFatalFailure()) return;
    backend_ = std::make_unique<ledger::testing::Backend>(GetParam(), dir_.path());
    if (!backend_->available()) {
      if (std::getenv("LK_TEST_POSTGRES_URL")) FAIL() << backend_->reason();
      GTEST_SKIP() << backend_->reason();
    }
    auto options = backend_->options();
    options.keys_dir = keys_.dir;
    auto opened = ledger::OpenLedger(options, clock_real_);
    ASSERT_TRUE(opened) << opened.error().message;
    ledger_ = std::move(*opened);
    std::string y = std::to_string(year_);
    testing::WriteText(
        dir_ / "roster.csv",
        "staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter\n"
        "S1,An,Peeters,teaching,GO,secondary,012345,9000,no\n"
        "S2,Ömer,Şahin,teaching,VGO,basic,047712,2000,no\n"
        "S3,Zoë,Dubois,support,OGO,secondary,128001,1000,no\n"
        "S4,Bram,Claes,teaching,GO,basic,012345,9000,no\n");
    ASSERT_TRUE(ledger_->imports().ImportRoster(dir_ / "roster.csv", year_));
    auto codes = ledger_->access().CreateClaimCodes(dir_ / "roster.csv", year_,
                                                    clock_real_.Now() + std::chrono::days(30));
    ASSERT_TRUE(codes) << codes.error().message;
    // S4 holds only a subscription card: not digital, so no Google object.
    testing::WriteText(dir_ / "subscriptions.csv", "staff_id,date\nS4," + y + "-01-15\n");
    auto sub =
        ledger_->imports().ImportChannel(ledger::Channel::kSubscription, dir_ / "subscriptions.csv", year_);
    ASSERT_TRUE(sub) << sub.error().message;
    auto issued = ledger_->cards().IssueDigitalBatch({"S1", "S2", "S3"}, year_);
    ASSERT_TRUE(issued) << issued.error().message;
    for (const auto& c : *issued) serials_.push_back(c.serial);
  }
  testing::RunResult Sync() {
    return Run({"google", "sync", "--year", std::to_string(year_), "--ledger", backend_->url()});
  }
  std::string Id(size_t i) const { return "3388000000012345678." + serials_.at(i); }
  size_t PatchesOf(const std::string& id, size_t since) const {
    size_t n = 0;
    auto all = google_->requests();
    for (size_t i = since; i < all.size(); ++i)
      if (all[i].method == "PATCH" && all[i].path.ends_with("/genericObject/" + id)) ++n;
    return n;
  }

  SystemClock clock_real_;
  std::unique_ptr<ledger::testing::Backend> backend_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::vector<std::string> serials_;  // S1, S2, S3
};

TEST_P(GoogleLedgerSyncTest, CreatesRevokesAndRotatesFromTheLedger) {
  // First run: S2's object cannot be read (403 is not retried): reported, the others proceed, exit 1.
  google_->AddFault({"/walletobjects/v1/genericObject/" + Id(1), 403, "", milliseconds(0), false, 1});
  auto first = Sync();
  EXPECT_EQ(first.exit_code, 1) << first.err;
  EXPECT_NE(first.out.find(
                "class: created\ncards: 3 (created 2, updated 0, barcode rotated 0, revoked 0, expired 0, "
                "unchanged 0, skipped 0, failed 1)\nerror: " +
                serials_[1] + ": "),
            std::string::npos)
      << first.out;
  // Google's refusal is logged; no progress bar when stderr is not a terminal.
  EXPECT_EQ(first.err, "lerarenkaart: google: GET " + google_->api_url() + "/genericObject/" + Id(1) +
                           ": HTTP 403 stand-in fault 403\n");
  EXPECT_EQ(google_->objects().size(), 2u);

  auto second = Sync();
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_EQ(second.out,
            "class: unchanged\ncards: 3 (created 1, updated 0, barcode rotated 0, revoked 0, expired 0, "
            "unchanged 2, skipped 0, failed 0)\n");
  auto objects = google_->objects();
  ASSERT_EQ(objects.size(), 3u);
  const json& s2 = objects.at(Id(1));
  EXPECT_EQ(s2["header"]["defaultValue"]["value"], "Ömer Şahin");
  EXPECT_EQ(s2["textModulesData"][0]["body"], "School 047712");
  EXPECT_EQ(s2["state"], "ACTIVE");
  EXPECT_EQ(s2["classId"], "3388000000012345678.lerarenkaart-" + std::to_string(year_));

  // Revoke S3 in the ledger: the next sync patches exactly that object, to INACTIVE.
  ASSERT_TRUE(ledger_->cards().Revoke(serials_[2], "lost"));
  size_t before = google_->requests().size();
  auto third = Sync();
  ASSERT_EQ(third.exit_code, 0) << third.out << third.err;
  EXPECT_EQ(third.out,
            "class: unchanged\ncards: 3 (created 0, updated 0, barcode rotated 0, revoked 1, expired 0, "
            "unchanged 2, skipped 0, failed 0)\n");
  EXPECT_EQ(google_->CountRequests("PATCH", "/"), 1u);
  EXPECT_EQ(PatchesOf(Id(2), before), 1u);
  EXPECT_EQ(google_->objects().at(Id(2))["state"], "INACTIVE");
  EXPECT_EQ(google_->objects().at(Id(0))["state"], "ACTIVE");

  // Rotate the token key: the active cards' barcodes are re-signed with the new key; the revoked
  // card's object keeps its old barcode.
  std::string old_barcode = google_->objects().at(Id(2))["barcode"]["value"];
  auto rotated = Run0({"keys", "rotate"});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  before = google_->requests().size();
  auto fourth = Sync();
  ASSERT_EQ(fourth.exit_code, 0) << fourth.out << fourth.err;
  EXPECT_EQ(fourth.out,
            "class: unchanged\ncards: 3 (created 0, updated 0, barcode rotated 2, revoked 0, expired 0, "
            "unchanged 1, skipped 0, failed 0)\n");
  EXPECT_EQ(PatchesOf(Id(0), before) + PatchesOf(Id(1), before), 2u);
  EXPECT_EQ(PatchesOf(Id(2), before), 0u);
  auto ring = signing::Keyring::Open(keys_);
  ASSERT_TRUE(ring);
  std::string new_kid;
  for (const auto& k : (*ring)->List())
    if (k.active) new_kid = k.kid;
  auto verifier = signing::TokenVerifier::Create((*ring)->Published(clock_real_.Now()), policy_);
  for (size_t i : {0u, 1u}) {
    auto v = verifier->Verify(google_->objects().at(Id(i))["barcode"]["value"].get<std::string>(),
                              clock_real_.Now());
    EXPECT_TRUE(v.valid) << v.reason;
    EXPECT_EQ(v.kid, new_kid);
    EXPECT_EQ(v.serial, serials_[i]);
  }
  EXPECT_EQ(google_->objects().at(Id(2))["barcode"]["value"], old_barcode);
}

TEST_P(GoogleLedgerSyncTest, LedgerListsTheDigitalCardsOfOneYear) {
  std::vector<::lk::Card> rows;
  auto r = ledger_->cards().ForEachDigitalCard(year_, [&](const ::lk::Card& c) { rows.push_back(c); });
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(rows.size(), 3u) << "S4's subscription card is not digital";
  EXPECT_TRUE(std::is_sorted(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.serial < b.serial; }));
  auto s2 = std::find_if(rows.begin(), rows.end(), [&](auto& c) { return c.serial == serials_[1]; });
  ASSERT_NE(s2, rows.end());
  EXPECT_EQ(s2->year, year_);
  EXPECT_EQ(s2->holder_name, "Ömer Şahin");
  EXPECT_EQ(s2->school, "047712");
  EXPECT_FALSE(s2->revoked);
  EXPECT_EQ(s2->issued_on, FormatIsoDate(BrusselsDate(clock_real_.Now())));
  ASSERT_TRUE(ledger_->cards().Revoke(serials_[1], "lost"));
  rows.clear();
  ASSERT_TRUE(ledger_->cards().ForEachDigitalCard(year_, [&](const ::lk::Card& c) { rows.push_back(c); }));
  EXPECT_EQ(std::count_if(rows.begin(), rows.end(), [](auto& c) { return c.revoked; }), 1);
  rows.clear();
  ASSERT_TRUE(
      ledger_->cards().ForEachDigitalCard(year_ + 1, [&](const ::lk::Card& c) { rows.push_back(c); }));
  EXPECT_TRUE(rows.empty());
}

TEST_P(GoogleLedgerSyncTest, DrawsAProgressBarOnATerminal) {
  // Python's pty module gives the command a terminal and copies what it draws to our stdout.
  std::vector<std::string> argv = {"/usr/bin/python3",
                                   "-c",
                                   "import os, pty, sys; s = pty.spawn(sys.argv[1:]); "
                                   "sys.exit(os.waitstatus_to_exitcode(s))",
                                   testing::Binary(),
                                   "--data-dir",
                                   data_.string(),
                                   "google",
                                   "sync",
                                   "--year",
                                   std::to_string(year_),
                                   "--ledger",
                                   backend_->url(),
                                   "--issuer-id",
                                   "3388000000012345678",
                                   "--token-url",
                                   google_->token_url(),
                                   "--api-url",
                                   google_->api_url()};
  auto r = testing::RunProgram(argv);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("] 1/3 cards"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\r[########################################] 3/3 cards"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cards: 3 (created 3,"), std::string::npos) << r.out;
}

TEST_P(GoogleLedgerSyncTest, ConfigurationFileAndEnvironmentSupplyTheGoogleSettings) {
  // No Google flags: [google] in the TOML file, the API URL from the environment.
  testing::WriteText(dir_ / "lk.toml",
                     "[google]\nissuer_id = \"3388000000099999999\"\nclass_prefix = \"lk-test-\"\n"
                     "token_url = \"" +
                         google_->token_url() +
                         "\"\n"
                         "api_url = \"http://127.0.0.1:1/unused\"\ntimeout_seconds = 5\n");
  auto r =
      testing::RunProgram({"/usr/bin/env", "LK_GOOGLE_API_URL=" + google_->api_url(), testing::Binary(),
                           "--data-dir", data_.string(), "--config", (dir_ / "lk.toml").string(), "google",
                           "sync", "--year", std::to_string(year_), "--ledger", backend_->url()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("cards: 3 (created 3,"), std::string::npos) << r.out;
  EXPECT_EQ(google_->classes().count("3388000000099999999.lk-test-" + std::to_string(year_)), 1u);
  EXPECT_EQ(google_->objects().count("3388000000099999999." + serials_[0]), 1u);

  testing::WriteText(dir_ / "bad.toml", "[google]\nmax_attempts = 0\n");
  auto bad =
      testing::RunProgram({testing::Binary(), "--data-dir", data_.string(), "--config",
                           (dir_ / "bad.toml").string(), "google", "sync", "--year", std::to_string(year_)});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("bad.toml: 'google.max_attempts' must be a whole number from 1 to 10"),
            std::string::npos)
      << bad.err;
  auto none = testing::RunProgram({testing::Binary(), "--data-dir", data_.string(), "google", "sync",
                                   "--year", std::to_string(year_), "--ledger", backend_->url()});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("no Google Wallet issuer id"), std::string::npos) << none.err;
}

INSTANTIATE_TEST_SUITE_P(Backends, GoogleLedgerSyncTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace lk::passgen
