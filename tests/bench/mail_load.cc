// The claim mail load driver of tests/bench/mail_load.sh: composes and sends N claim mails
// through the SMTP mailer (one connection) with a file journal, as `claims send` will, and
// prints the rate, the projected time for 213,132 mails and the memory (RSS) as it goes.
//   mail_load --url smtp://127.0.0.1:PORT --journal PATH [--count N] [--rate R] [--batch B]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "mail/claim_mail.h"
#include "tests/bench/process_usage.h"

namespace {
long RssKb() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}
}  // namespace

int main(int argc, char** argv) {
  using namespace lk;
  using namespace lk::mail;
  std::string url, journal_path;
  long count = 20000;
  double rate = 0;
  int batch = ClaimMailRunOptions().batch;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--url")
      url = argv[i + 1];
    else if (a == "--count")
      count = std::atol(argv[i + 1]);
    else if (a == "--journal")
      journal_path = argv[i + 1];
    else if (a == "--rate")
      rate = std::atof(argv[i + 1]);
    else if (a == "--batch")
      batch = std::atoi(argv[i + 1]);
  }
  if (url.empty() || journal_path.empty()) {
    std::fprintf(stderr, "usage: mail_load --url URL --journal PATH [--count N] [--rate R]\n");
    return 2;
  }
  SystemClock clock;
  ClaimMailOptions o;
  o.public_url = "https://lerarenkaart.be";
  o.from = {"kaart@lerarenkaart.be", "Lerarenkaart"};
  o.year = 2026;
  auto composer = ClaimMailComposer::Create(o, clock).value();
  SmtpConfig config;
  config.url = url;
  config.starttls = StartTls::kOff;
  config.rate_per_second = rate;
  auto mailer = NewSmtpMailer(config, clock);
  if (!mailer) {
    std::fprintf(stderr, "%s\n", mailer.error().message.c_str());
    return 1;
  }
  auto journal = OpenFileJournal(journal_path);
  if (!journal) {
    std::fprintf(stderr, "%s\n", journal.error().message.c_str());
    return 1;
  }
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  std::vector<ClaimMailRow> rows;
  rows.reserve(static_cast<size_t>(count));
  for (long i = 0; i < count; ++i) {
    std::string code;
    uint64_t x = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
    for (int k = 0; k < 16; ++k) {
      if (k && k % 4 == 0) code += '-';
      code += kAlphabet[(x >> (k * 4)) & 31];
    }
    char id[32];
    std::snprintf(id, sizeof id, "S%07ld", i);
    rows.push_back({id, "leraar" + std::to_string(i) + "@school.example.be",
                    "Leraar Nummer " + std::to_string(i), static_cast<Language>(i % 3), code});
  }
  std::printf("rows=%ld rss_after_rows_kb=%ld\n", count, RssKb());
  auto start = std::chrono::steady_clock::now();
  ClaimMailRunOptions options;
  options.batch = batch;
  std::printf("journal batch=%d (one fsync per batch)\n", batch);
  options.progress = [&](const Progress& p) {
    if (p.done % (count / 4 > 0 ? count / 4 : 1) == 0) {
      double s = lk::bench::SecondsSince(start);
      std::printf("  %lld/%lld after %.1f s, rss_kb=%ld\n", static_cast<long long>(p.done),
                  static_cast<long long>(p.total), s, RssKb());
      std::fflush(stdout);
    }
  };
  auto summary = RunClaimMail(rows, *composer, **mailer, **journal, options);
  double seconds = lk::bench::SecondsSince(start);
  std::printf("sent=%lld skipped=%lld failed=%zu in_doubt=%zu%s%s\n", static_cast<long long>(summary.sent),
              static_cast<long long>(summary.skipped), summary.failed.size(), summary.in_doubt.size(),
              summary.stopped ? " stopped: " : "", summary.stopped ? summary.stopped->message.c_str() : "");
  if (!summary.failed.empty()) std::printf("first failure: %s\n", summary.failed[0].reason.c_str());
  double per_s = static_cast<double>(summary.sent) / seconds;
  std::printf("seconds=%.1f mails_per_s=%.0f projected_213132_s=%.0f peak_rss_kb=%ld\n", seconds, per_s,
              213132 / per_s, lk::bench::PeakRssKb());
  return summary.stopped || !summary.failed.empty() ? 1 : 0;
}
