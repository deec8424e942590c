// The claim mail run: every row at most once, resumable through the journal. Rows go in batches:
// the rows of a batch that need a mail are composed, marked "sending" with one durable journal
// write, then sent one by one, each marked "sent" or "failed" after its send.
#include <unordered_set>

#include "mail/claim_mail.h"

namespace lk::mail {

RunSummary RunClaimMail(const std::vector<ClaimMailRow>& rows, const ClaimMailComposer& composer,
                        Mailer& mailer, Journal& journal, const ClaimMailRunOptions& options) {
  RunSummary summary;
  Progress progress{0, static_cast<int64_t>(rows.size()), &summary};
  auto report = [&] {
    ++progress.done;
    if (options.progress) options.progress(progress);
  };
  const size_t batch_size = static_cast<size_t>(std::max(1, options.batch));
  int failures_in_a_row = 0;
  struct Pending {
    const ClaimMailRow* row;
    Message message;
  };
  std::vector<Pending> batch;
  std::vector<std::string> ids;
  std::unordered_set<std::string_view> in_batch;
  size_t next = 0;
  while (next < rows.size()) {
    // Gather a batch; rows needing no mail are settled on the way.
    batch.clear();
    ids.clear();
    in_batch.clear();
    while (next < rows.size() && batch.size() < batch_size) {
      const ClaimMailRow& row = rows[next];
      if (in_batch.contains(row.staff_id)) break;  // a repeated holder waits for the next batch
      ++next;
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
      if (*state == MailState::kSending) {  // an earlier run crashed around its send, or could not tell
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
      batch.push_back({&row, std::move(*message)});
      ids.push_back(row.staff_id);
      in_batch.insert(row.staff_id);
    }
    if (batch.empty()) continue;
    if (auto r = journal.MarkSending(ids); !r) {
      summary.stopped = r.error();
      return summary;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      const ClaimMailRow& row = *batch[i].row;
      auto sent = mailer.Send(batch[i].message);
      std::optional<Error> stop;
      if (sent) {
        failures_in_a_row = 0;
        ++summary.sent;
        if (auto r = journal.MarkSent(row.staff_id); !r) stop = r.error();
      } else {
        const Error& error = sent.error().error;
        if (sent.error().maybe_delivered) {
          summary.in_doubt.push_back({row.staff_id, row.email, error.message});  // stays "sending"
        } else {
          summary.failed.push_back({row.staff_id, row.email, error.message});
          if (auto r = journal.MarkFailed(row.staff_id, error.message); !r) stop = r.error();
        }
        if (!stop && error.code == Code::kUnauthenticated) {
          stop = Error{error.code, "the SMTP server refused the login: " + error.message};
        } else if (!stop && ++failures_in_a_row >= options.max_consecutive_failures &&
                   options.max_consecutive_failures > 0) {
          stop = Error{Code::kUnavailable, std::to_string(failures_in_a_row) +
                                               " sends failed in a row; the last: " + error.message};
        }
      }
      report();
      if (stop) {
        // The rest of the batch was never tried: a later run may mail them.
        for (size_t j = i + 1; j < batch.size(); ++j)
          if (!journal.MarkFailed(batch[j].row->staff_id, "not tried: the run stopped")) break;
        summary.stopped = std::move(stop);
        return summary;
      }
    }
  }
  return summary;
}

}  // namespace lk::mail
