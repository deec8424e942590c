// Builds signed .pkpass archives.
#include "passgen/passgen.h"

#include <zip.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

namespace lk::passgen {
namespace fs = std::filesystem;

namespace {

bool HasControl(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return true;
  return false;
}

// W3C timestamp in Brussels local time with its offset, e.g. 2026-12-31T23:59:59+01:00.
std::string FormatW3c(Time utc) {
  auto offset = BrusselsOffset(utc);
  auto local = std::chrono::floor<std::chrono::days>(utc + offset);
  std::chrono::year_month_day ymd{local};
  std::chrono::hh_mm_ss hms{(utc + offset) - local};
  long off_min = static_cast<long>(offset.count() / 60);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02ld%c%02ld:%02ld", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), static_cast<long>(hms.hours().count()),
                static_cast<long>(hms.minutes().count()), static_cast<long>(hms.seconds().count()),
                off_min < 0 ? '-' : '+', std::labs(off_min) / 60, std::labs(off_min) % 60);
  return buf;
}

// A libzip source that reads an archive from `in` and writes the new archive straight into
// `*out`: libzip's own buffer source writes into fragments that must then be read back into the
// caller's string (a second copy of every pass plus the fragments' allocations).
struct ZipIo {
  std::string_view in;
  std::string* out = nullptr;
  zip_uint64_t pos = 0, wpos = 0;
  zip_error_t error;

  // Moves the read or write position `at` within `size` bytes as libzip's seek arguments say.
  zip_int64_t Seek(zip_uint64_t& at, zip_uint64_t size, void* data, zip_uint64_t len) {
    zip_int64_t to = zip_source_seek_compute_offset(at, size, data, len, &error);
    if (to < 0) return -1;
    at = static_cast<zip_uint64_t>(to);
    return 0;
  }

