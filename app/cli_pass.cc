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
#include "passgen/passgen.h"

namespace lk::app {
namespace {
namespace fs = std::filesystem;

// Everything a build needs that is loaded once: keys, token issuer, templates per card year.
class PassFactory {
 public:
  static Result<std::unique_ptr<PassFactory>> Create(const Config& c, const std::string& template_dir) {
    auto f = std::unique_ptr<PassFactory>(new PassFactory);
    f->templates_root_ = c.passes.templates_dir;
    f->template_dir_ = template_dir;
    auto signer = signing::PassSigner::Load(c.keys);
    if (!signer) return std::unexpected(signer.error());
    f->signer_ = std::move(*signer);
    auto ring = signing::Keyring::Open(c.keys);
    if (!ring) return std::unexpected(ring.error());
    auto issuer = signing::TokenIssuer::Create(**ring, c.tokens);
    if (!issuer) return std::unexpected(issuer.error());
    f->issuer_ = std::move(*issuer);
    f->options_.web_service_url = c.passes.web_service_url;
    if (!f->options_.web_service_url.empty()) {
      auto secret = passgen::LoadOrCreateAuthSecret(c.keys.dir);
      if (!secret) return std::unexpected(secret.error());
      f->options_.auth_secret = std::move(*secret);
    }
    return f;
  }

  // The .pkpass bytes of one card: a fresh QR token, then the pass, both at `now`.
  Result<std::string> Build(passgen::Card card, Time now) {
    auto builder = BuilderFor(card.year);
    if (!builder) return std::unexpected(builder.error());
    auto token = issuer_->Issue(card.serial, card.year, now);
    if (!token) return std::unexpected(token.error());
    card.token = std::move(*token);
    return (*builder)->Build(card, now);
  }

 private:
  PassFactory() = default;

  // The builder for a card year, loading templates/<year> on first use. Thread-safe.
  Result<const passgen::PassBuilder*> BuilderFor(int year) {
    std::lock_guard lock(mu_);
    auto it = builders_.find(year);
    if (it == builders_.end()) {
      Entry e;
      fs::path dir = template_dir_.empty() ? templates_root_ / std::to_string(year) : fs::path(template_dir_);
      auto t = templates::Template::Load(dir);
      if (!t) {
        e.error = t.error();
        if (template_dir_.empty() && !fs::exists(dir))
          e.error.message = dir.string() + ": no template for card year " + std::to_string(year) +
                            " (give --template DIR, or set LK_TEMPLATES_DIR)";
      } else {
        e.tmpl = std::move(*t);
        auto b = passgen::PassBuilder::Create(*e.tmpl, *signer_, options_);
        if (b) e.builder = std::move(*b);
        else e.error = b.error();
      }
      it = builders_.emplace(year, std::move(e)).first;
    }
    if (!it->second.builder) return std::unexpected(it->second.error);
    return it->second.builder.get();
  }

  struct Entry {
    std::unique_ptr<templates::Template> tmpl;
    std::unique_ptr<passgen::PassBuilder> builder;
    Error error;
  };
  fs::path templates_root_;
  std::string template_dir_;
  std::unique_ptr<signing::PassSigner> signer_;
  std::unique_ptr<signing::TokenIssuer> issuer_;
  passgen::PassOptions options_;
  std::mutex mu_;
  std::map<int, Entry> builders_;
};

// One CSV record on one line (RFC 4180 quoting, no line breaks inside fields).
Result<std::vector<std::string>> SplitCsv(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false, was_quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      if (!fields.back().empty() || was_quoted) return Fail(Code::kInvalidArgument, "a quote inside an unquoted field");
      quoted = was_quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
      was_quoted = false;
    } else {
      if (was_quoted) return Fail(Code::kInvalidArgument, "text after a closing quote");
      fields.back() += c;
    }
  }
  if (quoted) return Fail(Code::kInvalidArgument, "unterminated quoted field (fields cannot span lines)");
  return fields;
}

