#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>
#include <unordered_set>

#include "app/commands.h"
#include "signing/revocation_list.h"

namespace lk::app {
namespace {

Result<Time> AtOrNow(const std::string& at) {
  if (at.empty()) return SystemClock().Now();
  return ParseRfc3339(at);
}

// Verifies tokens on every core, printing verdicts in input order; a valid token of a card in
// `revoked` ("SERIAL/YEAR") is refused as "revoked". Returns how many were invalid and whether
// one was refused for an unknown kid.
struct Tally {
  size_t invalid = 0;
  bool unknown_kid = false;
};
Tally VerifyAll(const signing::TokenVerifier& verifier, const std::vector<std::string>& tokens, Time at,
                const std::unordered_set<std::string>& revoked) {
  std::vector<std::string> out(tokens.size());
  std::atomic<size_t> next{0}, invalid{0};
  std::atomic<bool> unknown_kid{false};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < tokens.size();) {
      auto v = verifier.Verify(tokens[i], at);
      if (v.valid && v.year && revoked.contains(v.serial + "/" + std::to_string(*v.year))) {
        v.valid = false;
        v.reason = "revoked";
      }
      if (v.reason == "unknown_kid") unknown_kid = true;
      if (!v.valid) ++invalid;
      out[i] = v.ToJson();
    }
  };
  unsigned n = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), 16));
  if (tokens.size() < 64) n = 1;
  std::vector<std::jthread> threads;
  for (unsigned t = 1; t < n; ++t) threads.emplace_back(work);
  work();
  threads.clear();
  std::string buf;
  for (auto& line : out) {
    buf += line;
    buf += '\n';
  }
  std::fwrite(buf.data(), 1, buf.size(), stdout);
  return {invalid.load(), unknown_kid.load()};
}

// Where a partner gets the keys that verify genuine cards (never from `keys init`, which makes
// new keys of its own that no card is signed with).
constexpr const char* kPartnerKeysHint =
    "a partner verifies with the issuer's published keys: `lerarenkaart scan --issuer "
    "https://lerarenkaart.be "
    "TOKEN` (fetches and caches them, with the revocation list), or `curl -o jwks.json "
    "https://lerarenkaart.be/.well-known/jwks.json` and `token verify --jwks jwks.json`";

}  // namespace