  static zip_int64_t Callback(void* self, void* data, zip_uint64_t len, zip_source_cmd_t cmd) {
    auto& io = *static_cast<ZipIo*>(self);
    switch (cmd) {
      case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(
            ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR,
            ZIP_SOURCE_FREE, ZIP_SOURCE_SEEK, ZIP_SOURCE_TELL, ZIP_SOURCE_BEGIN_WRITE, ZIP_SOURCE_WRITE,
            ZIP_SOURCE_COMMIT_WRITE, ZIP_SOURCE_ROLLBACK_WRITE, ZIP_SOURCE_SEEK_WRITE, ZIP_SOURCE_TELL_WRITE,
            ZIP_SOURCE_REMOVE, ZIP_SOURCE_SUPPORTS, -1);
      case ZIP_SOURCE_OPEN:
        io.pos = 0;
        return 0;
      case ZIP_SOURCE_READ: {
        zip_uint64_t n =
            std::min<zip_uint64_t>(len, io.in.size() - std::min<zip_uint64_t>(io.pos, io.in.size()));
        if (n) std::memcpy(data, io.in.data() + io.pos, n);
        io.pos += n;
        return static_cast<zip_int64_t>(n);
      }
      case ZIP_SOURCE_CLOSE:
      case ZIP_SOURCE_FREE:
      case ZIP_SOURCE_REMOVE:
        return 0;
      case ZIP_SOURCE_STAT: {
        if (len < sizeof(zip_stat_t)) return -1;
        auto* st = static_cast<zip_stat_t*>(data);
        zip_stat_init(st);
        st->size = io.in.size();
        st->valid |= ZIP_STAT_SIZE;
        return sizeof(zip_stat_t);
      }
      case ZIP_SOURCE_ERROR:
        return zip_error_to_data(&io.error, data, len);
      case ZIP_SOURCE_SEEK:
        return io.Seek(io.pos, io.in.size(), data, len);
      case ZIP_SOURCE_TELL:
        return static_cast<zip_int64_t>(io.pos);
      case ZIP_SOURCE_BEGIN_WRITE:
        io.out->clear();
        io.wpos = 0;
        return 0;
      case ZIP_SOURCE_WRITE:
        if (io.wpos + len > io.out->size()) io.out->resize(io.wpos + len);
        std::memcpy(io.out->data() + io.wpos, data, len);
        io.wpos += len;
        return static_cast<zip_int64_t>(len);
      case ZIP_SOURCE_SEEK_WRITE:
        return io.Seek(io.wpos, io.out->size(), data, len);
      case ZIP_SOURCE_TELL_WRITE:
        return static_cast<zip_int64_t>(io.wpos);
      case ZIP_SOURCE_COMMIT_WRITE:
        return 0;
      case ZIP_SOURCE_ROLLBACK_WRITE:
        io.out->clear();
        return 0;
      default:
        zip_error_set(&io.error, ZIP_ER_OPNOTSUPP, 0);
        return -1;
    }
  }
};

// Writes into `out` a zip that holds the entries of `base` (a zip made by this function, or
// empty) followed by `files`, in order, every entry stored (the PNGs are compressed already and
// the JSON is a few KB), with the DOS timestamp of `mtime` in UTC so output does not depend on
// TZ. The entries of `base` are copied as they are (libzip copies an unchanged entry's stored
// bytes and CRC-32 without reading them through its CRC layer), so a template's images are
// framed and checksummed once per template instead of once per pass: this saved the CRC-32 and
// the per-entry source setup of 9 of the 15 entries (profile in docs/passgen.md). Setting an
// unchanged entry's timestamp changes only its directory entry.
Result<> Zip(std::string_view base, const std::vector<std::pair<std::string_view, std::string_view>>& files,
             Time mtime, std::string& out) {
  ZipIo io{base, &out, 0, 0, {}};
  zip_error_init(&io.error);
  zip_error_t error;
  zip_error_init(&error);
  auto fail = [&](const std::string& what) {
    std::string msg = "zip: " + what + ": " + zip_error_strerror(&error);
    zip_error_fini(&error);
    zip_error_fini(&io.error);
    return Fail(Code::kInternal, msg);
  };
  zip_source_t* source = zip_source_function_create(&ZipIo::Callback, &io, &error);
  if (!source) return fail("creating the source");
  zip_t* archive = zip_open_from_source(source, base.empty() ? ZIP_TRUNCATE : 0, &error);
  if (!archive) {
    zip_source_free(source);
    return fail("opening the archive");
  }
  auto abandon = [&](const std::string& what) {
    std::string msg = "zip: " + what + ": " + zip_strerror(archive);
    zip_discard(archive);  // frees the source too
    zip_error_fini(&error);
    zip_error_fini(&io.error);
    return Fail(Code::kInternal, msg);
  };
  std::chrono::year_month_day day{std::chrono::floor<std::chrono::days>(mtime)};
  std::chrono::hh_mm_ss hms{mtime - std::chrono::floor<std::chrono::days>(mtime)};
  int y = std::max(1980, int(day.year()));
  auto dos_date =
      static_cast<zip_uint16_t>(((y - 1980) << 9) | (unsigned(day.month()) << 5) | unsigned(day.day()));
  auto dos_time = static_cast<zip_uint16_t>((hms.hours().count() << 11) | (hms.minutes().count() << 5) |
                                            (hms.seconds().count() / 2));
  zip_int64_t base_entries = zip_get_num_entries(archive, 0);
  for (zip_int64_t i = 0; i < base_entries; ++i)
    if (zip_file_set_dostime(archive, static_cast<zip_uint64_t>(i), dos_time, dos_date, 0) != 0)
      return abandon("setting the time of entry " + std::to_string(i));
  for (const auto& [name, data] : files) {
    zip_source_t* src = zip_source_buffer(archive, data.data(), data.size(), 0);
    // Names are ASCII file names of at most a few dozen bytes.
    char cname[128];
    size_t n = std::min(name.size(), sizeof cname - 1);
    std::memcpy(cname, name.data(), n);
    cname[n] = '\0';
    zip_int64_t index = src ? zip_file_add(archive, cname, src, ZIP_FL_ENC_UTF_8) : -1;
    if (index < 0) {
      if (src) zip_source_free(src);
      return abandon("adding " + std::string(name));
    }
    auto i = static_cast<zip_uint64_t>(index);
    if (zip_set_file_compression(archive, i, ZIP_CM_STORE, 0) != 0 ||
        zip_file_set_dostime(archive, i, dos_time, dos_date, 0) != 0 ||
        zip_file_set_external_attributes(archive, i, 0, ZIP_OPSYS_UNIX, 0100644u << 16) != 0)
      return abandon("setting up " + std::string(name));
  }
  size_t total = base.size() + 4096;
  for (const auto& f : files) total += f.first.size() * 2 + f.second.size() + 128;
  out.reserve(total);  // BEGIN_WRITE clears `out`; a reused buffer keeps its capacity
  if (zip_close(archive) != 0) return abandon("writing the archive");  // on success it freed the source
  zip_error_fini(&error);
  zip_error_fini(&io.error);
  if (out.empty()) return Fail(Code::kInternal, "zip: the archive came out empty");
  return {};
}

// A card's authenticationToken goes into the JSON unescaped, so only these characters.
bool ValidAuthToken(std::string_view s) {
  if (s.size() < 16 || s.size() > 64) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || std::strchr("-_.~+/=", c) != nullptr) || c == '\0')
      return false;
  return true;
}

}  // namespace

