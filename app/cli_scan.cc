// `lerarenkaart scan`: a partner's verdict on a token or a photo of a QR code, online or from the
// cached keys and revocation list of the issuer.
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "scan/scan.h"

namespace lk::app {
namespace {

// Exit codes of `scan` (also in its --help).
constexpr int kExitValid = 0, kExitRefused = 1, kExitBadInput = 2, kExitNoCode = 3, kExitCannotVerify = 4;
constexpr const char* kExitHelp =
    "Exit codes: 0 valid card; 1 card refused (revoked, expired, not yet valid, not a Lerarenkaart, damaged "
    "code, unknown key); 2 bad usage or an unreadable file; 3 no QR code found in an image; 4 cannot verify "
    "(issuer unreachable and no cached keys, or a damaged cache). With several inputs, the highest code.";

std::atomic<bool> stop_watching{false};
extern "C" void OnStopSignal(int) { stop_watching = true; }

struct ScanArgs {
  std::string token, watch, issuer, lang = "nl", cache_dir, token_issuer;
  std::vector<std::string> images;
  bool json = false;
  double max_age_hours = 72;
};

bool IsImageName(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* ext : {".png", ".jpg", ".jpeg"})
    if (lower.ends_with(ext)) return true;
  return false;
}

class Scanner {
 public:
  Scanner(const ScanArgs& a, scan::Lang lang, scan::TrustStore& store) : a_(a), lang_(lang), store_(store) {}

  // Refreshes what the store knows (warnings on stderr); false after reporting an error.
  bool Refresh(int& code) {
    auto k = store_.Refresh();
    if (!k) {
      std::fprintf(stderr, "lerarenkaart scan: %s\n", k.error().message.c_str());
      code = std::max(code, k.error().code == Code::kInvalidArgument ? kExitBadInput : kExitCannotVerify);
      return false;
    }
    knowledge_ = *k;
    if (auto note = scan::KnowledgeSentence(*k, lang_); !note.empty())
      std::fprintf(stderr, "%s\n", note.c_str());
    return true;
  }

  // Judges one token (from `image` when not empty) and prints the verdict; returns its exit code.
  int Token(const std::string& token, const std::string& image) {
    auto v = store_.Judge(token);
    if (a_.json) {
      auto j = nlohmann::json::parse(v.ToJson(lang_));
      if (!image.empty()) j["image"] = image;
      j["knowledge"] = {{"online", knowledge_.online},
                        {"confirmed_at", FormatRfc3339(knowledge_.confirmed_at)},
                        {"age_seconds", knowledge_.age.count()},
                        {"stale", knowledge_.stale},
                        {"list_sequence", knowledge_.list_sequence}};
      std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
      std::printf("%s%s%s\n", image.c_str(), image.empty() ? "" : ": ", v.Sentence(lang_).c_str());
    }
    std::fflush(stdout);
    return v.outcome == scan::Outcome::kValid ? kExitValid : kExitRefused;
  }

  int Image(const std::string& path) {
    auto text = scan::DecodeQrFile(path);
    if (!text) {
      bool none = text.error().code == Code::kNotFound;
      if (a_.json) {
        nlohmann::json j = {{"image", path},
                            {"error", none ? "no_qr_code" : "unreadable"},
                            {"message", text.error().message}};
        std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
        std::fflush(stdout);
      } else {
        std::fprintf(stderr, "lerarenkaart scan: %s\n", text.error().message.c_str());
      }
      return none ? kExitNoCode : kExitBadInput;
    }
    return Token(*text, path);
  }

