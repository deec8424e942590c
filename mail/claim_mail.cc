// The claim mail: texts from mail/text/<lang>.json, a text/plain part and an HTML part with the
// QR code of the claim link as an inline image:
//   multipart/alternative
//     text/plain                       quoted-printable
//     multipart/related
//       text/html                      quoted-printable
//       image/png (Content-ID: qr)     base64
#include "mail/claim_mail.h"

#include <array>
#include <map>
#include <nlohmann/json.hpp>

#include "mail/internal/mime.h"

namespace lk::mail {
namespace {
using lk::HtmlEscape;

constexpr std::array<std::string_view, 12> kKeys = {
    "subject", "greeting", "greeting_no_name", "intro",    "action", "button", "qr", "qr_alt",
    "code",    "once",     "contact",          "signature"};
constexpr std::array<std::string_view, 5> kPlaceholders = {"name", "year", "site", "code", "contact"};
constexpr int kQrScale = 4;

using Texts = std::map<std::string, std::string, std::less<>>;
using Values = std::map<std::string, std::string, std::less<>>;

std::string_view LanguageTag(Language l) {
  switch (l) {
    case Language::kFr:
      return "fr";
    case Language::kEn:
      return "en";
    default:
      return "nl";
  }
}

Result<Texts> LoadTexts(std::string_view lang) {
  std::string where = "mail/text/" + std::string(lang) + ".json";
  auto j = nlohmann::json::parse(internal::BuiltInTexts(lang), nullptr, false);
  if (!j.is_object()) return Fail(Code::kInternal, where + ": not a JSON object");
  Texts texts;
  for (auto key : kKeys) {
    auto it = j.find(std::string(key));
    if (it == j.end() || !it->is_string())
      return Fail(Code::kInternal, where + ": \"" + std::string(key) + "\" is missing or not a string");
    std::string text = it->get<std::string>();
    // Every {placeholder} must be one we fill.
    for (size_t at = text.find('{'); at != std::string::npos; at = text.find('{', at + 1)) {
      auto end = text.find('}', at);
      auto name = std::string_view(text).substr(at + 1, end == std::string::npos ? 0 : end - at - 1);
      if (std::find(kPlaceholders.begin(), kPlaceholders.end(), name) == kPlaceholders.end())
        return Fail(Code::kInternal, where + ": \"" + std::string(key) + "\" has an unknown placeholder");
    }
    texts[std::string(key)] = std::move(text);
  }
  return texts;
}

// `text` with each {placeholder} replaced by its value, each piece passed through `escape`.
template <class Escape>
std::string Fill(std::string_view text, const Values& values, Escape escape) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    auto open = text.find('{', pos);
    if (open == std::string_view::npos) break;
    auto close = text.find('}', open);
    out += escape(text.substr(pos, open - pos));
    auto it = values.find(text.substr(open + 1, close - open - 1));
    out += escape(it == values.end() ? std::string_view() : std::string_view(it->second));
    pos = close + 1;
  }
  if (pos < text.size()) out += escape(text.substr(pos));
  return out;
}
std::string Plain(std::string_view s) { return std::string(s); }
std::string Html(std::string_view s) { return HtmlEscape(s); }

bool IsClaimCode(std::string_view code) {
  if (code.size() != 19) return false;
  for (size_t i = 0; i < code.size(); ++i) {
    char c = code[i];
    if (i % 5 == 4 ? c != '-' : !(std::isdigit(static_cast<unsigned char>(c)) || (c >= 'A' && c <= 'Z')))
      return false;
  }
  return true;
}

class Composer final : public ClaimMailComposer {
 public:
  Composer(ClaimMailOptions options, const Clock& clock, std::array<Texts, 3> texts)
      : options_(std::move(options)), clock_(clock), texts_(std::move(texts)) {
    domain_ = options_.from.email.substr(options_.from.email.rfind('@') + 1);
  }

  std::string ClaimLink(std::string_view code) const override {
    return options_.public_url + "/claim?code=" + std::string(code);
  }

