// `lerarenkaart pass build`: one signed .pkpass, or one per row of a CSV file on every core.
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "app/commands.h"
#include "base/csv.h"
#include "passgen/passgen.h"
#include "templates/templates.h"

namespace lk::app {
namespace {
namespace fs = std::filesystem;

// Everything a build needs that is loaded once: keys, token issuer, a PassBuilder per card year.
class PassFactory {
 public:
  static Result<std::unique_ptr<PassFactory>> Create(const Config& c, const std::string& template_dir) {
    auto f = std::unique_ptr<PassFactory>(new PassFactory);
    auto signer = signing::PassSigner::Load(c.keys);
    if (!signer) return std::unexpected(signer.error());
    f->signer_ = std::move(*signer);
    auto issuer = OpenTokenIssuer(c);
    if (!issuer) return std::unexpected(issuer.error());
    f->issuer_ = std::move(*issuer);
    passgen::PassOptions options;
    options.web_service_url = c.passes.web_service_url;
    if (!options.web_service_url.empty()) {
      auto secret = passgen::LoadOrCreateAuthSecret(c.keys.dir);
      if (!secret) return std::unexpected(secret.error());
      f->auth_secret_ = std::move(*secret);
    }
    f->builders_ = std::make_unique<passgen::PassBuilders>(*f->signer_, std::move(options),
                                                           c.passes.templates_dir, template_dir);
    return f;
  }

  // The builder for a card year (thread-safe; the batch caches the pointer per thread).
  Result<const passgen::PassBuilder*> BuilderFor(int year) {
    auto b = builders_->For(year);
    if (!b && b.error().code == Code::kNotFound)
      b.error().message += " (give --template DIR, or set LK_TEMPLATES_DIR)";
    return b;
  }

  // The .pkpass bytes of one card into `out`: a fresh QR token, then the pass, both at `now`.
  // Without a ledger, the pass's authenticationToken is derived from the serial.
  Result<> Build(const passgen::PassBuilder& builder, Card& card, Time now, std::string& out) const {
    auto token = issuer_->Issue(card.serial, card.year, now);
    if (!token) return std::unexpected(token.error());
    card.token = std::move(*token);
    if (!auth_secret_.empty())
      card.auth_token =
          passgen::AuthenticationToken(auth_secret_, signer_->pass_type_identifier(), card.serial);
    return builder.BuildInto(card, now, out);
  }

