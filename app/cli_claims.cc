// `lerarenkaart claims send`: mails every holder of a card year who has an address on the roster
// and no card yet their claim link (mail/claim_mail.h), with the run's journal in the ledger.
#include <cinttypes>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "app/commands.h"
#include "app/progress.h"
#include "ledger/ledger.h"
#include "mail/claim_mail.h"

namespace lk::app {
namespace {

// The mail run's Journal over the ledger's claim_mail_journal, for one chunk of holders whose
// marks PrepareClaimMail read. "sending" is committed before the sends (one transaction per
// batch); "sent" and "failed" ride along with the next batch's transaction or Flush, as the
// Journal contract allows (a crash turns at most one batch's "sent" into "in doubt").
class LedgerJournal final : public mail::Journal {
 public:
  LedgerJournal(ledger::Access& access, const std::vector<ledger::ClaimMailHolder>& holders)
      : access_(access) {
    for (const auto& h : holders) states_[std::to_string(h.roster_id)] = StateOf(h.mark);
  }
  Result<mail::MailState> StateOf(const std::string& id) override {
    auto it = states_.find(id);
    return it == states_.end() ? mail::MailState::kNone : it->second;
  }
  Result<> MarkSending(std::span<const std::string> ids) override {
    std::vector<ledger::ClaimMailMark> marks = pending_;
    for (const auto& id : ids) {
      auto roster_id = RosterId(id);
      if (!roster_id) return std::unexpected(roster_id.error());
      marks.push_back({*roster_id, ledger::MailMark::kSending, ""});
    }
    if (auto r = access_.MarkClaimMail(marks); !r) return r;
    pending_.clear();
    for (const auto& id : ids) states_[id] = mail::MailState::kSending;
    return {};
  }
  Result<> MarkSent(const std::string& id) override { return Later(id, ledger::MailMark::kSent, ""); }
  Result<> MarkFailed(const std::string& id, const std::string& reason) override {
    return Later(id, ledger::MailMark::kFailed, reason);
  }
  // Commits the marks not yet committed.
  Result<> Flush() {
    if (auto r = access_.MarkClaimMail(pending_); !r) return r;
    pending_.clear();
    return {};
  }

 private:
  static mail::MailState StateOf(ledger::MailMark m) {
    switch (m) {
      case ledger::MailMark::kSending:
        return mail::MailState::kSending;
      case ledger::MailMark::kSent:
        return mail::MailState::kSent;
      case ledger::MailMark::kFailed:
        return mail::MailState::kFailed;
      case ledger::MailMark::kNone:
        break;
    }
    return mail::MailState::kNone;
  }
  static Result<int64_t> RosterId(const std::string& id) {
    char* end = nullptr;
    const long long v = std::strtoll(id.c_str(), &end, 10);
    if (id.empty() || *end != '\0' || v <= 0)
      return Fail(Code::kInternal, "journal: '" + id + "' is not a roster entry");
    return static_cast<int64_t>(v);
  }
  Result<> Later(const std::string& id, ledger::MailMark mark, const std::string& reason) {
    auto roster_id = RosterId(id);
    if (!roster_id) return std::unexpected(roster_id.error());
    pending_.push_back({*roster_id, mark, reason});
    states_[id] = StateOf(mark);
    return {};
  }

