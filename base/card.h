#pragma once
// The teacher card: the one value every module hands around. The ledger records and reads it,
// passgen builds an Apple pass or a Google Wallet object from it, the service passes it between
// them. A plain value; fields a module does not fill keep their defaults.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/base.h"

namespace lk {

// The four channels a card reaches its holder through (names: ledger::ChannelName).
enum class Channel { kDigital, kSubscription, kStarter, kLibrary };

struct Card {
  std::string serial;  // ledger: 12 Crockford base32 characters; passes: 1-40 letters, digits, '-', '_'
  int year = 0;        // card year; a pass's must equal its template's year
  Channel channel = Channel::kDigital;
  // As the ledger records them: the display name from the claim codes ("" if none) and the
  // school number. What a wallet shows is passgen::ShownCard(card): a name of 1-100 bytes and a
  // school text of 1-200 bytes (UTF-8).
  std::string holder_name;
  std::string school;
  std::string school_name;      // the school's name from the ledger's school list; "" when not listed
  std::string language = "nl";  // fallback language of an Apple pass; must be a template language
  std::string token;            // the QR token (compact JWS, ASCII, <= 2048 bytes); "" before one is attached
  std::optional<Time> token_at;  // when the token was attached
  // The per-card secret (32 characters, never changes): the teacher's access token and the Apple
  // pass's authenticationToken (16-64 characters of letters, digits, '-', '_', '.', '~', '+', '/'
  // or '='); ledger-less builds use passgen::AuthenticationToken().
  std::string auth_token;
  bool revoked = false;  // a revoked card's passes show as void / INACTIVE
  std::string revoked_reason;
  // When the card was revoked (ledger::Cards::FindCard fills it); an Apple pass of a revoked card
  // expires then, for readers that ignore its voided flag.
  std::optional<Time> revoked_at;
  std::string replaced_by;  // a card moved to a new device: the serial of its replacement ("" if none)
  int64_t update_tag = 0;   // audit sequence number of the last change to the card
  std::string issued_on;    // YYYY-MM-DD (ledger::Cards::ForEachDigitalCard fills it)
  // The wallet entry: a card of a following card year that took over an earlier card's entry in
  // the wallets (ledger::Cards::RenewDigital) names that entry's serial here, which is the Apple
  // pass's serialNumber and the Google object's id; "" = the card's own serial (see PassSerial).
  std::string wallet_serial;
  // A card whose wallet entry a card of a later card year has taken over: that card's serial
  // ("" when this card is the entry's newest). Its passes are no longer in any wallet.
  std::string renewed_by;
};

// A serial (or key id) as every module accepts it: 1-40 ASCII letters, digits, '-' or '_' (the
// ledger's 12 Crockford base32 characters fit; so do a Google object id's suffix and a JWS kid).
inline bool ValidSerial(std::string_view s) {
  if (s.empty() || s.size() > 40) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
      return false;
  return true;
}

// The serial a wallet knows the card by: the Apple pass's serialNumber, the Google object's id.
inline const std::string& PassSerial(const Card& card) {
  return card.wallet_serial.empty() ? card.serial : card.wallet_serial;
}

}  // namespace lk