std::string Trim(std::string s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

Result<passgen::Card> ParseRow(std::string_view line, const std::string& lang) {
  auto fields = SplitCsv(line);
  if (!fields) return std::unexpected(fields.error());
  if (fields->size() != 4)
    return Fail(Code::kInvalidArgument,
                "expected 4 columns serial,year,name,school but found " + std::to_string(fields->size()));
  passgen::Card card;
  card.serial = Trim((*fields)[0]);
  std::string year = Trim((*fields)[1]);
  if (year.size() != 4 || year.find_first_not_of("0123456789") != std::string::npos)
    return Fail(Code::kInvalidArgument, "year: \"" + year + "\" is not a card year such as 2026");
  card.year = std::stoi(year);
  card.holder_name = Trim((*fields)[2]);
  card.school = Trim((*fields)[3]);
  card.language = lang;
  return card;
}

// Writes `bytes` to `path` through a temporary file and a rename, so a reader never sees half a
// pass; with `overwrite` false an existing file is kept and the row fails. No fsync per file: the
// batch syncs the file system once at the end.
Result<> PublishFile(const fs::path& path, std::string_view bytes, bool overwrite) {
  fs::path tmp = path.parent_path() / ("." + path.filename().string() + ".tmp-" + HexEncode(RandomBytes(4)));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Fail(Code::kInternal, tmp.string() + ": cannot create: " + std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Fail(Code::kInternal, path.string() + ": cannot write: " + std::strerror(e));
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  int rc = overwrite ? ::rename(tmp.c_str(), path.c_str())
                     : ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
  if (rc != 0 && !overwrite && errno == EINVAL) {  // file system without RENAME_NOREPLACE
    rc = ::link(tmp.c_str(), path.c_str());
    if (rc == 0) ::unlink(tmp.c_str());
  }
  if (rc != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    if (e == EEXIST)
      return Fail(Code::kAlreadyExists, path.string() + ": already exists (a duplicate serial, or an earlier run; "
                                                        "use --overwrite to replace)");
    return Fail(Code::kInternal, path.string() + ": cannot publish: " + std::strerror(e));
  }
  return {};
}

struct BuildArgs {
  std::string serial, name, school, lang = "nl", output, batch, out_dir, template_dir, at, web_service_url;
  int year = 0;
  unsigned jobs = 0;
  bool voided = false, overwrite = false, no_web_service = false;
};

int BuildOne(PassFactory& factory, const BuildArgs& a, Time now) {
  for (auto [flag, value] : {std::pair{"--serial", &a.serial}, {"--name", &a.name}, {"--school", &a.school},
                             {"-o", &a.output}})
    if (value->empty()) return Report({Code::kInvalidArgument, std::string("pass build: ") + flag + " is required"});
  if (a.year == 0) return Report({Code::kInvalidArgument, "pass build: --year is required"});
  passgen::Card card{a.serial, a.year, a.name, a.school, "", a.lang, a.voided};
  auto bytes = factory.Build(card, now);
  if (!bytes) return Report(bytes.error());
  if (auto w = WriteFileAtomic(a.output, *bytes, fs::perms::owner_read | fs::perms::owner_write |
                                                     fs::perms::group_read | fs::perms::others_read);
      !w)
    return Report(w.error());
  std::printf("wrote %s (%zu bytes): card %s, year %d\n", a.output.c_str(), bytes->size(), a.serial.c_str(), a.year);
  return 0;
}

// Builds one pass per CSV row on `jobs` threads. Rows are read and handed out one at a time, so
// memory stays flat however long the file is. Returns the exit code.
int BuildBatch(PassFactory& factory, const BuildArgs& a, Time now) {
  std::ifstream in(a.batch, std::ios::binary);
  if (!in) return Report({Code::kInvalidArgument, a.batch + ": cannot open"});
  std::error_code ec;
  fs::create_directories(a.out_dir, ec);
  if (ec || !fs::is_directory(a.out_dir))
    return Report({Code::kInvalidArgument, a.out_dir + ": cannot create the output directory"});
  const bool tty = ::isatty(2);
  size_t total = 0;
  if (tty) {  // count rows first so that the bar knows its end (one fast pass over the file)
    std::ifstream count(a.batch, std::ios::binary);
    char buf[1 << 16];
    while (count.read(buf, sizeof buf) || count.gcount() > 0)
      total += static_cast<size_t>(std::count(buf, buf + count.gcount(), '\n'));
  }

  std::mutex read_mu, print_mu;
  size_t line_no = 0;
  std::atomic<size_t> built{0}, failed{0}, processed{0};
  auto report_row = [&](size_t line, const std::string& msg) {
    std::lock_guard lock(print_mu);
    std::fprintf(stderr, "%s%s:%zu: %s\n", tty ? "\r\033[K" : "", a.batch.c_str(), line, msg.c_str());
  };
  auto next_row = [&](std::string& line) -> size_t {
    std::lock_guard lock(read_mu);
    while (std::getline(in, line)) {
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line_no == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
      if (Trim(line).empty()) continue;
      if (line_no == 1 && Trim(line) == "serial,year,name,school") continue;  // header
      return line_no;
    }
    return 0;
  };
  auto work = [&] {
    std::string line;
    for (size_t n; (n = next_row(line)) != 0; ++processed) {
      auto card = ParseRow(line, a.lang);
      Result<std::string> bytes = card ? factory.Build(*card, now) : std::unexpected(card.error());
      if (bytes) {
        if (auto w = PublishFile(fs::path(a.out_dir) / (card->serial + ".pkpass"), *bytes, a.overwrite); !w)
          bytes = std::unexpected(w.error());
      }
      if (bytes) {
        ++built;
      } else {
        ++failed;
        report_row(n, bytes.error().message);
      }
    }
  };

  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
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
                     std::string(width - fill, '.').c_str(), p, total, double(built.load()) / std::max(elapsed(), 1e-9));
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
  if (in.bad()) return Report({Code::kInternal, a.batch + ": read error"});
  double secs = elapsed();
  // One flush of the output's file system for the whole batch instead of an fsync per pass.
  int dir_fd = ::open(a.out_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::syncfs(dir_fd);
    ::close(dir_fd);
  }
  std::printf("built %zu passes in %.2f s (%.0f passes/s, %u threads), flushed to disk in %.2f s; %zu rows failed; "
              "output in %s\n",
              built.load(), secs, double(built.load()) / std::max(secs, 1e-9), jobs, elapsed() - secs, failed.load(),
              a.out_dir.c_str());
  return failed ? 1 : 0;
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
  build->add_flag("--voided", a->voided, "Mark the pass void (a revoked card)");
  build->add_option("-o,--output", a->output, "Where to write the .pkpass (one card)");
  build->add_option("--batch", a->batch, "CSV file with columns serial,year,name,school")->check(CLI::ExistingFile);
  build->add_option("--out-dir", a->out_dir, "Output directory for --batch (created if absent)");
  build->add_option("-j,--jobs", a->jobs, "Threads for --batch (default: every core)");
  build->add_flag("--overwrite", a->overwrite, "Replace passes already in --out-dir (default: such rows fail)");
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
      exit_code = Report({Code::kInvalidArgument, "pass build: give either -o FILE (one card) or --batch CSV --out-dir DIR"});
      return;
    }
    // libzip converts each entry's DOS time with mktime, and glibc's mktime stats
    // /etc/localtime on every call unless TZ is set: name the same zone explicitly (about 15
    // stat calls saved per pass; the archive bytes do not depend on the zone).
    ::setenv("TZ", ":/etc/localtime", /*overwrite=*/0);
    auto c = Load(g);
    if (!c) { exit_code = Report(c.error()); return; }
    if (!a->web_service_url.empty()) c->passes.web_service_url = a->web_service_url;
    if (a->no_web_service) c->passes.web_service_url.clear();
    Time now = SystemClock().Now();
    if (!a->at.empty()) {
      auto t = ParseRfc3339(a->at);
      if (!t) { exit_code = Report({Code::kInvalidArgument, "--at: " + t.error().message}); return; }
      now = *t;
    }
    auto factory = PassFactory::Create(*c, a->template_dir);
    if (!factory) { exit_code = Report(factory.error()); return; }
    exit_code = a->batch.empty() ? BuildOne(**factory, *a, now) : BuildBatch(**factory, *a, now);
  });
}

}  // namespace lk::app