  ledger::Access& access_;
  std::unordered_map<std::string, mail::MailState> states_;
  std::vector<ledger::ClaimMailMark> pending_;
};

struct SendArgs {
  int year = 0;
  double rate = -1;  // -1: [smtp] rate
  bool dry_run = false;
  int64_t limit = 0;
  std::string lang_default = "nl";
  int claim_days = 60;
  int batch = 16;
  std::string public_url, ledger_url;
};

// Holders read from the ledger at a time: memory stays bounded whatever the roster's size.
constexpr size_t kChunk = 1000;

int Send(const Globals& g, const SendArgs& a) {
  auto c = Load(g);
  if (!c) return Report(c.error());
  MailConfig& m = c->mail;
  if (!a.public_url.empty()) m.public_url = a.public_url;
  if (m.public_url.empty())
    return Report(Error{Code::kInvalidArgument,
                        "claims send needs the site's address for the link: set [server] public_url in the "
                        "configuration, LK_PUBLIC_URL or --public-url"});
  if (m.from.empty())
    return Report(Error{Code::kInvalidArgument,
                        "claims send needs the sender's address: set [smtp] from in the configuration or "
                        "LK_SMTP_FROM"});
  if (a.rate >= 0) m.smtp.rate_per_second = a.rate;
  auto fallback = mail::ParseLanguage(a.lang_default);
  if (!fallback) return Report(Error{Code::kInvalidArgument, "--lang-default: " + fallback.error().message});

  SystemClock clock;
  auto composer = mail::ClaimMailComposer::Create(
      {.public_url = m.public_url, .from = {m.from, m.from_name}, .contact = m.contact, .year = a.year},
      clock);
  if (!composer) return Report(Error{Code::kInvalidArgument, composer.error().message});
  std::unique_ptr<mail::Mailer> mailer;
  if (!a.dry_run) {
    auto made = mail::NewSmtpMailer(m.smtp, clock);
    if (!made) return Report(Error{Code::kInvalidArgument, "[smtp]: " + made.error().message});
    mailer = std::move(*made);
  }
  auto l = OpenConfiguredLedger(*c, a.ledger_url, LedgerUse::kExisting, clock);
  if (!l) return Report(l.error());
  ledger::Access& access = (*l)->access();
  auto total = access.CountClaimMailHolders(a.year);
  if (!total) return Report(total.error());

  const Time expires = clock.Now() + std::chrono::days(a.claim_days);
  mail::RunSummary summary;
  int64_t would_mail = 0, done = 0,
          to_mail_left = a.limit > 0 ? a.limit : std::numeric_limits<int64_t>::max();
  ProgressBar bar(a.dry_run ? "claims send (dry run)" : "claims send", "holders");
  int64_t after = 0;
  while (to_mail_left > 0) {
    auto holders =
        access.PrepareClaimMail(a.year, after, kChunk, static_cast<size_t>(to_mail_left), expires, a.dry_run);
    if (!holders) {
      summary.stopped = holders.error();
      break;
    }
    if (holders->empty()) break;
    after = holders->back().roster_id;
    std::vector<mail::ClaimMailRow> rows;
    rows.reserve(holders->size());
    for (const auto& h : *holders) {
      auto language = mail::ParseLanguage(h.language, *fallback);
      rows.push_back(
          {std::to_string(h.roster_id), h.email, h.display_name, language ? *language : *fallback, h.code});
      if (h.mark == ledger::MailMark::kNone || h.mark == ledger::MailMark::kFailed) --to_mail_left;
    }
    if (a.dry_run) {  // compose each mail (with a stand-in code) to find bad rows; send nothing
      for (size_t i = 0; i < rows.size(); ++i) {
        const auto mark = (*holders)[i].mark;
        if (mark == ledger::MailMark::kSent) {
          ++summary.skipped;
        } else if (mark == ledger::MailMark::kSending) {
          summary.in_doubt.push_back(
              {rows[i].staff_id, rows[i].email, "an earlier run may have mailed this holder"});
        } else {
          rows[i].claim_code = "0000-0000-0000-0000";
          if (auto msg = (*composer)->Compose(rows[i]); msg)
            ++would_mail;
          else
            summary.failed.push_back({rows[i].staff_id, rows[i].email, msg.error().message});
        }
        bar.Update(static_cast<uint64_t>(++done), static_cast<uint64_t>(*total));
      }
      continue;
    }
    LedgerJournal journal(access, *holders);
    mail::ClaimMailRunOptions options;
    options.batch = a.batch;
    const int64_t base = done;
    options.progress = [&](const mail::Progress& p) {
      bar.Update(static_cast<uint64_t>(base + p.done), static_cast<uint64_t>(*total));
    };
    mail::RunSummary part = mail::RunClaimMail(rows, **composer, *mailer, journal, options);
    done += static_cast<int64_t>(rows.size());
    if (auto r = journal.Flush(); !r && !part.stopped) part.stopped = r.error();
    summary.sent += part.sent;
    summary.skipped += part.skipped;
    summary.failed.insert(summary.failed.end(), part.failed.begin(), part.failed.end());
    summary.in_doubt.insert(summary.in_doubt.end(), part.in_doubt.begin(), part.in_doubt.end());
    if (part.stopped) {
      summary.stopped = part.stopped;
      break;
    }
  }
  bar.Clear();

  const int64_t failed = static_cast<int64_t>(summary.failed.size()),
                in_doubt = static_cast<int64_t>(summary.in_doubt.size());
  if (a.dry_run) {
    std::printf("claims send %d (dry run: nothing sent, nothing written): %" PRId64
                " holders with an address and no card; %" PRId64 " would be mailed, %" PRId64
                " already mailed, %" PRId64 " in doubt, %" PRId64 " cannot be mailed\n",
                a.year, *total, would_mail, summary.skipped, in_doubt, failed);
  } else {
    nlohmann::json detail = {{"year", a.year},
                             {"holders", *total},
                             {"sent", summary.sent},
                             {"skipped", summary.skipped},
                             {"failed", failed},
                             {"in_doubt", in_doubt},
                             {"rate", m.smtp.rate_per_second},
                             {"limit", a.limit}};
    if (summary.stopped) detail["stopped"] = summary.stopped->message;
    if (auto r = access.RecordClaimMailRun(detail.dump()); !r && !summary.stopped)
      summary.stopped = r.error();
    std::printf("claims send %d: %" PRId64 " holders with an address and no card; %" PRId64
                " mailed, %" PRId64 " already mailed, %" PRId64 " failed, %" PRId64 " in doubt\n",
                a.year, *total, summary.sent, summary.skipped, failed, in_doubt);
  }
  for (const auto& f : summary.failed)
    std::printf("  failed: %s (roster entry %s): %s\n", f.email.c_str(), f.staff_id.c_str(),
                f.reason.c_str());
  if (!summary.failed.empty() && !a.dry_run) std::printf("  (a later run tries the failed ones again)\n");
  for (const auto& f : summary.in_doubt)
    std::printf("  in doubt: %s (roster entry %s): %s\n", f.email.c_str(), f.staff_id.c_str(),
                f.reason.c_str());
  if (!summary.in_doubt.empty())
    std::printf(
        "  (holders in doubt are never mailed again by claims send: look for their address in the SMTP "
        "server's log and mail them by hand if it has none)\n");
  std::fflush(stdout);
  if (summary.stopped) {
    Report(Error{summary.stopped->code,
                 "the run stopped: " + summary.stopped->message + "; run claims send again to go on"});
    return 1;
  }
  return failed > 0 || in_doubt > 0 ? 1 : 0;
}

}  // namespace

void AddClaimsCommands(CLI::App& app, Globals& g, int& exit_code) {
  auto* claims =
      app.add_subcommand("claims", "Claim codes and the claim mail to the teachers (docs/mail.md)");
  claims->require_subcommand(1);
  auto a = std::make_shared<SendArgs>();
  auto* send = claims->add_subcommand(
      "send",
      "Mail every holder on the roster of card year Y who has an email address and no card yet their claim "
      "link and its QR code (nl/fr/en by the roster's language column), through SMTP ([smtp] in the "
      "configuration; the password only from $LK_SMTP_PASSWORD). Each holder gets a claim code (made or "
      "reused, kept in the ledger as a hash). At most one mail per holder, whatever crashes: the journal is "
      "in the ledger; run it again to go on after a crash or to retry failures. Holders an interrupted run "
      "may have mailed are listed 'in doubt' and never mailed again. Exit 1 when any mail failed or is in "
      "doubt.");
  send->add_option("--year", a->year, "Card year, e.g. 2026")->required()->check(CLI::Range(2000, 2199));
  send->add_option("--rate", a->rate, "Mails per second at most (default [smtp] rate, else 20; 0 = no limit)")
      ->check(CLI::Range(0.0, 10000.0));
  send->add_flag("--dry-run", a->dry_run,
                 "Compose every mail to find bad addresses and count who would be mailed; send nothing and "
                 "write nothing");
  send->add_option("--limit", a->limit, "Mail at most this many holders in this run (default: all)")
      ->check(CLI::Range(int64_t{1}, std::numeric_limits<int64_t>::max()));
  send->add_option("--lang-default", a->lang_default,
                   "Language of the mail for holders whose roster row gives none: nl (default), fr or en")
      ->check(CLI::IsMember({"nl", "fr", "en"}));
  send->add_option("--claim-days", a->claim_days, "Days new claim codes stay valid (default 60)")
      ->check(CLI::Range(1, 400));
  send->add_option("--batch", a->batch,
                   "Holders marked 'sending' with one ledger commit before their mails (default 16): a crash "
                   "leaves at most this many in doubt; 1 = one commit per mail")
      ->check(CLI::Range(1, 1000));
  send->add_option("--public-url", a->public_url,
                   "The site the link points to (default [server] public_url, else $LK_PUBLIC_URL)");
  send->add_option("--ledger", a->ledger_url,
                   "Ledger to use: a SQLite file path or a postgresql:// URL (default: [ledger] url in the "
                   "config, $LK_LEDGER_URL, else <data-dir>/ledger.sqlite)");
  send->callback([&, a] { exit_code = Send(g, *a); });
}

}  // namespace lk::app
