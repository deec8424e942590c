// Generic pass JSON, validation and save links for Google Wallet.
#include <nlohmann/json.hpp>

#include "passgen/google_wallet.h"
#include "passgen/internal/google_card_fields.h"
#include "passgen/internal/google_json.h"

namespace lk::passgen {
using json = nlohmann::json;

namespace internal {
namespace {
constexpr size_t kMaxNameChars = 200;

// Counts code points of strict UTF-8 (no overlongs, surrogates or values above U+10FFFF);
// nullopt when invalid or when it holds a control character.
std::optional<size_t> TextChars(std::string_view s) {
  auto cps = DecodeUtf8(s);
  if (!cps) return std::nullopt;
  for (char32_t cp : *cps)
    if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || cp == 0x2028 || cp == 0x2029) return std::nullopt;
  return cps->size();
}

}  // namespace

std::string TextProblem(std::string_view value) {
  auto n = TextChars(value);
  if (!n) return "not valid UTF-8 text (or holds a control character)";
  if (*n == 0 || value.find_first_not_of(' ') == std::string_view::npos) return "must not be empty";
  if (*n > kMaxNameChars)
    return std::to_string(*n) + " characters, at most " + std::to_string(kMaxNameChars) + " allowed";
  return {};
}

Result<> ValidText(std::string_view field, std::string_view value) {
  std::string problem = TextProblem(value);
  if (problem.empty()) return {};
  return Fail(Code::kInvalidArgument, std::string(field) + ": " + problem);
}

}  // namespace internal

namespace {
using internal::ValidText;

constexpr std::string_view kSaveUrl = "https://pay.google.com/gp/v/save/";

bool HttpUrl(std::string_view u) { return u.starts_with("https://") || u.starts_with("http://"); }

json Localized(const LocalizedText& t) {
  json j = {{"defaultValue", {{"language", "nl"}, {"value", t.nl}}}};
  json translated = json::array();
  if (!t.fr.empty()) translated.push_back({{"language", "fr"}, {"value", t.fr}});
  if (!t.en.empty()) translated.push_back({{"language", "en"}, {"value", t.en}});
  if (!translated.empty()) j["translatedValues"] = std::move(translated);
  return j;
}

json TextModule(std::string_view id, const LocalizedText& label, std::string_view body) {
  return {{"id", id}, {"header", label.nl}, {"body", body}, {"localizedHeader", Localized(label)}};
}

std::string Lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Result<std::string> SignedLink(const signing::ServiceAccount& account, const GoogleWalletConfig& config,
                               json payload, Time now) {
  json claims = {{"iss", account.client_email()}, {"aud", "google"},
                 {"typ", "savetowallet"},         {"iat", now.time_since_epoch().count()},
                 {"origins", config.origins},     {"payload", std::move(payload)}};
  auto jwt = account.SignJwt(claims.dump());
  if (!jwt) return std::unexpected(jwt.error());
  return std::string(kSaveUrl) + *jwt;
}

}  // namespace

std::string ClassId(const GoogleWalletConfig& config, int year) {
  return config.issuer_id + "." + config.class_prefix + std::to_string(year);
}

std::string ObjectId(const GoogleWalletConfig& config, std::string_view serial) {
  return config.issuer_id + "." + std::string(serial);
}

Result<> ValidateConfig(const GoogleWalletConfig& c) {
  if (c.issuer_id.empty() || c.issuer_id.size() > 25 ||
      c.issuer_id.find_first_not_of("0123456789") != std::string::npos)
    return Fail(Code::kInvalidArgument,
                "google issuer id '" + c.issuer_id +
                    "' must be the digits of the issuer id shown in the Google Wallet console");
  if (c.class_prefix.size() > 40 ||
      c.class_prefix.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
          std::string::npos)
    return Fail(Code::kInvalidArgument, "google class prefix '" + c.class_prefix +
                                            "' must be at most 40 letters, digits, '.', '_' or '-'");
  if (c.origins.empty())
    return Fail(Code::kInvalidArgument,
                "google origins: at least one origin is needed, or the save button will not render");
  for (const auto& o : c.origins)
    if (!HttpUrl(o) || o.size() > 200 || o.find_first_of(" \"\\") != std::string::npos)
      return Fail(Code::kInvalidArgument,
                  "google origin '" + o + "' must be an http(s) URL such as https://lerarenkaart.be");
  if (!HttpUrl(c.token_url))
    return Fail(Code::kInvalidArgument, "google token URL '" + c.token_url + "' must be http(s)");
  if (!HttpUrl(c.api_url))
    return Fail(Code::kInvalidArgument, "google API URL '" + c.api_url + "' must be http(s)");
  if (c.max_attempts < 1 || c.max_attempts > 10)
    return Fail(Code::kInvalidArgument, "google max attempts must be 1 to 10");
  if (c.connect_timeout.count() <= 0 || c.total_timeout.count() <= 0)
    return Fail(Code::kInvalidArgument, "google timeouts must be positive");
  return {};
}