void AddTokenCommands(CLI::App& app, Globals& g, int& exit_code) {
  auto* token = app.add_subcommand("token", "Issue and verify the signed QR tokens that partners scan");
  token->require_subcommand(1);

  auto* issue = token->add_subcommand("issue", "Print a compact ES256 token for one card");
  struct IssueArgs {
    std::string serial, at;
    int year = 0;
  };
  auto ia = std::make_shared<IssueArgs>();
  issue->add_option("--serial", ia->serial, "Card serial (letters, digits, '-', '_')")->required();
  issue->add_option("--year", ia->year, "Card year, e.g. 2026")->required();
  issue->add_option("--at", ia->at, "Issue as if it were this RFC 3339 time (default now)");
  issue->callback([&, ia] {
    auto c = Load(g);
    if (!c) {
      exit_code = Report(c.error());
      return;
    }
    auto at = AtOrNow(ia->at);
    if (!at) {
      exit_code = Report(at.error());
      return;
    }
    auto issuer = OpenTokenIssuer(*c);
    if (!issuer) {
      exit_code = Report(issuer.error());
      return;
    }
    auto tok = (*issuer)->Issue(ia->serial, ia->year, *at);
    if (!tok) {
      exit_code = Report(tok.error());
      return;
    }
    std::printf("%s\n", tok->c_str());
  });

  auto* verify = token->add_subcommand(
      "verify", "Verify tokens; prints one JSON verdict per token; exit 0 only if all are valid");
  struct VerifyArgs {
    std::string token, batch, jwks, at, revocations;
  };
  auto va = std::make_shared<VerifyArgs>();
  verify->add_option("token", va->token, "The token to verify");
  verify->add_option("--batch", va->batch, "File with one token per line ('-' for standard input)");
  verify->add_option("--jwks", va->jwks, "Verify against this published JWK Set instead of the local keyring")
      ->check(CLI::ExistingFile);
  verify
      ->add_option("--revocations", va->revocations,
                   "A saved signed revocation list (GET /v1/revocations), verified with the same keys; a "
                   "revoked card is refused as \"revoked\"")
      ->check(CLI::ExistingFile);
  verify->add_option("--at", va->at, "Check validity at this RFC 3339 time (default now)");
  verify->callback([&, va] {
    auto& [tok_arg, batch, jwks, at_verify, revocations] = *va;
    if (tok_arg.empty() == batch.empty()) {
      exit_code = Report({Code::kInvalidArgument, "token verify: give either TOKEN or --batch FILE"});
      return;
    }
    auto c = Load(g);
    if (!c) {
      exit_code = Report(c.error());
      return;
    }
    auto at = AtOrNow(at_verify);
    if (!at) {
      exit_code = Report(at.error());
      return;
    }
    signing::KeySet keys;
    if (!jwks.empty()) {
      auto text = ReadFile(jwks);
      if (!text) {
        exit_code = Report({Code::kInvalidArgument, text.error().message});
        return;
      }
      auto set = signing::KeySet::FromJwks(*text);
      if (!set) {
        exit_code = Report({Code::kInvalidArgument, jwks + ": " + set.error().message});
        return;
      }
      keys = std::move(*set);
    } else {
      auto ring = signing::Keyring::Open(c->keys);
      if (!ring && ring.error().code == Code::kNotFound) {
        exit_code =
            Report({ring.error().code, "no keyring in " + c->keys.dir.string() + "; " + kPartnerKeysHint});
        return;
      }
      if (!ring) {
        exit_code = Report(ring.error());
        return;
      }
      keys = (*ring)->Published(*at);
    }
    std::unordered_set<std::string> revoked;
    if (!revocations.empty()) {
      auto text = ReadFile(revocations);
      if (!text) {
        exit_code = Report({Code::kInvalidArgument, text.error().message});
        return;
      }
      auto list = signing::RevocationVerifier::Create(keys, c->tokens)->Verify(Trim(*text), *at);
      if (!list) {
        exit_code = Report({Code::kInvalidArgument, revocations + ": refused (" + list.error().reason +
                                                        "): " + list.error().message});
        return;
      }
      for (const auto& [serial, year] : list->revoked) revoked.insert(serial + "/" + std::to_string(year));
    }
    auto verifier = signing::TokenVerifier::Create(std::move(keys), c->tokens);
    std::vector<std::string> tokens;
    if (!batch.empty()) {
      std::ifstream file;
      std::istream* in = &std::cin;
      if (batch != "-") {
        file.open(batch);
        if (!file) {
          exit_code = Report({Code::kInvalidArgument, batch + ": cannot open"});
          return;
        }
        in = &file;
      }
      for (std::string line; std::getline(*in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!line.empty()) tokens.push_back(std::move(line));
      }
    } else {
      tokens.push_back(tok_arg);
    }
    auto tally = VerifyAll(*verifier, tokens, *at, revoked);
    if (tally.unknown_kid)
      std::fprintf(stderr, "lerarenkaart: unknown_kid: the token was signed with a key not in %s; %s\n",
                   jwks.empty() ? "the local keyring" : jwks.c_str(), kPartnerKeysHint);
    exit_code = tally.invalid == 0 ? 0 : 1;
  });
}

void AddDemoCommand(CLI::App& app, Globals& g, int& exit_code) {
  app.add_subcommand("demo", "Create development keys if absent, then issue and verify a sample token")
      ->callback([&] {
        auto c = Load(g);
        if (!c) {
          exit_code = Report(c.error());
          return;
        }
        SystemClock clock;
        if (!signing::KeysExist(c->keys)) {
          if (auto r = signing::InitDevelopmentKeys(c->keys, clock); !r) {
            exit_code = Report(r.error());
            return;
          }
          std::printf("created development keys in %s\n", c->keys.dir.c_str());
        }
        auto ring = signing::Keyring::Open(c->keys);
        if (!ring) {
          exit_code = Report(ring.error());
          return;
        }
        auto issuer = signing::TokenIssuer::Create(**ring, c->tokens);
        if (!issuer) {
          exit_code = Report(issuer.error());
          return;
        }
        Time now = clock.Now();
        int year = int(BrusselsDate(now).year());
        std::string serial = RandomBase32(12);
        auto tok = (*issuer)->Issue(serial, year, now);
        if (!tok) {
          exit_code = Report(tok.error());
          return;
        }
        auto verdict = signing::TokenVerifier::Create((*ring)->Published(now), c->tokens)->Verify(*tok, now);
        std::printf("card %s, year %d\ntoken (%zu characters):\n%s\nverdict: %s\n", serial.c_str(), year,
                    tok->size(), tok->c_str(), verdict.ToJson().c_str());
        exit_code = verdict.valid ? 0 : 1;
      });
}

Result<std::unique_ptr<signing::TokenIssuer>> OpenTokenIssuer(const Config& c) {
  auto ring = signing::Keyring::Open(c.keys);
  if (!ring) return std::unexpected(ring.error());
  return signing::TokenIssuer::Create(**ring, c.tokens);
}

}  // namespace lk::app