 private:
  const ScanArgs& a_;
  scan::Lang lang_;
  scan::TrustStore& store_;
  scan::Knowledge knowledge_;
};

// Verdicts on image files that appear in `dir` (closed after writing, or moved in) until SIGINT or
// SIGTERM; the keys and list are refreshed when a minute old.
int Watch(const std::string& dir, Scanner& scanner) {
  int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0 || inotify_add_watch(fd, dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
    std::fprintf(stderr, "lerarenkaart scan: cannot watch %s: %s\n", dir.c_str(), std::strerror(errno));
    if (fd >= 0) close(fd);
    return kExitBadInput;
  }
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::fprintf(stderr, "watching %s for new PNG or JPEG files; Ctrl-C stops\n", dir.c_str());
  auto refreshed = std::chrono::steady_clock::now();
  int code = 0;
  alignas(inotify_event) char buf[16 * 1024];
  while (!stop_watching) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 250) <= 0) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    for (ssize_t off = 0; off < n;) {
      auto* ev = reinterpret_cast<inotify_event*>(buf + off);
      off += sizeof(inotify_event) + ev->len;
      if (ev->len == 0 || !IsImageName(ev->name)) continue;
      if (std::chrono::steady_clock::now() - refreshed > std::chrono::minutes(1)) {
        int ignored = 0;
        scanner.Refresh(ignored);  // on failure the previous knowledge stays in use
        refreshed = std::chrono::steady_clock::now();
      }
      scanner.Image((std::filesystem::path(dir) / ev->name).string());
    }
  }
  close(fd);
  return code;
}

}  // namespace

void AddScanCommand(CLI::App& app, Globals&, int& exit_code) {
  auto a = std::make_shared<ScanArgs>();
  auto* cmd =
      app.add_subcommand("scan",
                         "Verify a card for a partner: a token, QR code images, or each image that appears "
                         "in a folder, against the\n"
                         "issuer's published keys and signed revocation list (cached for offline use).\n" +
                             std::string(kExitHelp));
  cmd->add_option("token", a->token, "The token (the QR code's text)");
  cmd->add_option("--image", a->images, "PNG or JPEG photos or screenshots of QR codes")
      ->check(CLI::ExistingFile);
  cmd->add_option("--watch", a->watch,
                  "Verify each PNG or JPEG file that appears in this folder, until Ctrl-C")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--issuer", a->issuer, "The issuer's URL, e.g. https://lerarenkaart.be")->required();
  cmd->add_flag("--json", a->json, "One JSON object per verdict instead of a sentence");
  cmd->add_option("--lang", a->lang, "Language of the sentences: nl (default), fr or en");
  cmd->add_option(
      "--cache-dir", a->cache_dir,
      "Where the keys and list are kept (default $XDG_CACHE_HOME/lerarenkaart or ~/.cache/lerarenkaart)");
  cmd->add_option("--max-age", a->max_age_hours,
                  "Warn when the revocation list is older than this many hours (default 72)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--token-issuer", a->token_issuer, "The tokens' iss claim, when it differs from --issuer");
  cmd->callback([&exit_code, a] {
    int inputs = !a->token.empty() + !a->images.empty() + !a->watch.empty();
    if (inputs != 1) {
      exit_code =
          Report({Code::kInvalidArgument, "scan: give exactly one of TOKEN, --image FILE... or --watch DIR"});
      return;
    }
    auto lang = scan::ParseLang(a->lang);
    if (!lang) {
      exit_code = Report(lang.error());
      return;
    }
    auto http = scan::CurlGetter();
    SystemClock clock;
    scan::TrustOptions options{a->issuer, a->token_issuer, a->cache_dir,
                               std::chrono::seconds(static_cast<int64_t>(a->max_age_hours * 3600))};
    auto store = scan::TrustStore::Open(std::move(options), *http, clock);
    if (!store) {
      exit_code = Report(store.error());
      return;
    }
    Scanner scanner(*a, *lang, **store);
    int code = 0;
    if (!scanner.Refresh(code)) {
      exit_code = code;
      return;
    }
    if (!a->token.empty()) code = scanner.Token(a->token, "");
    for (const auto& image : a->images) code = std::max(code, scanner.Image(image));
    if (!a->watch.empty()) code = Watch(a->watch, scanner);
    exit_code = code;
  });
}

}  // namespace lk::app