Result<> ValidateCard(const Card& card) {
  if (!ValidSerial(card.serial))
    return Fail(Code::kInvalidArgument,
                "serial '" + card.serial + "' must be 1-40 letters, digits, '-' or '_'");
  if (card.year < 2000 || card.year > 2100)
    return Fail(Code::kInvalidArgument,
                "year " + std::to_string(card.year) + " is not a card year (2000-2100)");
  if (auto r = ValidText("name", card.holder_name); !r) return r;
  return ValidText("school", card.school);
}

std::string GenericClassJson(const GoogleWalletConfig& config, const GoogleCardDesign&, int year) {
  auto field = [](std::string_view id) {
    return json{
        {"firstValue", {{"fields", {{{"fieldPath", "object.textModulesData['" + std::string(id) + "']"}}}}}}};
  };
  json j = {{"id", ClassId(config, year)},
            {"classTemplateInfo",
             {{"cardTemplateOverride",
               {{"cardRowTemplateInfos",
                 {{{"twoItems", {{"startItem", field("school")}, {"endItem", field("year")}}}}}}}}}},
            {"multipleDevicesAndHoldersAllowedStatus", "ONE_USER_ALL_DEVICES"}};
  return j.dump();
}

std::string GenericObjectJson(const GoogleWalletConfig& config, const GoogleCardDesign& design,
                              const signing::TokenPolicy& policy, const Card& card, std::string_view qr_token,
                              std::string_view state) {
  auto validity = signing::CardYearValidity(card.year, policy);
  json j = {{"id", ObjectId(config, PassSerial(card))},
            {"classId", ClassId(config, card.year)},
            {"state", state},
            {"cardTitle", Localized(design.card_title)},
            {"subheader", Localized({design.issuer_name, "", ""})},
            {"header", Localized({card.holder_name, "", ""})},
            {"textModulesData",
             {TextModule("school", design.school_label, card.school),
              TextModule("year", design.year_label, std::to_string(card.year))}},
            {"hexBackgroundColor", Lower(design.hex_background_color)},
            {"barcode", {{"type", "QR_CODE"}, {"value", qr_token}, {"alternateText", card.serial}}},
            {"validTimeInterval",
             {{"start", {{"date", FormatRfc3339(validity.not_before)}}},
              {"end", {{"date", FormatRfc3339(validity.expires)}}}}}};
  if (!design.logo_url.empty())
    j["logo"] = {{"sourceUri", {{"uri", design.logo_url}}},
                 {"contentDescription", Localized({design.issuer_name, "", ""})}};
  return j.dump();
}

Result<std::string> SkinnySaveLink(const signing::ServiceAccount& account, const GoogleWalletConfig& config,
                                   std::string_view serial, Time now) {
  if (auto r = ValidateConfig(config); !r) return std::unexpected(r.error());
  if (!ValidSerial(serial))
    return Fail(Code::kInvalidArgument,
                "serial '" + std::string(serial) + "' must be 1-40 letters, digits, '-' or '_'");
  json payload = {{"genericObjects", {{{"id", ObjectId(config, serial)}}}}};
  auto link = SignedLink(account, config, std::move(payload), now);
  if (link && link->size() >= kMaxSaveLinkChars)
    return Fail(Code::kInvalidArgument, "the save link would be " + std::to_string(link->size()) +
                                            " characters, over Google's limit of " +
                                            std::to_string(kMaxSaveLinkChars) +
                                            ": list fewer or shorter origins");
  return link;
}

Result<std::string> FullSaveLink(const signing::ServiceAccount& account, const GoogleWalletConfig& config,
                                 std::string_view class_json, std::string_view object_json, Time now) {
  if (auto r = ValidateConfig(config); !r) return std::unexpected(r.error());
  auto cls = internal::ParseJson(class_json, "class");
  if (!cls) return Fail(Code::kInvalidArgument, cls.error().message);
  auto obj = internal::ParseJson(object_json, "object");
  if (!obj) return Fail(Code::kInvalidArgument, obj.error().message);
  json payload = {{"genericClasses", {std::move(*cls)}}, {"genericObjects", {std::move(*obj)}}};
  auto link = SignedLink(account, config, std::move(payload), now);
  if (link && link->size() >= kMaxSaveLinkChars)
    return Fail(Code::kFailedPrecondition,
                "a save link with the whole object would be " + std::to_string(link->size()) +
                    " characters, over Google's limit of " + std::to_string(kMaxSaveLinkChars) +
                    "; create the object through the API and use the skinny link");
  return link;
}

}  // namespace lk::passgen
