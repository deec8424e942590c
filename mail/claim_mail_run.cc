// The claim mail run: every row at most once, resumable through the journal.
#include "mail/claim_mail.h"

namespace lk::mail {

RunSummary RunClaimMail(const std::vector<ClaimMailRow>& rows, const ClaimMailComposer& composer,
                        Mailer& mailer, Journal& journal, const ClaimMailRunOptions& options) {
  RunSummary summary;
  Progress progress{0, static_cast<int64_t>(rows.size()), &summary};
  int failures_in_a_row = 0;
  for (const ClaimMailRow& row : rows) {
    auto report = [&] {
      ++progress.done;
      if (options.progress) options.progress(progress);
    };
    auto state = journal.StateOf(row.staff_id);
    if (!state) {
      summary.stopped = state.error();
      return summary;
    }
    if (*state == MailState::kSent) {
      ++summary.skipped;
      report();
      continue;
    }
    if (*state == MailState::kSending) {  // an earlier run crashed mid-send or could not tell
      summary.in_doubt.push_back({row.staff_id, row.email, "an earlier run may have mailed this holder"});
      report();
      continue;
    }
    auto message = composer.Compose(row);
    if (!message) {  // bad data in the row: nothing was sent, nothing to record
      summary.failed.push_back({row.staff_id, row.email, message.error().message});
      report();
      continue;
    }
    if (auto r = journal.MarkSending(row.staff_id); !r) {
      summary.stopped = r.error();
      return summary;
    }
    auto sent = mailer.Send(*message);
    if (sent) {
      failures_in_a_row = 0;
      ++summary.sent;
      if (auto r = journal.MarkSent(row.staff_id); !r) {
        summary.stopped = r.error();
        return summary;
      }
      report();
      continue;
    }
    const Error& error = sent.error().error;
    if (sent.error().maybe_delivered) {
      summary.in_doubt.push_back({row.staff_id, row.email, error.message});  // stays "sending"
    } else {
      summary.failed.push_back({row.staff_id, row.email, error.message});
      if (auto r = journal.MarkFailed(row.staff_id, error.message); !r) {
        summary.stopped = r.error();
        return summary;
      }
    }
    report();
    if (error.code == Code::kUnauthenticated) {
      summary.stopped = Error{error.code, "the SMTP server refused the login: " + error.message};
      return summary;
    }
    if (++failures_in_a_row >= options.max_consecutive_failures && options.max_consecutive_failures > 0) {
      summary.stopped = Error{Code::kUnavailable, std::to_string(failures_in_a_row) +
                                                      " sends failed in a row; the last: " + error.message};
      return summary;
    }
  }
  return summary;
}

}  // namespace lk::mail