std::string AuthenticationToken(std::string_view secret, std::string_view pass_type_identifier,
                                std::string_view serial) {
  // Keyed once per thread and secret (a batch uses one): setting the key up is most of an HMAC's
  // cost (2.3 us a call keyed afresh, 0.4 us reused).
  thread_local std::optional<HmacSha256> mac;
  if (!mac || !mac->HasKey(secret)) mac.emplace(secret);
  return Base64UrlEncode(mac->Mac(std::string(pass_type_identifier) + "/" + std::string(serial)))
      .substr(0, 32);
}

Result<std::string> LoadOrCreateAuthSecret(const fs::path& keys_dir) {
  fs::path path = keys_dir / "pass-auth.key";
  std::error_code ec;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (fs::exists(path, ec)) {
      auto bytes = ReadFile(path);
      if (!bytes) return bytes;
      if (bytes->size() != 32)
        return Fail(Code::kDataLoss, path.string() + ": must hold exactly 32 bytes (it has " +
                                         std::to_string(bytes->size()) +
                                         "); restore it from a backup, since "
                                         "every pass's authenticationToken derives from it");
      return bytes;
    }
    if (!fs::is_directory(keys_dir, ec))
      return Fail(Code::kFailedPrecondition,
                  keys_dir.string() + ": no keys directory (run `lerarenkaart keys init`)");
    std::string secret = RandomBytes(32);
    auto w =
        WriteFileAtomic(path, secret, fs::perms::owner_read | fs::perms::owner_write, /*exclusive=*/true);
    if (w) return secret;
    if (w.error().code != Code::kAlreadyExists) return std::unexpected(w.error());
    // Another process created it first: read theirs.
  }
  return Fail(Code::kInternal, path.string() + ": cannot create or read");
}

struct PassBuilder::Impl {
  const templates::Template* tmpl;
  const signing::PassSigner* signer;
  PassOptions options;

  std::string prefix;      // pass.json up to the serial number, the same for every card
  std::string static_zip;  // the template's images as a zip (see Zip), made once
  // W3C timestamps of the template's card year: its first second, its last, and the end.
  std::string valid_from, valid_until, expiration_date;
  Time expires;                  // the end of the card year (expiration_date)
  std::string web_service_json;  // escaped web service URL

