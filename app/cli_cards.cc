// `lerarenkaart cards refresh`: after `keys rotate`, re-sign every active digital card's QR token
// with the new active key, so that the passes in the wallets carry it. Each refreshed card's pass
// is marked updated and queued for a push (a running `serve` pushes it), and its Google object's
// barcode is patched when [google] use_api is on. Resumable: a card whose token the active key
// already signed is skipped, so a run cut short is finished by running it again. Tokens signed by
// the old key keep verifying until they expire (the old key stays published).
//
// `lerarenkaart cards renew --year Y`: the new card year in the same wallet entry
// (ledger Cards::RenewDigital), in batches, each pushed and patched at Google like a refresh.
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

// The Google side of a run's summary, when [google] use_api is on.
void PrintGoogle(const GoogleCardPatcher& g, const std::string& repair) {
  std::printf("google: %lld objects patched, %lld cards never saved to Google Wallet, %lld failed%s\n",
              static_cast<long long>(g.patched), static_cast<long long>(g.not_saved),
              static_cast<long long>(g.failed),
              g.failed ? (" (each logged above; run `" + repair + "` to repair them)").c_str() : "");
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
  auto google = GoogleCardPatcher::Open(*c, clock);
  if (!google) return Report(google.error());
  int64_t refreshed = 0, current_already = 0, revoked = 0, expired = 0, renewed = 0;
  for (int year : years) {
    std::vector<std::string> serials;
    if (auto r = (*l)->cards().ForEachDigitalCard(year,
                                                  [&](const Card& card) {
                                                    if (card.revoked)
                                                      ++revoked;
                                                    else if (!card.renewed_by.empty())
                                                      ++renewed;  // in no wallet any more
                                                    else
                                                      serials.push_back(card.serial);
                                                  });
        !r)
      return Report(r.error());
    ProgressBar bar("cards refresh " + std::to_string(year), "cards");
    std::vector<std::pair<std::string, std::string>> batch;
    std::vector<std::pair<Card, std::string>> patches;  // Google: each re-signed card's new barcode
    auto flush = [&]() -> Result<> {
      if (batch.empty()) return {};
      auto n = (*l)->pass_updates().ReplaceTokens(batch, now);
      if (!n) return std::unexpected(n.error());
      refreshed += *n;
      batch.clear();
      if (*google) (*google)->Patch(patches);
      patches.clear();
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
          if (*google)
            patches.emplace_back(
                *card,
                nlohmann::json{
                    {"barcode", {{"type", "QR_CODE"}, {"value", *token}, {"alternateText", card->serial}}}}
                    .dump());
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
      "it, %lld revoked left alone, %lld of a card year no longer issued, %lld renewed into a later card "
      "year left alone\n",
      static_cast<long long>(refreshed), kid.c_str(), static_cast<long long>(current_already),
      static_cast<long long>(revoked), static_cast<long long>(expired), static_cast<long long>(renewed));
  if (*google) {
    std::string hint;  // one `google sync` per card year (it takes one)
    for (int y : years)
      hint +=
          std::string(hint.empty() ? "" : "` and `") + "lerarenkaart google sync --year " + std::to_string(y);
    PrintGoogle(**google, hint);
  }
  if (refreshed > 0)
    std::printf("running services: send SIGHUP so that they verify the new tokens (see docs/signing.md)\n");
  return 0;
}

struct RenewArgs {
  int year = 0;
  std::string ledger_url;
  int batch = 1000;
  bool early = false;
};

int Renew(const Globals& g, const RenewArgs& a) {
  auto c = Load(g);
  if (!c) return Report(c.error());
  SystemClock clock;
  const Time now = clock.Now();
  const signing::Validity validity = signing::CardYearValidity(a.year, c->tokens);
  if (now < validity.not_before && !a.early)
    return Report(
        {Code::kFailedPrecondition,
         "card year " + std::to_string(a.year) + " begins on 1 January " + std::to_string(a.year) +
             ": a card renewed now would show partners a card that is not yet valid until then. Run "
             "`cards renew` on or after that day, or pass --early to renew now anyway"});
  if (std::string w = PassTemplateWarning(*c, a.year); !w.empty())
    return Report(
        {Code::kFailedPrecondition,
         w + "; the renewed passes could not be built, so nothing was renewed: add the template first"});
  auto issuer = OpenTokenIssuer(*c);
  if (!issuer) return Report(issuer.error());
  auto l = OpenConfiguredLedger(*c, a.ledger_url, LedgerUse::kExisting, clock);
  if (!l) return Report(l.error());
  auto google = GoogleCardPatcher::Open(*c, clock);
  if (!google) return Report(google.error());
  auto before = (*l)->cards().RenewalStatus(a.year);
  if (!before) return Report(before.error());
  const signing::TokenIssuer& signer = **issuer;
  ledger::TokenSigner sign = [&](const std::string& serial, int year) {
    return signer.Issue(serial, year, now);
  };
  ProgressBar bar("cards renew " + std::to_string(a.year), "cards");
  int64_t renewed = 0;
  std::string cursor;
  for (;;) {
    auto batch = (*l)->cards().RenewDigital(a.year, static_cast<size_t>(a.batch), sign, now, &cursor);
    if (!batch) {
      bar.Clear();
      if (renewed > 0)
        std::fprintf(stderr,
                     "lerarenkaart: %lld cards were renewed before this error; run the command again "
                     "to renew the rest\n",
                     static_cast<long long>(renewed));
      return Report(batch.error());
    }
    if (batch->empty()) break;
    renewed += static_cast<int64_t>(batch->size());
    if (*google) {
      std::vector<std::pair<Card, std::string>> patches;
      patches.reserve(batch->size());
      for (const Card& fresh : *batch) {
        auto card = (*l)->cards().FindCard(fresh.serial);  // name and school, as the object shows them
        if (!card) return Report(card.error());
        std::string patch = (*google)->CardPatch(*card, fresh.token);
        patches.emplace_back(std::move(*card), std::move(patch));
      }
      (*google)->Patch(patches);
    }
    bar.Update(static_cast<uint64_t>(renewed), static_cast<uint64_t>(std::max(before->to_renew, renewed)));
  }
  bar.Clear();
  auto after = (*l)->cards().RenewalStatus(a.year);
  if (!after) return Report(after.error());
  const std::string y = std::to_string(a.year), prev = std::to_string(a.year - 1);
  std::printf(
      "cards renew %s: %lld renewed in the same wallet entry (passes queued for a push), %lld renewed "
      "before, "
      "%lld hold a %s card of their own, %lld not on the %s roster keep their %s card until it expires\n",
      y.c_str(), static_cast<long long>(renewed), static_cast<long long>(after->renewed - renewed),
      static_cast<long long>(after->own_card), y.c_str(), static_cast<long long>(after->not_on_roster),
      y.c_str(), prev.c_str());
  if (*google) PrintGoogle(**google, "lerarenkaart google sync --year " + y);
  if (now < validity.not_before)
    std::printf(
        "note: card year %s has not begun: partners' scanners answer not yet valid until 1 January %s\n",
        y.c_str(), y.c_str());
  return 0;
}

}  // namespace

