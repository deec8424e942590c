// The sign-in mail: texts "signin_*" (and the greeting, contact and signature of the claim mail)
// from mail/text/<lang>.json; multipart/alternative of text/plain and text/html.
#include "mail/signin_mail.h"

#include <nlohmann/json.hpp>

#include "mail/internal/mime.h"

namespace lk::mail {
namespace {

std::string_view Tag(Language l) { return l == Language::kFr ? "fr" : l == Language::kEn ? "en" : "nl"; }

// The text `key` of `lang` with {name}, {site}, {minutes} and {contact} filled in.
std::string Text(Language lang, std::string_view key, const std::map<std::string, std::string>& values) {
  auto j = nlohmann::json::parse(internal::BuiltInTexts(Tag(lang)), nullptr, false);
  auto it = j.is_object() ? j.find(std::string(key)) : j.end();
  std::string text = it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  for (const auto& [name, value] : values)
    for (size_t at; (at = text.find("{" + name + "}")) != std::string::npos;)
      text.replace(at, name.size() + 2, value);
  return text;
}

}  // namespace

Result<Message> ComposeSignInMail(const SignInMailOptions& options, const SignInMailRow& row,
                                  const Clock& clock) {
  if (options.public_url.empty() || options.from.email.find('@') == std::string::npos)
    return Fail(Code::kInvalidArgument, "the sign-in mail needs the site's address and a sender");
  if (auto r = CheckAddress(options.from, "sender"); !r) return std::unexpected(r.error());
  Address to{row.email, row.name};
  if (auto r = CheckAddress(to, "recipient"); !r) return std::unexpected(r.error());
  if (row.token.empty() || row.token.size() > 64 ||
      !std::all_of(row.token.begin(), row.token.end(),
                   [](char c) { return std::isalnum(static_cast<unsigned char>(c)); }))
    return Fail(Code::kInvalidArgument, "a sign-in token has 1 to 64 letters and digits");
  const std::string link = options.public_url + "/link/signin?token=" + row.token;
  const std::map<std::string, std::string> values = {
      {"name", row.name},
      {"site", options.public_url},
      {"minutes", std::to_string(options.valid.count())},
      {"contact", options.contact.empty() ? options.from.email : options.contact}};
  auto t = [&](std::string_view key) { return Text(row.language, key, values); };
  auto h = [&](std::string_view key) { return HtmlEscape(t(key)); };
  const char* greeting = row.name.empty() ? "greeting_no_name" : "greeting";
  const std::string domain = options.from.email.substr(options.from.email.rfind('@') + 1);

  const std::string plain = t(greeting) + "\n\n" + t("signin_intro") + "\n\n" + t("signin_action") + "\n" +
                            link + "\n\n" + t("signin_once") + "\n\n" + t("contact") + "\n\n-- \n" +
                            t("signature") + "\n";
  const std::string page = "<!DOCTYPE html>\n<html lang=\"" + std::string(Tag(row.language)) +
                           "\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
                           "content=\"width=device-width\">\n<title>" +
                           h("signin_subject") +
                           "</title>\n</head>\n<body "
                           "style=\"font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5;"
                           "color:#1a1a1a;max-width:36em;margin:0 auto;padding:16px\">\n<p>" +
                           h(greeting) + "</p>\n<p>" + h("signin_intro") + "</p>\n<p>" + h("signin_action") +
                           "</p>\n<p><a href=\"" + HtmlEscape(link) +
                           "\" style=\"display:inline-block;padding:12px "
                           "20px;background:#0b5394;color:#ffffff;text-decoration:none;"
                           "border-radius:4px;font-weight:bold\">" +
                           h("signin_button") + "</a></p>\n<p>" + h("signin_once") + "</p>\n<p>" +
                           h("contact") + "</p>\n<p>" + h("signature") + "</p>\n</body>\n</html>\n";

  Message m;
  m.envelope_from = options.from.email;
  m.envelope_to = row.email;
  m.message_id = "<" + RandomBase32(26) + "@" + domain + ">";
  const std::string boundary = "=_lk_alt_" + HexEncode(RandomBytes(12));
  std::string& d = m.data;
  d += internal::MailboxHeader("From", options.from);
  d += internal::MailboxHeader("To", to);
  d += internal::UnstructuredHeader("Subject", t("signin_subject"));
  d += "Date: " + internal::FormatMailDate(clock.Now()) + "\r\n";
  d += "Message-ID: " + m.message_id + "\r\n";
  d += "MIME-Version: 1.0\r\n";
  d += "Content-Language: " + std::string(Tag(row.language)) + "\r\n";
  d += "Auto-Submitted: auto-generated\r\n";
  d += "Content-Type: multipart/alternative;\r\n boundary=\"" + boundary + "\"\r\n\r\n";
  d += "--" + boundary + "\r\n";
  d += "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
  d += internal::QuotedPrintable(plain) + "\r\n";
  d += "--" + boundary + "\r\n";
  d += "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
  d += internal::QuotedPrintable(page) + "\r\n";
  d += "--" + boundary + "--\r\n";
  return m;
}

}  // namespace lk::mail
