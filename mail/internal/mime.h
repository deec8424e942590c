#pragma once
// MIME building blocks of the mail module (RFC 2045-2047, RFC 5322), a QR code as PNG, and the
// built-in claim mail texts. Pure functions; thread-safe.

#include <string>
#include <string_view>

#include "base/base.h"
#include "mail/mail.h"

namespace lk::mail::internal {

// Quoted-printable (RFC 2045 §6.7) of UTF-8 text whose lines end in LF or CRLF: CRLF line ends,
// output lines of at most 76 characters (soft breaks), trailing white space encoded.
std::string QuotedPrintable(std::string_view text);
// Base64 in lines of 76 characters, each ended by CRLF.
std::string Base64Lines(std::string_view bytes);
// A header field "Name: value" ending in CRLF. Values that are not plain printable ASCII, or are
// too long for one 78-character line, become RFC 2047 encoded words (UTF-8, B), folded.
std::string UnstructuredHeader(std::string_view name, std::string_view value);
// A mailbox header field: `Name: "display name" <email>` (the name as encoded words when it is
// not ASCII), CRLF-ended. REQUIRES: CheckAddress(address) succeeded.
std::string MailboxHeader(std::string_view name, const Address& address);
// RFC 5322 date-time in Brussels time: "Wed, 02 Dec 2026 15:16:00 +0100".
std::string FormatMailDate(Time t);
// `text` for an error message: control characters as \xNN, cut at 80 bytes.
std::string Printable(std::string_view text);
// A QR code (ECC level M) of `text` as a 1-bit greyscale PNG, `scale` pixels per module with a
// 4-module quiet zone. `width` receives the image's side in pixels.
Result<std::string> QrPng(std::string_view text, int scale, int* width);

// The claim mail texts of one language, JSON (mail/text/<lang>.json, built in).
std::string_view BuiltInTexts(std::string_view language);

}  // namespace lk::mail::internal