  // Writes pass.json for `card` into `pass_json` and its pass.strings files into `strings`.
  Result<> Render(const Card& card, std::string& pass_json,
                  std::vector<std::pair<std::string, std::string>>& strings) const {
    auto bad = [&](const std::string& field, const std::string& what) {
      return Fail(
          Code::kInvalidArgument,
          "card " + (ValidSerial(card.serial) ? card.serial : std::string("?")) + ": " + field + ": " + what);
    };
    if (!ValidSerial(card.serial)) return bad("serial", "must be 1-40 letters, digits, '-' or '_'");
    if (card.year != tmpl->year())
      return bad("year", std::to_string(card.year) + " does not match template " + tmpl->dir().string() +
                             " (card year " + std::to_string(tmpl->year()) + ")");
    if (card.holder_name.empty() || card.holder_name.size() > 100 || HasControl(card.holder_name))
      return bad("name", "must be 1-100 bytes of text without control characters");
    if (card.school.empty() || card.school.size() > 200 || HasControl(card.school))
      return bad("school", "must be 1-200 bytes of text without control characters");
    if (card.token.empty() || card.token.size() > signing::kMaxTokenBytes)
      return bad("token",
                 "must be a compact JWS of at most " + std::to_string(signing::kMaxTokenBytes) + " bytes");
    for (char c : card.token)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
        return bad("token", "must be a compact JWS (base64url parts joined by '.')");
    if (!tmpl->has_language(card.language))
      return bad("language", "\"" + card.language + "\" is not a template language");
    if (!options.web_service_url.empty() && !ValidAuthToken(card.auth_token))
      return bad("authentication token",
                 "must be 16-64 letters, digits or -_.~+/= (the pass has a web service URL)");

    // card.year is the template's year, so the card year's dates were formatted at Create.
    templates::CardValues values{card.holder_name, card.school, card.serial,
                                 card.year,        valid_from,  valid_until};
    auto rendered = tmpl->Render(values, card.language);
    if (!rendered) return bad("name or school", rendered.error().message);
    strings = std::move(rendered->strings);

    // The serial and token were checked to need no JSON escaping above.
    std::string& p = pass_json;
    p.reserve(prefix.size() + rendered->members_json.size() + card.token.size() + 512);
    p = prefix;
    p += PassSerial(card);  // the wallet entry (a renewed card keeps its first serial)
    p += "\",\n  \"teamIdentifier\": \"";
    p += team_json;
    p += "\",\n";
    p += rendered->members_json;
    p += ",\n  \"barcodes\": [\n    {\n      \"format\": \"PKBarcodeFormatQR\",\n      \"message\": \"";
    p += card.token;
    p += "\",\n      \"messageEncoding\": \"iso-8859-1\"";
    if (!rendered->barcode_alt_text_json.empty()) {
      p += ",\n      \"altText\": \"";
      p += rendered->barcode_alt_text_json;
      p += "\"";
    }
    // A revoked card's pass also expires at its revocation (never later than the card year),
    // for readers that ignore "voided" (KDE's libkpimpkpass reads only the string "true").
    p += "\n    }\n  ],\n  \"expirationDate\": \"";
    p += card.revoked && card.revoked_at && *card.revoked_at < expires ? FormatW3c(*card.revoked_at)
                                                                       : expiration_date;
    p += card.revoked ? "\",\n  \"voided\": true" : "\",\n  \"voided\": false";
    if (!options.web_service_url.empty()) {
      p += ",\n  \"webServiceURL\": ";
      p += web_service_json;
      p += ",\n  \"authenticationToken\": \"";
      p += card.auth_token;
      p += "\"";
    }
    p += "\n}";
    return {};
  }
  std::string team_json;
};

PassBuilder::PassBuilder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PassBuilder::~PassBuilder() = default;

Result<std::unique_ptr<PassBuilder>> PassBuilder::Create(const templates::Template& tmpl,
                                                         const signing::PassSigner& signer,
                                                         PassOptions options) {
  // Plain HTTP only to this machine: a device's developer setting allows it, for tests.
  const std::string& ws = options.web_service_url;
  const bool loopback = ws.starts_with("http://127.0.0.1:") || ws.starts_with("http://127.0.0.1/") ||
                        ws.starts_with("http://localhost:") || ws.starts_with("http://localhost/") ||
                        ws.starts_with("http://[::1]");
  if (!ws.empty() && !ws.starts_with("https://") && !loopback)
    return Fail(Code::kInvalidArgument, "web service URL \"" + options.web_service_url +
                                            "\" must start with https:// (Wallet refuses plain HTTP; "
                                            "http:// is allowed to 127.0.0.1 and localhost only)");
  auto impl = std::make_unique<Impl>();
  impl->tmpl = &tmpl;
  impl->signer = &signer;
  impl->options = std::move(options);
  // dump() escapes; strip the quotes where the text goes inside a literal.
  auto quoted = [](const std::string& s) { return nlohmann::json(s).dump(); };
  impl->prefix =
      "{\n  \"formatVersion\": 1,\n  \"passTypeIdentifier\": " + quoted(signer.pass_type_identifier()) +
      ",\n  \"serialNumber\": \"";
  std::string team = quoted(signer.team_identifier());
  impl->team_json = team.substr(1, team.size() - 2);
  impl->web_service_json = quoted(impl->options.web_service_url);
  using std::chrono::January;
  Time start = BrusselsMidnight(std::chrono::year(tmpl.year()) / January / 1);
  Time end = BrusselsMidnight(std::chrono::year(tmpl.year() + 1) / January / 1);
  impl->valid_from = FormatW3c(start);
  impl->valid_until = FormatW3c(end - std::chrono::seconds(1));
  impl->expiration_date = FormatW3c(end);
  impl->expires = end;
  std::vector<std::pair<std::string_view, std::string_view>> images;
  for (const auto& f : tmpl.static_files()) images.emplace_back(f.path, f.bytes);
  if (!images.empty())
    if (auto r = Zip({}, images, Time{}, impl->static_zip); !r) return std::unexpected(r.error());
  return std::unique_ptr<PassBuilder>(new PassBuilder(std::move(impl)));
}

