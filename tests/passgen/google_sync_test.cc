// Sync against the stand-in Google: creation, revocation, expiry, key rotation, changed names,
// per-card failures, the CSV input, and the CLI end to end (link and sync).
#include <random>

#include <nlohmann/json.hpp>

#include "tests/passgen/google_fixture.h"

namespace lk::passgen {
namespace {
using json = nlohmann::json;
using std::chrono::milliseconds;

class GoogleSyncTest : public GoogleTest {
 protected:
  Result<SyncSummary> RunSync(const std::vector<GoogleCard>& cards, SyncOptions options = {}) {
    auto api = Client();
    return Sync(*api, config_, design_, *issuer_, *verifier_, policy_, 2026, cards, clock_.Now(), options);
  }
  std::vector<GoogleCard> cards_ = {Card("LK1"), Card("LK2", "Ömer Şahin", "Sint-Lievenscollege"),
                                    Card("LK3", "Zoë Dubois", "Athénée royal d'Uccle"),
                                    {"LK4", 2026, "Bram Claes", "KA Mol", CardStatus::kRevoked},
                                    {"OLD", 2025, "Els Maes", "KA Mol", CardStatus::kActive}};
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
            "class: unchanged\ncards: 4 (created 0, updated 0, barcode rotated 0, revoked 0, expired 0, unchanged 3, "
            "skipped 1, failed 0)\nignored: 1 cards of other years\n");
}

TEST_F(GoogleSyncTest, RevokedCardBecomesInactive) {
  ASSERT_TRUE(RunSync(cards_));
  cards_[1].status = CardStatus::kRevoked;
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
  EXPECT_EQ(google_->objects().at("3388000000012345678.LK3")["textModulesData"][0]["body"], "Sint-Jozefscollege Aalst");
  EXPECT_TRUE(verifier_->Verify(google_->objects().at("3388000000012345678.LK1")["barcode"]["value"].get<std::string>(),
                                clock_.Now()).valid);
}

TEST_F(GoogleSyncTest, OneFailingCardIsCountedAndTheOthersProceed) {
  config_.max_attempts = 2;
  google_->AddFault({"/walletobjects/v1/genericObject/3388000000012345678.LK2", 500, "", milliseconds(0), false, 10});
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
  EXPECT_TRUE(s.error().message.starts_with("class 3388000000012345678.lerarenkaart-2026: GET")) << s.error().message;
  EXPECT_TRUE(google_->objects().empty());
}

TEST_F(GoogleSyncTest, ManyCardsInParallelWithThrottlingAllArrive) {
  std::vector<GoogleCard> many;
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

TEST(GoogleCardsCsv, ParsesQuotedUtf8Rows) {
  auto cards = ParseCardsCsv(
      "serial,year,name,school,status\r\n"
      "LK1,2026,\"Peeters, An\",\"GO! \"\"De Regenboog\"\"\",active\r\n"
      "LK2,2026,Zoë Dubois,Athénée,revoked\n\n",
      "cards.csv");
  ASSERT_TRUE(cards) << cards.error().message;
  ASSERT_EQ(cards->size(), 2u);
  EXPECT_EQ((*cards)[0].holder_name, "Peeters, An");
  EXPECT_EQ((*cards)[0].school, "GO! \"De Regenboog\"");
  EXPECT_EQ((*cards)[1].status, CardStatus::kRevoked);
  EXPECT_EQ((*cards)[1].holder_name, "Zoë Dubois");
}

TEST(GoogleCardsCsv, BadInputNamesFileLineAndField) {
  auto err = [](std::string text) { return ParseCardsCsv(text, "c.csv").error().message; };
  EXPECT_EQ(err("serial,name\n"), "c.csv:1: the header must be exactly serial,year,name,school,status");
  EXPECT_EQ(err("serial,year,name,school,status\nLK1,2026,An,GO,active\nLK2,26,An,GO,active\n"),
            "c.csv:3: field 'year': '26' is not a four-digit year");
  EXPECT_EQ(err("serial,year,name,school,status\nLK1,2026,An,GO,lost\n"),
            "c.csv:2: field 'status': 'lost' must be active or revoked");
  EXPECT_EQ(err("serial,year,name,school,status\nLK1,2026,An,GO\n"),
            "c.csv:2: 4 fields, expected 5 (serial,year,name,school,status)");
  EXPECT_EQ(err("serial,year,name,school,status\nLK1,2026,An,GO,active\nLK1,2026,Jo,GO,active\n"),
            "c.csv:3: field 'serial': 'LK1' appears twice");
  EXPECT_EQ(err("serial,year,name,school,status\nLK1,2026,,GO,active\n"), "c.csv:2: field name: must not be empty");
  EXPECT_EQ(err("serial,year,name,school,status\nLK1,2026,\"An,GO,active\n"), "c.csv:2: unterminated quoted field");
  EXPECT_EQ(err("serial,year,name,school,status\nLK1,2026,\"An\"x,GO,active\n"), "c.csv:2: text after a closing '\"'");
}

TEST(GoogleCardsCsv, MangledInputIsRejectedWholeOrParsedWhole) {
  const std::string good =
      "serial,year,name,school,status\nLK1,2026,\"Peeters, An\",GO,active\nLK2,2026,Zoë,\"A \"\"B\"\"\",revoked\n";
  uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const char alphabet[] = {',', '"', '\n', '\r', 'a', '\xC3', '\xA9', '\0', ' ', '2'};
  for (int round = 0; round < 3000; ++round) {
    std::string text = good;
    for (int k = 0, n = int(rng() % 4) + 1; k < n; ++k) {
      size_t at = rng() % text.size();
      switch (rng() % 3) {
        case 0: text[at] = alphabet[rng() % sizeof alphabet]; break;
        case 1: text.insert(at, 1, alphabet[rng() % sizeof alphabet]); break;
        default: text.erase(at, 1);
      }
    }
    auto cards = ParseCardsCsv(text, "c.csv");
    if (cards) {
      for (const auto& c : *cards) ASSERT_TRUE(ValidateCard(c)) << text;
    } else {
      ASSERT_EQ(cards.error().code, Code::kInvalidArgument);
      ASSERT_TRUE(cards.error().message.starts_with("c.csv:")) << cards.error().message;
    }
  }
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
    std::vector<std::string> google = {"--issuer-id", "3388000000012345678", "--token-url", google_->token_url(),
                                       "--api-url",   google_->api_url(),    "--timeout",   "5"};
    argv.insert(argv.end(), google.begin(), google.end());
    return testing::RunProgram(argv);
  }
  std::filesystem::path data_;
  int year_ = 0;
};

TEST_F(GoogleCliTest, LinkCommandCreatesTheObjectAndPrintsASkinnyLinkForLongNames) {
  std::string name, school;
  for (int i = 0; i < 100; ++i) name += "Åé";       // 200 characters, 400 bytes
  for (int i = 0; i < 200; ++i) school += "漢";     // 200 characters, 600 bytes
  auto r = Run({"pass", "google-link", "--serial", std::string(40, 'Q'), "--year", std::to_string(year_), "--name",
                name, "--school", school});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string link = r.out.substr(0, r.out.find('\n'));
  EXPECT_TRUE(link.starts_with("https://pay.google.com/gp/v/save/"));
  EXPECT_LT(link.size(), kMaxSaveLinkChars);
  EXPECT_NE(r.err.find("object 3388000000012345678." + std::string(40, 'Q') + ": created"), std::string::npos) << r.err;
  json o = google_->objects().at("3388000000012345678." + std::string(40, 'Q'));
  EXPECT_EQ(o["header"]["defaultValue"]["value"], name);
  EXPECT_EQ(o["textModulesData"][0]["body"], school);

  auto full = Run({"pass", "google-link", "--full", "--serial", "LK9", "--year", std::to_string(year_), "--name", name,
                   "--school", school});
  EXPECT_EQ(full.exit_code, 1);
  EXPECT_NE(full.err.find("over Google's limit of 1800"), std::string::npos) << full.err;

  auto bad = Run({"pass", "google-link", "--serial", "LK9", "--year", std::to_string(year_), "--name", name + "x",
                  "--school", school});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err, "lerarenkaart: name: 201 characters, at most 200 allowed\n");
}