  Result<Message> Compose(const ClaimMailRow& row) const override {
    std::string what = "staff " + internal::Printable(row.staff_id);
    Address to{row.email, row.name};
    if (auto r = CheckAddress(to, what); !r) return std::unexpected(r.error());
    if (!IsClaimCode(row.claim_code))
      return Fail(Code::kInvalidArgument, what + ": claim code \"" + internal::Printable(row.claim_code) +
                                              "\" is not of the form XXXX-XXXX-XXXX-XXXX");
    const Texts& t = texts_[static_cast<size_t>(row.language)];
    const std::string link = ClaimLink(row.claim_code);
    Values values{{"name", row.name},
                  {"year", std::to_string(options_.year)},
                  {"site", options_.public_url},
                  {"code", row.claim_code},
                  {"contact", options_.contact.empty() ? options_.from.email : options_.contact}};
    auto text = [&](std::string_view key) { return Fill(t.find(key)->second, values, Plain); };
    auto html = [&](std::string_view key) { return Fill(t.find(key)->second, values, Html); };
    const char* greeting = row.name.empty() ? "greeting_no_name" : "greeting";

    int qr_side = 0;
    auto png = internal::QrPng(link, kQrScale, &qr_side);
    if (!png) return std::unexpected(png.error());

    std::string token = HexEncode(RandomBytes(12));
    std::string alt_boundary = "=_lk_alt_" + token, rel_boundary = "=_lk_rel_" + token;
    std::string cid = "qr." + token + "@" + domain_;
    Message m;
    m.envelope_from = options_.from.email;
    m.envelope_to = row.email;
    m.message_id = "<" + RandomBase32(26) + "@" + domain_ + ">";

    std::string plain = text(greeting) + "\n\n" + text("intro") + "\n\n" + text("action") + "\n" + link +
                        "\n\n" + text("code") + "\n\n" + text("once") + "\n\n" + text("contact") +
                        "\n\n-- \n" + text("signature") + "\n";
    std::string page;
    page.reserve(2048);
    page += "<!DOCTYPE html>\n<html lang=\"" + std::string(LanguageTag(row.language)) + "\">\n<head>\n";
    page += "<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width\">\n";
    page += "<title>" + html("subject") + "</title>\n</head>\n";
    page +=
        "<body style=\"font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5;color:#1a1a1a;"
        "max-width:36em;margin:0 auto;padding:16px\">\n";
    page += "<p>" + html(greeting) + "</p>\n<p>" + html("intro") + "</p>\n<p>" + html("action") + "</p>\n";
    page += "<p><a href=\"" + HtmlEscape(link) +
            "\" style=\"display:inline-block;padding:12px 20px;background:#0b5394;color:#ffffff;"
            "text-decoration:none;border-radius:4px;font-weight:bold\">" +
            html("button") + "</a></p>\n";
    page += "<p>" + html("qr") + "</p>\n";
    page += "<p><img src=\"cid:" + cid + "\" alt=\"" + html("qr_alt") + "\" width=\"" +
            std::to_string(qr_side) + "\" height=\"" + std::to_string(qr_side) + "\"></p>\n";
    page += "<p>" + html("code") + "</p>\n<p><strong>" + html("once") + "</strong></p>\n";
    page += "<p>" + html("contact") + "</p>\n<p>" + html("signature") + "</p>\n</body>\n</html>\n";

    std::string& d = m.data;
    d.reserve(plain.size() + page.size() * 11 / 10 + png->size() * 4 / 3 + 2048);
    d += internal::MailboxHeader("From", options_.from);
    d += internal::MailboxHeader("To", to);
    d += internal::UnstructuredHeader("Subject", text("subject"));
    d += "Date: " + internal::FormatMailDate(clock_.Now()) + "\r\n";
    d += "Message-ID: " + m.message_id + "\r\n";
    d += "MIME-Version: 1.0\r\n";
    d += "Content-Language: " + std::string(LanguageTag(row.language)) + "\r\n";
    d += "Auto-Submitted: auto-generated\r\n";
    d += "Content-Type: multipart/alternative;\r\n boundary=\"" + alt_boundary + "\"\r\n\r\n";
    d += "--" + alt_boundary + "\r\n";
    d += "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
    d += internal::QuotedPrintable(plain) + "\r\n";
    d += "--" + alt_boundary + "\r\n";
    d += "Content-Type: multipart/related;\r\n boundary=\"" + rel_boundary + "\"; type=\"text/html\"\r\n\r\n";
    d += "--" + rel_boundary + "\r\n";
    d += "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
    d += internal::QuotedPrintable(page) + "\r\n";
    d += "--" + rel_boundary + "\r\n";
    d += "Content-Type: image/png; name=\"qr.png\"\r\nContent-Transfer-Encoding: base64\r\n";
    d += "Content-ID: <" + cid + ">\r\nContent-Disposition: inline; filename=\"qr.png\"\r\n\r\n";
    d += internal::Base64Lines(*png);
    d += "--" + rel_boundary + "--\r\n\r\n";
    d += "--" + alt_boundary + "--\r\n";
    return m;
  }

 private:
  ClaimMailOptions options_;
  const Clock& clock_;
  std::array<Texts, 3> texts_;  // by Language
  std::string domain_;
};

}  // namespace

Result<Language> ParseLanguage(std::string_view text, Language fallback) {
  text = Trim(text);
  if (text.empty()) return fallback;
  std::string lang;
  for (char c : text.substr(0, std::min(text.find_first_of("-_"), text.size())))
    lang += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lang == "nl") return Language::kNl;
  if (lang == "fr") return Language::kFr;
  if (lang == "en") return Language::kEn;
  return Fail(Code::kInvalidArgument,
              "language \"" + internal::Printable(text) + "\" is not one of nl, fr, en");
}

Result<std::unique_ptr<ClaimMailComposer>> ClaimMailComposer::Create(ClaimMailOptions options,
                                                                     const Clock& clock) {
  auto& url = options.public_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (!url.starts_with("https://") && !url.starts_with("http://"))
    return Fail(Code::kInvalidArgument, "public URL \"" + internal::Printable(url) +
                                            "\" must start with https:// (or http:// for a local test)");
  for (char c : url) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '?' || c == '#' || c == '"' || c == '<' || c == '>')
      return Fail(Code::kInvalidArgument, "public URL \"" + internal::Printable(url) +
                                              "\" has a space, query, fragment or non-ASCII");
  }
  if (auto r = CheckAddress(options.from, "sender (from)"); !r) return std::unexpected(r.error());
  if (options.year < 2000 || options.year > 9999)
    return Fail(Code::kInvalidArgument, "card year " + std::to_string(options.year) + " is out of range");
  for (char c : options.contact)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return Fail(Code::kInvalidArgument,
                  "contact \"" + internal::Printable(options.contact) + "\" contains a control character");
  std::array<Texts, 3> texts;
  for (auto l : {Language::kNl, Language::kFr, Language::kEn}) {
    auto t = LoadTexts(LanguageTag(l));
    if (!t) return std::unexpected(t.error());
    texts[static_cast<size_t>(l)] = std::move(*t);
  }
  return std::make_unique<Composer>(std::move(options), clock, std::move(texts));
}

}  // namespace lk::mail
