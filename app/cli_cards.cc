// `lerarenkaart cards refresh`: after `keys rotate`, re-sign every active digital card's QR token
// with the new active key, so that the passes in the wallets carry it. Each refreshed card's pass
// is marked updated and queued for a push (a running `serve` pushes it). Resumable: a card whose
// token the active key already signed is skipped, so a run cut short is finished by running it
// again. Tokens signed by the old key keep verifying until they expire (the old key stays published).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "app/progress.h"
#include "ledger/ledger.h"

namespace lk::app {
namespace {

// The kid in a compact JWS's protected header, or "".
std::string TokenKid(std::string_view token) {
  auto dot = token.find('.');
  if (dot == std::string_view::npos) return "";
  auto header = Base64UrlDecode(token.substr(0, dot));
  if (!header) return "";
  auto j = nlohmann::json::parse(*header, nullptr, false);
  return j.is_object() && j.contains("kid") && j["kid"].is_string() ? j["kid"].get<std::string>() : "";
}

struct RefreshArgs {
  std::vector<int> years;
  std::string ledger_url;
  int batch = 1000;
};

int Refresh(const Globals& g, const RefreshArgs& a) {
  auto c = Load(g);
  if (!c) return Report(c.error());
  SystemClock clock;
  auto issuer = OpenTokenIssuer(*c);
  if (!issuer) return Report(issuer.error());
  auto l = OpenConfiguredLedger(*c, a.ledger_url, LedgerUse::kExisting, clock);
  if (!l) return Report(l.error());
  const Time now = clock.Now();
  std::vector<int> years = a.years;
  if (years.empty()) {  // every card year whose tokens can still be valid now
    const int current = int(BrusselsDate(now).year());
    for (int y : {current - 1, current, current + 1})
      if (signing::CardYearValidity(y, c->tokens).expires > now) years.push_back(y);
  }
  const std::string& kid = (*issuer)->kid();
  int64_t refreshed = 0, current_already = 0, revoked = 0, expired = 0;
  for (int year : years) {
    std::vector<std::string> serials;
    if (auto r = (*l)->cards().ForEachDigitalCard(year,
                                                  [&](const Card& card) {
                                                    if (card.revoked)
                                                      ++revoked;
                                                    else
                                                      serials.push_back(card.serial);
                                                  });
        !r)
      return Report(r.error());
    ProgressBar bar("cards refresh " + std::to_string(year), "cards");
    std::vector<std::pair<std::string, std::string>> batch;
    auto flush = [&]() -> Result<> {
      if (batch.empty()) return {};
      auto n = (*l)->pass_updates().ReplaceTokens(batch, now);
      if (!n) return std::unexpected(n.error());
      refreshed += *n;
      batch.clear();
      return {};
    };
    for (size_t i = 0; i < serials.size(); ++i) {
      auto card = (*l)->cards().FindCard(serials[i]);
      if (!card) return Report(card.error());
      if (!card->token.empty() && TokenKid(card->token) == kid) {
        ++current_already;  // signed by the active key: done by an earlier run
      } else {
        auto token = (*issuer)->Issue(card->serial, year, now);
        if (!token) {
          if (token.error().code != Code::kInvalidArgument) return Report(token.error());
          ++expired;  // a card year the signer no longer issues for
        } else {
          batch.emplace_back(card->serial, std::move(*token));
          if (batch.size() >= static_cast<size_t>(a.batch))
            if (auto r = flush(); !r) return Report(r.error());
        }
      }
      bar.Update(i + 1, serials.size());
    }
    if (auto r = flush(); !r) return Report(r.error());
    bar.Clear();
  }
  std::printf(
      "cards refresh: %lld re-signed with key %s (their passes queued for a push), %lld already signed by "
      "it, %lld revoked left alone, %lld of a card year no longer issued\n",
      static_cast<long long>(refreshed), kid.c_str(), static_cast<long long>(current_already),
      static_cast<long long>(revoked), static_cast<long long>(expired));
  if (refreshed > 0)
    std::printf("running services: send SIGHUP so that they verify the new tokens (see docs/signing.md)\n");
  return 0;
}

}  // namespace

void AddCardsCommands(CLI::App& app, Globals& g, int& exit_code) {
  auto* cards = app.add_subcommand("cards", "Operations on every card: refresh tokens after a key rotation");
  cards->require_subcommand(1);
  auto a = std::make_shared<RefreshArgs>();
  auto* cmd = cards->add_subcommand(
      "refresh",
      "Re-sign every active digital card's QR token with the active key (after `keys rotate`), mark the\n"
      "passes updated and queue their push (a running serve pushes them). Resumable: cards the active key\n"
      "already signed are skipped. Old tokens keep verifying until they expire.");
  cmd->add_option("--year", a->years,
                  "Card year(s) to refresh (default: every year whose tokens are valid now)")
      ->check(CLI::Range(2000, 2199));
  cmd->add_option("--ledger", a->ledger_url, "Ledger: a SQLite file path or a postgresql:// URL");
  cmd->add_option("--batch", a->batch, "Cards per ledger write (default 1000)")->check(CLI::Range(1, 100000));
  cmd->callback([&, a] { exit_code = Refresh(g, *a); });
}

}  // namespace lk::app