TEST_F(GoogleCliTest, SyncCommandPrintsASummaryAndNoProgressBarWhenNotATerminal) {
  std::string y = std::to_string(year_);
  testing::WriteText(dir_ / "cards.csv", "serial,year,name,school,status\nA1," + y + ",An,GO,active\nA2," + y +
                                             ",Jo,GO,active\nA3," + y + ",Els,GO,revoked\n");
  auto r = Run({"google", "sync", "--year", y, "--cards", (dir_ / "cards.csv").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "class: created\ncards: 3 (created 2, updated 0, barcode rotated 0, revoked 0, expired 0, "
                   "unchanged 0, skipped 1, failed 0)\n");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(google_->objects().size(), 2u);

  testing::WriteText(dir_ / "bad.csv", "serial,year,name,school,status\nA1,2026,An,GO,maybe\n");
  auto bad = Run({"google", "sync", "--year", y, "--cards", (dir_ / "bad.csv").string()});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("bad.csv:2: field 'status'"), std::string::npos) << bad.err;
}

TEST_F(GoogleCliTest, SyncDrawsAProgressBarOnATerminal) {
  std::string y = std::to_string(year_);
  testing::WriteText(dir_ / "cards.csv", "serial,year,name,school,status\nA1," + y + ",An,GO,active\nA2," + y +
                                             ",Jo,GO,active\n");
  // Python's pty module gives the command a terminal and copies what it draws to our stdout.
  std::vector<std::string> argv = {"/usr/bin/python3", "-c",
                                   "import os, pty, sys; s = pty.spawn(sys.argv[1:]); "
                                   "sys.exit(os.waitstatus_to_exitcode(s))",
                                   testing::Binary(), "--data-dir", data_.string(), "google", "sync", "--year", y,
                                   "--cards", (dir_ / "cards.csv").string(), "--issuer-id", "3388000000012345678",
                                   "--token-url", google_->token_url(), "--api-url", google_->api_url()};
  auto r = testing::RunProgram(argv);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("\r[####################                    ] 1/2 cards"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\r[########################################] 2/2 cards"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cards: 2 (created 2,"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace lk::passgen
