#pragma once
// The claim mail: one short mail per card holder with their claim link and its QR code (nl, fr,
// en; text and HTML), and the run that mails a whole roster at most once per holder, resumable
// through a Journal. ClaimMailComposer is immutable after Create and safe to share between
// threads; a ClaimMailRun and the journals are not thread-safe.

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/base.h"
#include "mail/mail.h"

namespace lk::mail {

enum class Language { kNl, kFr, kEn };
// "nl", "fr", "en" (any case, "nl-BE" etc. accepted); "" gives `fallback`.
Result<Language> ParseLanguage(std::string_view text, Language fallback = Language::kNl);

struct ClaimMailOptions {
  std::string public_url;  // required: the site, e.g. "https://lerarenkaart.be" (https, no query)
  Address from;            // required: the sender of the mails (also the envelope sender)
  std::string contact;     // who to contact with questions; "" = from.email
  int year = 0;            // required: the card year the codes are for
};

// One holder to mail.
struct ClaimMailRow {
  std::string staff_id;
  std::string email;
  std::string name;  // display name, may be empty
  Language language = Language::kNl;
  std::string claim_code;  // "XXXX-XXXX-XXXX-XXXX"
};

class ClaimMailComposer {
 public:
  // Loads the texts (built into the module from mail/text/*.json). `clock` must outlive it.
  static Result<std::unique_ptr<ClaimMailComposer>> Create(ClaimMailOptions options, const Clock& clock);
  virtual ~ClaimMailComposer() = default;
  // The claim link of `code`: PUBLIC_URL/claim?code=CODE.
  virtual std::string ClaimLink(std::string_view code) const = 0;
  // The mail for one holder. kInvalidArgument (naming the staff id) for a bad address, a name
  // with control characters or a malformed claim code.
  virtual Result<Message> Compose(const ClaimMailRow& row) const = 0;
};

// What a run knows about one holder. Sending: marked (durably) before the send; Sent: after.
enum class MailState { kNone, kSending, kSent, kFailed };

// Where a run records its progress. A real implementation must make MarkSending durable before
// returning, all of `staff_ids` or none (the run relies on it for at-most-once); MarkSent and
// MarkFailed may be lazy (a lost "sent" only turns a holder from sent into in doubt).
class Journal {
 public:
  virtual ~Journal() = default;
  virtual Result<MailState> StateOf(const std::string& staff_id) = 0;
  virtual Result<> MarkSending(std::span<const std::string> staff_ids) = 0;
  virtual Result<> MarkSent(const std::string& staff_id) = 0;
  // The send failed without delivery: a later run mails this holder again.
  virtual Result<> MarkFailed(const std::string& staff_id, const std::string& reason) = 0;
};
std::unique_ptr<Journal> NewMemoryJournal();
// An append-only text file ("sending|sent|failed <TAB> staff_id [<TAB> reason]" lines), fsync'd
// on MarkSending; a torn last line from a crash is dropped on open. kDataLoss for a corrupt file.
Result<std::unique_ptr<Journal>> OpenFileJournal(const std::filesystem::path& path);

struct Failure {
  std::string staff_id;
  std::string email;
  std::string reason;
};
struct RunSummary {
  int64_t sent = 0;
  int64_t skipped = 0;            // already sent by an earlier run
  std::vector<Failure> failed;    // not delivered; a re-run tries these again
  std::vector<Failure> in_doubt;  // may have been delivered (a crash or a lost answer after the
                                  // data); never resent automatically: check the server's log
  std::optional<Error> stopped;   // why the run ended before the last row; nullopt if it did not
};
struct Progress {
  int64_t done = 0, total = 0;
  const RunSummary* summary = nullptr;
};

struct ClaimMailRunOptions {
  // Holders marked "sending" with one durable journal write (one fsync) before their sends: a
  // crash leaves at most this many in doubt. 1 = one fsync per mail.
  int batch = 16;
  int max_consecutive_failures = 20;  // stop the run (kUnavailable) after this many failures in a row
  std::function<void(const Progress&)> progress;  // called after every row; may be empty
};

// Mails every row at most once, whatever crashes: a holder is marked "sending" (durably, with up
// to `batch` others) before the send and "sent" after; a holder found "sending" on a re-run was
// in the batch a crash interrupted (sent or not: nobody can tell) or its send ended in doubt,
// and is listed in `in_doubt`, not mailed again. Holders marked "sent" are skipped, "failed"
// ones retried. A journal error, a refused login or too many failures in a row stop the run
// (RunSummary::stopped) and mark the untried rest of its batch "failed". Collaborators must
// outlive the call.
RunSummary RunClaimMail(const std::vector<ClaimMailRow>& rows, const ClaimMailComposer& composer,
                        Mailer& mailer, Journal& journal, const ClaimMailRunOptions& options = {});

}  // namespace lk::mail