void AddCardsCommands(CLI::App& app, Globals& g, int& exit_code) {
  auto* cards = app.add_subcommand(
      "cards",
      "Operations on every card: refresh tokens after a key rotation, renew into the next card year");
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

  auto r = std::make_shared<RenewArgs>();
  auto* renew = cards->add_subcommand(
      "renew",
      "The new card year in the same wallet entry: every holder of an active digital card of year Y-1 who "
      "is\n"
      "on the roster of year Y (import it first) and has no card of Y gets the card of Y in the wallet "
      "entry\n"
      "they already have: the Apple pass keeps its serial number and is pushed, the Google object keeps its\n"
      "id and is patched ([google] use_api), the QR token is one of year Y. The card of Y-1 stays valid and\n"
      "counted in Y-1. Idempotent and resumable: run it again to finish a run cut short; it renews nobody\n"
      "twice. Refuses before 1 January of Y unless --early, and when no pass template covers Y.");
  renew->add_option("--year", r->year, "The new card year Y (cards of Y-1 are renewed into it)")
      ->required()
      ->check(CLI::Range(2001, 2199));
  renew->add_option("--ledger", r->ledger_url, "Ledger: a SQLite file path or a postgresql:// URL");
  renew->add_option("--batch", r->batch, "Cards per ledger write (default 1000)")
      ->check(CLI::Range(1, 100000));
  renew->add_flag("--early", r->early,
                  "Renew before 1 January of Y (partners' scanners answer 'not yet valid' until then)");
  renew->callback([&, r] { exit_code = Renew(g, *r); });
}

}  // namespace lk::app