 private:
  PassFactory() = default;
  std::unique_ptr<signing::PassSigner> signer_;
  std::unique_ptr<signing::TokenIssuer> issuer_;
  std::string auth_secret_;
  std::unique_ptr<passgen::PassBuilders> builders_;
};

Result<Card> ParseRow(std::string_view line, const std::string& lang) {
  auto fields = ParseCsvLine(line);
  if (!fields) return std::unexpected(fields.error());
  if (fields->size() != 4)
    return Fail(Code::kInvalidArgument,
                "expected 4 columns serial,year,name,school but found " + std::to_string(fields->size()));
  Card card;
  card.serial = Trim((*fields)[0]);
  std::string year(Trim((*fields)[1]));
  if (year.size() != 4 || year.find_first_not_of("0123456789") != std::string::npos)
    return Fail(Code::kInvalidArgument, "year: \"" + year + "\" is not a card year such as 2026");
  card.year = std::stoi(year);
  card.holder_name = Trim((*fields)[2]);
  card.school = Trim((*fields)[3]);
  card.language = lang;
  return card;
}

// Writes all of `bytes` to `fd`; false with errno set on failure.
bool WriteAll(int fd, std::string_view bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

// Publishes `bytes` as `name` in the directory `dir_fd` (`dir` names it in messages) so that a
// reader never sees half a pass; with `overwrite` false an existing file is kept and the row
// fails. The usual way is one anonymous O_TMPFILE file, one write, and one linkat that gives it
// its name (and fails if the name exists); where the file system lacks O_TMPFILE, a named
// temporary file and a rename. No fsync per file: the batch syncs the file system at the end.
Result<> PublishFile(int dir_fd, const std::string& dir, const std::string& name, std::string_view bytes,
                     bool overwrite) {
  auto failure = [&](const char* what, int e) {
    if (e == EEXIST)
      return Fail(Code::kAlreadyExists, dir + "/" + name +
                                            ": already exists (a duplicate serial, or an earlier run; "
                                            "use --overwrite to replace)");
    return Fail(Code::kInternal, dir + "/" + name + ": cannot " + what + ": " + std::strerror(e));
  };
  if (!overwrite) {
    int fd = ::openat(dir_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
    if (fd >= 0) {
      // linkat(fd, "", AT_EMPTY_PATH) names the file without a path walk through /proc, but
      // needs CAP_DAC_READ_SEARCH; without it (ENOENT) the /proc/self/fd link is used, and
      // remembered, so an unprivileged batch tries the first way only once.
      static std::atomic<bool> empty_path{true};
      bool written = WriteAll(fd, bytes), ok = false;
      int e = errno;
      if (written && empty_path.load(std::memory_order_relaxed)) {
        ok = ::linkat(fd, "", dir_fd, name.c_str(), AT_EMPTY_PATH) == 0;
        e = errno;
        if (!ok && (e == ENOENT || e == EPERM)) empty_path.store(false, std::memory_order_relaxed);
      }
      if (written && !ok && !empty_path.load(std::memory_order_relaxed)) {
        char proc[64];
        std::snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        ok = ::linkat(AT_FDCWD, proc, dir_fd, name.c_str(), AT_SYMLINK_FOLLOW) == 0;
        e = errno;
      }
      ::close(fd);
      if (ok) return {};
      if (e != ENOENT) return failure("write", e);  // ENOENT: no /proc; use a named file below
    } else if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
      return failure("create", errno);
    }
  }
  std::string tmp = "." + name + ".tmp-" + HexEncode(RandomBytes(4));
  int fd = ::openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return failure("create", errno);
  bool ok = WriteAll(fd, bytes);
  int e = errno;
  ::close(fd);
  if (ok) {
    ok = (overwrite ? ::renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str())
                    : ::renameat2(dir_fd, tmp.c_str(), dir_fd, name.c_str(), RENAME_NOREPLACE)) == 0;
    e = errno;
    if (!ok && !overwrite && e == EINVAL) {  // file system without RENAME_NOREPLACE
      ok = ::linkat(dir_fd, tmp.c_str(), dir_fd, name.c_str(), 0) == 0;
      e = errno;
    }
  }
  if (!ok || !overwrite) ::unlinkat(dir_fd, tmp.c_str(), 0);  // after a link, or a failure
  return ok ? Result<>{} : failure(overwrite ? "replace" : "write", e);
}

struct BuildArgs {
  std::string serial, name, school, lang = "nl", output, batch, out_dir, template_dir, at, web_service_url;
  int year = 0;
  unsigned jobs = 0;
  bool voided = false, overwrite = false, no_web_service = false;
};

int BuildOne(PassFactory& factory, const BuildArgs& a, Time now) {
  for (auto [flag, value] :
       {std::pair{"--serial", &a.serial}, {"--name", &a.name}, {"--school", &a.school}, {"-o", &a.output}})
    if (value->empty())
      return Report({Code::kInvalidArgument, std::string("pass build: ") + flag + " is required"});
  if (a.year == 0) return Report({Code::kInvalidArgument, "pass build: --year is required"});
  Card card{.serial = a.serial,
            .year = a.year,
            .holder_name = a.name,
            .school = a.school,
            .language = a.lang,
            .revoked = a.voided};
  if (a.voided) card.revoked_at = now;  // a voided pass also expires now (for readers that ignore voided)
  auto builder = factory.BuilderFor(card.year);
  if (!builder) return Report(builder.error());
  std::string bytes;
  if (auto r = factory.Build(**builder, card, now, bytes); !r) return Report(r.error());
  if (auto w = WriteFileAtomic(
          a.output, bytes,
          fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
      !w)
    return Report(w.error());
  std::printf("wrote %s (%zu bytes): card %s, year %d\n", a.output.c_str(), bytes.size(), a.serial.c_str(),
              a.year);
  return 0;
}

// Hands out the CSV's rows in chunks, so threads take the lock once per chunk, not per row.
class RowReader {
 public:
  static constexpr size_t kChunk = 32;
  struct Row {
    size_t line = 0;
    std::string text;
  };
  explicit RowReader(std::istream& in) : in_(in) {}

  // Fills `rows` with up to kChunk non-blank data rows; false when the file is done.
  bool Next(std::vector<Row>& rows) {
    rows.resize(kChunk);
    size_t n = 0;
    std::lock_guard lock(mu_);
    while (n < kChunk && std::getline(in_, rows[n].text)) {
      std::string& line = rows[n].text;
      ++line_no_;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line_no_ == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
      if (Trim(line).empty()) continue;
      if (line_no_ == 1 && Trim(line) == "serial,year,name,school") continue;  // header
      rows[n++].line = line_no_;
    }
    rows.resize(n);
    return n > 0;
  }

 private:
  std::istream& in_;
  std::mutex mu_;
  size_t line_no_ = 0;
};

// Builds one pass per CSV row on `jobs` threads. Threads take chunks of rows, keep their own
// pass buffer and their own card-year -> builder lookup, and write each pass with one write(2);
// memory stays flat however long the file is. Returns the exit code.
int BuildBatch(PassFactory& factory, const BuildArgs& a, Time now) {
  std::ifstream in(a.batch, std::ios::binary);
  if (!in) return Report({Code::kInvalidArgument, a.batch + ": cannot open"});
  std::error_code ec;
  fs::create_directories(a.out_dir, ec);
  if (ec || !fs::is_directory(a.out_dir))
    return Report({Code::kInvalidArgument, a.out_dir + ": cannot create the output directory"});
  int dir_fd = ::open(a.out_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0)
    return Report({Code::kInvalidArgument, a.out_dir + ": cannot open: " + std::strerror(errno)});
  const bool tty = ::isatty(2);
  size_t total = 0;
  if (tty) {  // count rows first so that the bar knows its end (one fast pass over the file)
    std::ifstream count(a.batch, std::ios::binary);
    char buf[1 << 16];
    while (count.read(buf, sizeof buf) || count.gcount() > 0)
      total += static_cast<size_t>(std::count(buf, buf + count.gcount(), '\n'));
  }

  RowReader reader(in);
  std::mutex print_mu;
  std::atomic<size_t> built{0}, failed{0}, processed{0};
  auto report_row = [&](size_t line, const std::string& msg) {
    std::lock_guard lock(print_mu);
    std::fprintf(stderr, "%s%s:%zu: %s\n", tty ? "\r\033[K" : "", a.batch.c_str(), line, msg.c_str());
  };
  auto work = [&] {
    std::vector<RowReader::Row> rows;
    std::string bytes;                                            // this thread's pass buffer, reused
    std::map<int, Result<const passgen::PassBuilder*>> builders;  // this thread's view of the years
    while (reader.Next(rows)) {
      size_t ok = 0;
      for (const auto& row : rows) {
        auto card = ParseRow(row.text, a.lang);
        Result<> r;
        if (!card) r = std::unexpected(card.error());
        if (r) {
          auto it = builders.find(card->year);
          if (it == builders.end()) it = builders.emplace(card->year, factory.BuilderFor(card->year)).first;
          if (!it->second)
            r = std::unexpected(it->second.error());
          else
            r = factory.Build(**it->second, *card, now, bytes);
        }
        if (r) r = PublishFile(dir_fd, a.out_dir, card->serial + ".pkpass", bytes, a.overwrite);
        if (r)
          ++ok;
        else
          report_row(row.line, r.error().message);
      }
      built.fetch_add(ok, std::memory_order_relaxed);
      failed.fetch_add(rows.size() - ok, std::memory_order_relaxed);
      processed.fetch_add(rows.size(), std::memory_order_relaxed);
    }
  };

  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  std::mutex done_mu;
  std::condition_variable done_cv;
  bool done = false;
  std::jthread progress;
  if (tty) {
    progress = std::jthread([&] {
      std::unique_lock lock(done_mu);
      while (!done_cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return done; })) {
        size_t p = processed.load();
        size_t width = 30, fill = total ? std::min(width, p * width / total) : 0;
        std::lock_guard plock(print_mu);
        std::fprintf(stderr, "\r[%s%s] %zu/%zu rows  %.0f passes/s\033[K", std::string(fill, '#').c_str(),
                     std::string(width - fill, '.').c_str(), p, total,
                     double(built.load()) / std::max(elapsed(), 1e-9));
      }
    });
  }
  unsigned jobs = a.jobs ? a.jobs : std::max(1u, std::thread::hardware_concurrency());
  {
    std::vector<std::jthread> threads;
    for (unsigned t = 1; t < jobs; ++t) threads.emplace_back(work);
    work();
  }
  {
    std::lock_guard lock(done_mu);
    done = true;
  }
  done_cv.notify_all();
  if (progress.joinable()) progress.join();
  if (tty) std::fprintf(stderr, "\r\033[K");
  if (in.bad()) {
    ::close(dir_fd);
    return Report({Code::kInternal, a.batch + ": read error"});
  }
  double secs = elapsed();
  // One flush of the output's file system for the whole batch instead of an fsync per pass;
  // the summary says "durable" only once it succeeded.
  bool durable = ::syncfs(dir_fd) == 0 && ::fsync(dir_fd) == 0;
  ::close(dir_fd);
  std::printf(
      "built %zu passes in %.2f s (%.0f passes/s, %u threads), %s in %.2f s; %zu rows failed; "
      "output in %s\n",
      built.load(), secs, double(built.load()) / std::max(secs, 1e-9), jobs,
      durable ? "flushed to disk (durable)" : "NOT flushed to disk (syncfs failed)", elapsed() - secs,
      failed.load(), a.out_dir.c_str());
  return failed || !durable ? 1 : 0;
}

}  // namespace