Result<std::string> PassBuilder::PassJson(const Card& card) const {
  std::vector<std::pair<std::string, std::string>> strings;
  std::string pass_json;
  if (auto r = impl_->Render(card, pass_json, strings); !r) return std::unexpected(r.error());
  return pass_json;
}

Result<std::string> PassBuilder::Build(const Card& card, Time signing_time) const {
  std::string out;
  if (auto r = BuildInto(card, signing_time, out); !r) return std::unexpected(r.error());
  return out;
}

Result<> PassBuilder::BuildInto(const Card& card, Time signing_time, std::string& out) const {
  std::vector<std::pair<std::string, std::string>> strings;
  std::string pass_json;
  if (auto r = impl_->Render(card, pass_json, strings); !r) return r;

  // manifest.json: SHA-1 (lowercase hex) of every file but itself and the signature, keys
  // sorted; the images' hashes were computed when the template was loaded.
  // lk::Sha1 uses a pre-fetched algorithm (SHA1() would fetch it from OpenSSL's store per call).
  auto sha1_hex = [](std::string_view data) { return HexEncode(Sha1(data)); };
  const auto& statics = impl_->tmpl->static_files();
  std::vector<std::pair<std::string_view, std::string>> hashes;  // path -> hex
  hashes.reserve(statics.size() + strings.size() + 1);
  hashes.emplace_back("pass.json", sha1_hex(pass_json));
  for (const auto& [path, content] : strings) hashes.emplace_back(path, sha1_hex(content));
  for (const auto& f : statics) hashes.emplace_back(f.path, f.sha1_hex);
  std::sort(hashes.begin(), hashes.end());
  std::string manifest;
  manifest.reserve(hashes.size() * 72 + 8);
  manifest += "{";
  for (const auto& [path, hex] : hashes) {
    manifest += manifest.size() > 1 ? ",\n  \"" : "\n  \"";
    manifest += path;  // paths are ASCII: no escaping needed
    manifest += "\": \"";
    manifest += hex;
    manifest += "\"";
  }
  manifest += "\n}\n";

  auto signature = impl_->signer->SignDetached(manifest, signing_time);
  if (!signature) return std::unexpected(signature.error());

  std::vector<std::pair<std::string_view, std::string_view>> files;
  files.reserve(strings.size() + 3);
  files.emplace_back("pass.json", pass_json);
  for (const auto& [path, content] : strings) files.emplace_back(path, content);
  files.emplace_back("manifest.json", manifest);
  files.emplace_back("signature", *signature);
  return Zip(impl_->static_zip, files, signing_time, out);  // the images come from static_zip
}

Card ShownCard(Card card) {
  if (card.holder_name.empty()) card.holder_name = "Lerarenkaart";
  card.school = !card.school_name.empty() ? card.school_name
                : card.school.empty()     ? "-"
                                          : "School " + card.school;
  return card;
}

Result<std::string> BuildPass(const Card& card, const templates::Template& tmpl,
                              const signing::PassSigner& signer, const PassOptions& options,
                              Time signing_time) {
  auto builder = PassBuilder::Create(tmpl, signer, options);
  if (!builder) return std::unexpected(builder.error());
  return (*builder)->Build(card, signing_time);
}

PassBuilders::PassBuilders(const signing::PassSigner& signer, PassOptions options, fs::path templates_root,
                           fs::path fixed_dir)
    : signer_(&signer),
      options_(std::move(options)),
      templates_root_(std::move(templates_root)),
      fixed_dir_(std::move(fixed_dir)) {}
PassBuilders::~PassBuilders() = default;

Result<const PassBuilder*> PassBuilders::For(int year) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(year);
  if (it == entries_.end()) {
    Entry e;
    // A year without a directory of its own is served by an earlier template that declares
    // "followingYears" (templates::Template::LoadFor).
    if (auto t = fixed_dir_.empty() ? templates::Template::LoadFor(templates_root_, year)
                                    : templates::Template::Load(fixed_dir_);
        !t) {
      e.error = t.error();
    } else {
      e.tmpl = std::move(*t);
      auto b = PassBuilder::Create(*e.tmpl, *signer_, options_);
      if (b)
        e.builder = std::move(*b);
      else
        e.error = b.error();
    }
    it = entries_.emplace(year, std::move(e)).first;
  }
  if (!it->second.builder) return std::unexpected(it->second.error);
  return it->second.builder.get();
}

}  // namespace lk::passgen
