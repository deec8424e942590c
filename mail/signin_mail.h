#pragma once
// The sign-in mail of "send me a new link": a short mail (nl, fr, en; text and HTML, no images)
// with a one-time link to the site's sign-in page, PUBLIC_URL/link/signin?token=TOKEN. Pure
// function of its inputs and the clock; thread-safe.

#include <chrono>
#include <string>

#include "base/base.h"
#include "mail/claim_mail.h"
#include "mail/mail.h"

namespace lk::mail {

struct SignInMailOptions {
  std::string public_url;          // required: the site, e.g. "https://lerarenkaart.be"
  Address from;                    // required: the sender (also the envelope sender)
  std::string contact;             // who to contact with questions; "" = from.email
  std::chrono::minutes valid{15};  // how long the link works, as the mail says
};

struct SignInMailRow {
  std::string email;
  std::string name;  // may be empty
  Language language = Language::kNl;
  std::string token;  // letters and digits only
};

// The mail. kInvalidArgument for a bad address or name (CheckAddress), a token that is not
// letters and digits, or options without a site or sender.
Result<Message> ComposeSignInMail(const SignInMailOptions& options, const SignInMailRow& row,
                                  const Clock& clock);

}  // namespace lk::mail