void AddPassCommands(CLI::App& app, Globals& g, int& exit_code) {
  auto* pass = app.add_subcommand("pass", "Apple Wallet passes: build signed .pkpass files");
  pass->require_subcommand(1);
  auto* build = pass->add_subcommand(
      "build",
      "Build a signed Apple Wallet pass (.pkpass) for one card (--serial --year --name --school -o FILE),\n"
      "or one pass per row of a CSV file (--batch CSV --out-dir DIR; columns serial,year,name,school,\n"
      "an optional header row; passes are written as DIR/<serial>.pkpass on every core). Each pass gets\n"
      "a freshly issued QR token. The design comes from the card year's template (templates/<year>).\n"
      "Exit 0 when every pass was built, 1 when any row failed (each is reported with its line), 2 on\n"
      "bad usage.");
  auto a = std::make_shared<BuildArgs>();
  build->add_option("--serial", a->serial, "Card serial (1-40 letters, digits, '-' or '_')");
  build->add_option("--year", a->year, "Card year, e.g. 2026");
  build->add_option("--name", a->name, "Holder's name as shown on the card");
  build->add_option("--school", a->school, "Holder's school as shown on the card");
  build->add_option("--lang", a->lang,
                    "Fallback language of the pass (nl, fr or en; default nl). Every pass carries all the "
                    "template's languages and Wallet shows the phone's; this one is used otherwise");
  build->add_flag("--voided", a->voided,
                  "Mark the pass void (a revoked card); it also expires at --at (default now)");
  build->add_option("-o,--output", a->output, "Where to write the .pkpass (one card)");
  build->add_option("--batch", a->batch, "CSV file with columns serial,year,name,school")
      ->check(CLI::ExistingFile);
  build->add_option("--out-dir", a->out_dir, "Output directory for --batch (created if absent)");
  build->add_option("-j,--jobs", a->jobs, "Threads for --batch (default: every core)");
  build->add_flag("--overwrite", a->overwrite,
                  "Replace passes already in --out-dir (default: such rows fail)");
  build->add_option("--template", a->template_dir,
                    "Template directory (default <templates>/<year>, where <templates> is $LK_TEMPLATES_DIR, "
                    "[passes] templates_dir, or the source tree's templates/)");
  build->add_option("--web-service-url", a->web_service_url,
                    "PassKit web service base URL in the pass (default [passes] web_service_url, "
                    "https://lerarenkaart.be/wallet/)");
  build->add_flag("--no-web-service", a->no_web_service, "Leave webServiceURL and authenticationToken out");
  build->add_option("--at", a->at, "Sign as if it were this RFC 3339 time (default now)");
  build->callback([&, a] {
    if (a->batch.empty() == a->output.empty() || (!a->batch.empty() && a->out_dir.empty())) {
      exit_code = Report({Code::kInvalidArgument,
                          "pass build: give either -o FILE (one card) or --batch CSV --out-dir DIR"});
      return;
    }
    // libzip converts each entry's DOS time with mktime, and glibc's mktime stats
    // /etc/localtime on every call unless TZ is set: name the same zone explicitly (about 15
    // stat calls saved per pass; the archive bytes do not depend on the zone).
    ::setenv("TZ", ":/etc/localtime", /*overwrite=*/0);
    auto c = Load(g);
    if (!c) {
      exit_code = Report(c.error());
      return;
    }
    if (!a->web_service_url.empty()) c->passes.web_service_url = a->web_service_url;
    if (a->no_web_service) c->passes.web_service_url.clear();
    Time now = SystemClock().Now();
    if (!a->at.empty()) {
      auto t = ParseRfc3339(a->at);
      if (!t) {
        exit_code = Report({Code::kInvalidArgument, "--at: " + t.error().message});
        return;
      }
      now = *t;
    }
    auto factory = PassFactory::Create(*c, a->template_dir);
    if (!factory) {
      exit_code = Report(factory.error());
      return;
    }
    exit_code = a->batch.empty() ? BuildOne(**factory, *a, now) : BuildBatch(**factory, *a, now);
  });
}

std::string PassTemplateWarning(const Config& c, int year) {
  const fs::path dir = c.passes.templates_dir / std::to_string(year);
  std::string why;
  if (!fs::exists(dir / "template.json")) {
    // No template of its own: an earlier one may declare that it serves following years.
    if (auto t = templates::Template::LoadFor(c.passes.templates_dir, year); !t) why = t.error().message;
  } else if (auto t = templates::Template::Load(dir); !t) {
    why = t.error().message;
  } else if ((*t)->year() != year) {
    why = (dir / "template.json").string() + " is for card year " + std::to_string((*t)->year());
  }
  if (why.empty()) return "";
  return "warning: no Apple pass template covers card year " + std::to_string(year) + " (" + why +
         "): its claims and pass downloads will answer 503 until one is added under " +
         c.passes.templates_dir.string() + " (see docs/passgen.md)";
}

}  // namespace lk::app
