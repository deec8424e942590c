// Keeping Google Wallet objects current: the year's class, each card's object (state, barcode,
// texts), and the sync over a list of cards.
#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "passgen/google_wallet.h"
#include "passgen/internal/google_json.h"

namespace lk::passgen {
using json = nlohmann::json;

namespace {

// Fields of an object that sync owns; anything else Google or others set is left alone.
constexpr const char* kOwnedFields[] = {
    "cardTitle", "subheader", "header", "textModulesData", "hexBackgroundColor", "validTimeInterval", "logo"};

std::string_view DesiredState(const Card& card, const signing::TokenPolicy& policy, Time now) {
  if (card.revoked) return "INACTIVE";
  if (now >= signing::CardYearValidity(card.year, policy).expires) return "EXPIRED";
  return "ACTIVE";
}

// True when `barcode` is a QR code whose value verifies now as this card's token under the
// active key, so that it need not be replaced.
bool BarcodeCurrent(const json& barcode, const Card& card, const signing::TokenIssuer& issuer,
                    const signing::TokenVerifier& verifier, Time now) {
  if (!barcode.is_object() || barcode.value("type", "") != "QR_CODE" || !barcode.contains("value") ||
      !barcode["value"].is_string() || barcode.value("alternateText", "") != card.serial)
    return false;
  auto v = verifier.Verify(barcode["value"].get<std::string>(), now);
  return v.valid && v.kid == issuer.kid() && v.serial == card.serial && v.year == card.year;
}

}  // namespace

std::string_view CardOutcomeName(CardOutcome o) {
  switch (o) {
    case CardOutcome::kCreated:
      return "created";
    case CardOutcome::kUpdated:
      return "updated";
    case CardOutcome::kBarcodeRotated:
      return "barcode rotated";
    case CardOutcome::kRevoked:
      return "revoked";
    case CardOutcome::kExpired:
      return "expired";
    case CardOutcome::kUnchanged:
      return "unchanged";
    case CardOutcome::kSkipped:
      return "skipped";
  }
  return "?";
}

Result<ClassOutcome> UpsertClass(WalletApi& api, const GoogleWalletConfig& config,
                                 const GoogleCardDesign& design, int year) {
  std::string id = ClassId(config, year);
  std::string body = GenericClassJson(config, design, year);
  auto current = api.GetClass(id);
  if (!current) {
    if (current.error().code != Code::kNotFound) return std::unexpected(current.error());
    auto r = api.InsertClass(body);
    if (r) return ClassOutcome::kCreated;
    if (r.error().code != Code::kAlreadyExists) return std::unexpected(r.error());
    return ClassOutcome::kUnchanged;  // created meanwhile by another run
  }
  auto have = internal::ParseJson(*current, "class " + id);
  if (!have) return std::unexpected(have.error());
  internal::StripKind(*have);
  json want = json::parse(body);
  for (auto& [key, value] : want.items())
    if (!have->contains(key) || (*have)[key] != value) {
      if (auto r = api.UpdateClass(id, body); !r) return std::unexpected(r.error());
      return ClassOutcome::kUpdated;
    }
  return ClassOutcome::kUnchanged;
}

Result<CardOutcome> SyncCard(WalletApi& api, const GoogleWalletConfig& config, const GoogleCardDesign& design,
                             const signing::TokenIssuer& issuer, const signing::TokenVerifier& verifier,
                             const signing::TokenPolicy& policy, const Card& card, Time now) {
  if (auto r = ValidateCard(card); !r) return std::unexpected(r.error());
  std::string id = ObjectId(config, PassSerial(card));
  std::string_view state = DesiredState(card, policy, now);
  auto current = api.GetObject(id);
  if (!current && current.error().code != Code::kNotFound) return std::unexpected(current.error());
  if (!current) {
    if (state != "ACTIVE") return CardOutcome::kSkipped;  // never saved: nothing to take back
    auto token = issuer.Issue(card.serial, card.year, now);
    if (!token) return std::unexpected(token.error());
    auto r = api.InsertObject(GenericObjectJson(config, design, policy, card, *token, state));
    if (!r && r.error().code != Code::kAlreadyExists) return std::unexpected(r.error());
    if (r) return CardOutcome::kCreated;
    current = api.GetObject(id);  // created meanwhile: compare with what is there
    if (!current) return std::unexpected(current.error());
  }
  auto have = internal::ParseJson(*current, "object " + id);
  if (!have) return std::unexpected(have.error());
  if (!have->is_object()) return Fail(Code::kUnavailable, "object " + id + ": not a JSON object");
  internal::StripKind(*have);
  json want = json::parse(GenericObjectJson(config, design, policy, card, "", state));

  json patch = json::object();
  if (have->value("state", "") != state) patch["state"] = state;
  for (const char* field : kOwnedFields) {
    if (want.contains(field) && (!have->contains(field) || (*have)[field] != want[field]))
      patch[field] = want[field];
    if (!want.contains(field) && have->contains(field) && std::string_view(field) == "logo")
      patch[field] = nullptr;
  }
  bool rotate =
      state == "ACTIVE" && !BarcodeCurrent(have->value("barcode", json()), card, issuer, verifier, now);
  if (rotate) {
    auto token = issuer.Issue(card.serial, card.year, now);
    if (!token) return std::unexpected(token.error());
    patch["barcode"] = {{"type", "QR_CODE"}, {"value", *token}, {"alternateText", card.serial}};
  }
  if (patch.empty()) return CardOutcome::kUnchanged;
  if (auto r = api.PatchObject(id, patch.dump()); !r) return std::unexpected(r.error());
  if (patch.contains("state") && state == "INACTIVE") return CardOutcome::kRevoked;
  if (patch.contains("state") && state == "EXPIRED") return CardOutcome::kExpired;
  if (rotate && patch.size() == 1) return CardOutcome::kBarcodeRotated;
  return CardOutcome::kUpdated;
}

Result<SyncSummary> Sync(WalletApi& api, const GoogleWalletConfig& config, const GoogleCardDesign& design,
                         const signing::TokenIssuer& issuer, const signing::TokenVerifier& verifier,
                         const signing::TokenPolicy& policy, int year, const std::vector<Card>& all_cards,
                         Time now, const SyncOptions& options) {
  if (auto r = ValidateConfig(config); !r) return std::unexpected(r.error());
  SyncSummary s;
  std::vector<const Card*> cards;
  for (const auto& c : all_cards) {
    if (c.year == year)
      cards.push_back(&c);
    else
      ++s.other_years;
  }
  s.cards = cards.size();
  auto cls = UpsertClass(api, config, design, year);
  if (!cls) return Fail(cls.error().code, "class " + ClassId(config, year) + ": " + cls.error().message);
  s.class_created = *cls == ClassOutcome::kCreated;
  s.class_updated = *cls == ClassOutcome::kUpdated;

  std::vector<Result<CardOutcome>> results(cards.size(), Fail(Code::kInternal, "not processed"));
  std::atomic<size_t> next{0};
  std::mutex progress_mu;
  size_t done = 0;
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < cards.size();) {
      results[i] = SyncCard(api, config, design, issuer, verifier, policy, *cards[i], now);
      if (options.progress) {
        std::lock_guard l(progress_mu);
        options.progress(++done, cards.size());
      }
    }
  };
  int n = std::clamp(options.parallelism, 1, 32);
  {
    std::vector<std::jthread> threads;
    for (int t = 1; t < n && size_t(t) < cards.size(); ++t) threads.emplace_back(work);
    work();
  }
  for (size_t i = 0; i < cards.size(); ++i) {
    if (!results[i]) {
      ++s.failed;
      s.errors.push_back(cards[i]->serial + ": " + results[i].error().message);
      continue;
    }
    switch (*results[i]) {
      case CardOutcome::kCreated:
        ++s.created;
        break;
      case CardOutcome::kUpdated:
        ++s.updated;
        break;
      case CardOutcome::kBarcodeRotated:
        ++s.barcode_rotated;
        break;
      case CardOutcome::kRevoked:
        ++s.revoked;
        break;
      case CardOutcome::kExpired:
        ++s.expired;
        break;
      case CardOutcome::kUnchanged:
        ++s.unchanged;
        break;
      case CardOutcome::kSkipped:
        ++s.skipped;
        break;
    }
  }
  return s;
}

std::string SyncSummary::ToText() const {
  std::string t = "class: " +
                  std::string(class_created   ? "created"
                              : class_updated ? "updated"
                                              : "unchanged") +
                  "\n";
  t += "cards: " + std::to_string(cards) + " (created " + std::to_string(created) + ", updated " +
       std::to_string(updated) + ", barcode rotated " + std::to_string(barcode_rotated) + ", revoked " +
       std::to_string(revoked) + ", expired " + std::to_string(expired) + ", unchanged " +
       std::to_string(unchanged) + ", skipped " + std::to_string(skipped) + ", failed " +
       std::to_string(failed) + ")\n";
  if (other_years) t += "ignored: " + std::to_string(other_years) + " cards of other years\n";
  for (const auto& e : errors) t += "error: " + e + "\n";
  return t;
}

}  // namespace lk::passgen
