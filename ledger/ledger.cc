// The ledger itself, written once over the Db seam. Every write runs in one transaction that
// holds the ledger's writer lock, appends one audit entry chained by SHA-256 to the previous
// one, and moves the audit head; so a crash leaves the ledger as before or as after.
#include "ledger/ledger.h"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <unistd.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <tuple>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "ledger/internal/csv.h"
#include "ledger/internal/db.h"
#include "ledger/internal/schema.h"

namespace lk::ledger {
namespace {
namespace fs = std::filesystem;
using internal::Db;
using internal::Row;
using internal::Transaction;
using internal::Value;

constexpr int kMinYear = 2000, kMaxYear = 2199;
const std::string kZeroHash(64, '0');

// Keyed HMAC-SHA256 of staff identifiers, hex; the key never leaves this object.
class StaffKeyer {
 public:
  static Result<std::unique_ptr<StaffKeyer>> Load(const fs::path& dir) {
    fs::path file = dir / "staff-id-hmac.key";
    std::error_code ec;
    if (!fs::exists(file, ec)) {
      fs::create_directories(dir, ec);
      fs::permissions(dir, fs::perms::owner_all, ec);
      auto w = WriteFileAtomic(file, HexEncode(RandomBytes(32)) + "\n", fs::perms::owner_read | fs::perms::owner_write,
                               /*exclusive=*/true);
      if (!w && w.error().code != Code::kAlreadyExists) return std::unexpected(w.error());
    }
    auto st = fs::status(file, ec);
    if (!ec && (st.permissions() & (fs::perms::group_all | fs::perms::others_all)) != fs::perms::none)
      return Fail(Code::kFailedPrecondition, file.string() + ": the staff-id key must be readable by its owner only (chmod 600)");
    auto text = ReadFile(file);
    if (!text) return std::unexpected(text.error());
    std::string hex = *text;
    while (!hex.empty() && std::isspace(static_cast<unsigned char>(hex.back()))) hex.pop_back();
    if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdef") != std::string::npos)
      return Fail(Code::kDataLoss, file.string() + ": not a 64-character hex key");
    std::string key;
    for (size_t i = 0; i < 64; i += 2) key += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    auto k = std::unique_ptr<StaffKeyer>(new StaffKeyer());
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    k->ctx_ = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_END};
    if (!k->ctx_ || !EVP_MAC_init(k->ctx_, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params))
      return Fail(Code::kInternal, "HMAC-SHA256 is not available from OpenSSL");
    return k;
  }
  ~StaffKeyer() { EVP_MAC_CTX_free(ctx_); }
  std::string Key(std::string_view staff_id) {
    unsigned char out[32];
    size_t len = 0;
    EVP_MAC_init(ctx_, nullptr, 0, nullptr);  // same key, fresh state
    EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char*>(staff_id.data()), staff_id.size());
    EVP_MAC_final(ctx_, out, &len, sizeof out);
    return HexEncode(std::string_view(reinterpret_cast<char*>(out), len));
  }

 private:
  StaffKeyer() = default;
  EVP_MAC_CTX* ctx_ = nullptr;
};

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}
std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}
std::optional<int64_t> ParseCount(std::string_view s) {
  int64_t v = 0;
  if (s.empty() || s.size() > 15) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}
int64_t ToInt(const std::optional<std::string>& s) { return s ? std::stoll(*s) : 0; }
int64_t Seconds(Time t) { return t.time_since_epoch().count(); }
int SchoolYearOf(std::chrono::year_month_day d) {
  return int(d.year()) - (unsigned(d.month()) < 9 ? 1 : 0);
}

// n random Crockford base32 strings of `len` characters each (5 random bits per character, as
// RandomBase32), from one draw of the CSPRNG instead of one per string.
std::vector<std::string> RandomSerials(size_t n, size_t len) {
  static constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  const std::string raw = RandomBytes(n * len);
  std::vector<std::string> out(n, std::string(len, '0'));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < len; ++j) out[i][j] = kCrockford[static_cast<unsigned char>(raw[i * len + j]) & 31];
  return out;
}

// Collects bad rows as "FILE:LINE:COLUMN (name): what" and renders them all in one error.
class Problems {
 public:
  Problems(std::string file, const internal::CsvTable* t) : file_(std::move(file)), t_(t) {}
  void Add(int line, int column, std::string what) { list_.push_back({line, column, std::move(what)}); }
  void AddAll(const std::vector<internal::CsvProblem>& ps) { list_.insert(list_.end(), ps.begin(), ps.end()); }
  bool empty() const { return list_.empty(); }
  std::unexpected<Error> ToError() {
    std::stable_sort(list_.begin(), list_.end(), [](auto& a, auto& b) { return a.line < b.line; });
    std::string msg = file_ + ": " + std::to_string(list_.size()) + " bad row" + (list_.size() == 1 ? "" : "s") +
                      "; nothing was imported";
    for (auto& p : list_) {
      msg += "\n  " + file_ + ":" + std::to_string(p.line);
      if (p.column > 0) {
        msg += ":" + std::to_string(p.column);
        if (t_ && p.column <= static_cast<int>(t_->header.size()))
          msg += " (" + t_->header[static_cast<size_t>(p.column - 1)] + ")";
      }
      msg += ": " + p.what;
    }
    return Fail(Code::kInvalidArgument, msg);
  }

 private:
  std::string file_;
  const internal::CsvTable* t_;
  std::vector<internal::CsvProblem> list_;
};

// Looks up the named columns; a missing one is an error naming the header line.
Result<std::vector<int>> RequireColumns(const std::string& file, const internal::CsvTable& t,
                                        const std::vector<std::string>& names) {
  if (t.header.empty()) return Fail(Code::kInvalidArgument, file + ":1: empty file: a header row is required");
  std::vector<int> idx;
  std::string missing;
  for (auto& n : names) {
    idx.push_back(internal::ColumnIndex(t, n));
    if (idx.back() < 0) missing += (missing.empty() ? "'" : ", '") + n + "'";
  }
  if (!missing.empty())
    return Fail(Code::kInvalidArgument, file + ":1: the header lacks column " + missing + " (expected " + [&] {
      std::string all;
      for (auto& n : names) all += (all.empty() ? "" : ",") + n;
      return all;
    }() + ")");
  return idx;
}

// One CSV import file: read, parsed, its required columns found; bad rows collected.
struct CsvImport {
  std::string file, text;
  internal::CsvTable table;
  std::vector<int> cols;  // 0-based field index of each required column
  std::optional<Problems> problems;
  std::unordered_map<std::string, int> first_line;  // FirstMention: key -> line

  // Required column i of `rec`, trimmed; its 1-based column number.
  std::string Field(const internal::CsvRecord& rec, size_t i) const {
    return Trim(rec.fields[static_cast<size_t>(cols[i])]);
  }
  int Col(size_t i) const { return cols[i] + 1; }
  void Bad(const internal::CsvRecord& rec, size_t i, std::string what) { problems->Add(rec.line, Col(i), std::move(what)); }
  // True the first time `key` is seen; later lines are bad rows "<what> is already on line N".
  bool FirstMention(const internal::CsvRecord& rec, size_t i, const std::string& key,
                    const std::string& what = "the same staff member") {
    auto [it, fresh] = first_line.emplace(key, rec.line);
    if (!fresh) Bad(rec, i, what + " is already on line " + std::to_string(it->second));
    return fresh;
  }
};

// Reads `csv`, requires `columns` in its header, and calls `row` for every record with as many
// fields as the header (the others are bad rows). Progress runs to half of the rows.
Result<std::unique_ptr<CsvImport>> ReadCsvImport(
    const fs::path& csv, const std::vector<std::string>& columns, const Progress& progress,
    const std::function<void(CsvImport&, const internal::CsvRecord&)>& row) {
  auto in = std::make_unique<CsvImport>();
  auto text = ReadFile(csv);
  if (!text) return Fail(Code::kInvalidArgument, text.error().message);
  in->text = std::move(*text);
  in->file = csv.string();
  std::vector<internal::CsvProblem> csv_problems;
  in->table = internal::ParseCsv(in->text, csv_problems);
  auto cols = RequireColumns(in->file, in->table, columns);
  if (!cols) return std::unexpected(cols.error());
  in->cols = std::move(*cols);
  in->problems.emplace(in->file, &in->table);
  in->problems->AddAll(csv_problems);
  in->first_line.reserve(in->table.records.size());
  const uint64_t total = in->table.records.size();
  uint64_t done = 0;
  for (const auto& rec : in->table.records) {
    if (progress && ++done % 8192 == 0) progress(done / 2, total);
    if (rec.fields.size() != in->table.header.size()) {
      in->problems->Add(rec.line, 0, "has " + std::to_string(rec.fields.size()) + " fields, the header has " +
                                         std::to_string(in->table.header.size()));
      continue;
    }
    row(*in, rec);
  }
  return in;
}

std::string AuditHash(const std::string& prev, int64_t seq, int64_t at, const std::string& action,
                      const std::string& detail) {
  return HexEncode(Sha256(prev + "\n" + std::to_string(seq) + "\n" + std::to_string(at) + "\n" + action + "\n" + detail));
}

class SqlLedger final : public Ledger {
 public:
  SqlLedger(std::unique_ptr<Db> db, fs::path keys_dir, const Clock& clock)
      : db_(std::move(db)), keys_dir_(std::move(keys_dir)), clock_(clock) {}

  std::string_view backend() const override {
    return db_->dialect() == internal::Dialect::kSqlite ? "sqlite" : "postgresql";
  }

  Result<ImportSummary> ImportRoster(const fs::path& csv, int year, const Progress& progress) override {
    std::lock_guard lock(mu_);
    if (auto r = CheckYear(year); !r) return std::unexpected(r.error());
    auto keyer = Keyer();
    if (!keyer) return std::unexpected(keyer.error());
    std::vector<Row> stage;
    auto in = ReadCsvImport(
        csv, {"staff_id", "first_name", "last_name", "role", "network", "level", "school_number", "school_postcode",
              "starter"},
        progress, [&](CsvImport& f, const internal::CsvRecord& rec) {
          bool bad = false;
          auto bad_field = [&](size_t i, std::string what) {
            f.Bad(rec, i, std::move(what));
            bad = true;
          };
          std::string staff = f.Field(rec, 0);
          if (staff.empty()) bad_field(0, "empty staff identifier");
          else if (staff.size() > 64) bad_field(0, "staff identifier longer than 64 characters");
          std::string role = Lower(f.Field(rec, 3)), network = f.Field(rec, 4), level = Lower(f.Field(rec, 5));
          if (role != "administrative" && role != "teaching" && role != "support")
            bad_field(3, "'" + f.Field(rec, 3) + "' is not one of administrative|teaching|support");
          std::string net_upper = network;
          std::transform(net_upper.begin(), net_upper.end(), net_upper.begin(), ::toupper);
          if (net_upper != "GO" && net_upper != "OGO" && net_upper != "VGO")
            bad_field(4, "'" + network + "' is not one of GO|OGO|VGO");
          static const char* kLevels[] = {"basic", "secondary", "higher", "adult", "part_time_arts", "other"};
          if (std::none_of(std::begin(kLevels), std::end(kLevels), [&](const char* l) { return level == l; }))
            bad_field(5, "'" + f.Field(rec, 5) + "' is not one of basic|secondary|higher|adult|part_time_arts|other");
          std::string school = f.Field(rec, 6);
          if (school.empty() || school.size() > 12 || school.find_first_not_of("0123456789") != std::string::npos)
            bad_field(6, "'" + school + "' is not a school number (1 to 12 digits)");
          std::string postcode = f.Field(rec, 7);
          std::string province;
          auto pc = ParseCount(postcode);
          auto prov = pc && postcode.size() == 4 ? ProvinceOfPostcode(static_cast<int>(*pc))
                                                 : Result<std::string>(Fail(Code::kInvalidArgument, ""));
          if (!prov) bad_field(7, "'" + postcode + "' is not a Belgian postcode (4 digits, 1000-9999)");
          else province = *prov;
          std::string starter = Lower(f.Field(rec, 8));
          if (starter != "yes" && starter != "no") bad_field(8, "'" + f.Field(rec, 8) + "' is not yes or no");
          if (bad) return;
          std::string key = (*keyer)->Key(staff);
          if (!f.FirstMention(rec, 0, key)) return;
          stage.push_back({std::to_string(rec.line), key, role, net_upper, level, school, postcode, province,
                           starter == "yes" ? "1" : "0"});
        });
    if (!in) return std::unexpected(in.error());
    Problems& problems = *(*in)->problems;
    const auto& t = (*in)->table;
    const auto& c = (*in)->cols;
    const uint64_t total = t.records.size();
    if (!problems.empty()) return problems.ToError();

    Transaction tx(*db_);
    if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
    auto seq = NextSeq();
    if (!seq) return std::unexpected(seq.error());
    if (auto r = Stage("stage_roster",
                       "line BIGINT, staff_key TEXT, role TEXT, network TEXT, level TEXT, school_number TEXT, "
                       "postcode INTEGER, province TEXT, starter INTEGER",
                       {"line", "staff_key", "role", "network", "level", "school_number", "postcode", "province", "starter"},
                       stage);
        !r)
      return std::unexpected(r.error());
    if (progress) progress(total * 3 / 4, total);
    // A person already on this year's roster with different attributes is a bad row: the
    // ledger never rewrites history silently.
    auto changed = db_->Query(
        "SELECT s.line, s.role <> r.role, s.network <> r.network, s.level <> r.level, s.school_number <> "
        "r.school_number, s.postcode <> r.postcode, s.starter <> r.starter FROM stage_roster s CROSS JOIN roster r "
        "WHERE r.card_year = $1 AND r.staff_key = s.staff_key AND (s.role <> r.role OR s.network <> r.network OR "
        "s.level <> r.level OR s.school_number <> r.school_number OR s.postcode <> r.postcode OR s.starter <> "
        "r.starter) ORDER BY s.line",
        {int64_t{year}});
    if (!changed) return std::unexpected(changed.error());
    for (auto& row : *changed) {
      static const int kCols[] = {3, 4, 5, 6, 7, 8};
      for (size_t k = 0; k < 6; ++k) {
        const auto& v = row[k + 1];
        if (v && (*v == "1" || *v == "t" || *v == "true"))
          problems.Add(static_cast<int>(ToInt(row[0])), c[static_cast<size_t>(kCols[k])] + 1,
                       "differs from the roster of card year " + std::to_string(year) + " already in the ledger");
      }
    }
    if (!problems.empty()) return problems.ToError();
    if (auto r = db_->Execute("INSERT INTO card_years (year, created_at) VALUES ($1, $2) ON CONFLICT (year) DO NOTHING",
                              {int64_t{year}, Seconds(clock_.Now())});
        !r)
      return std::unexpected(r.error());
    auto added = db_->Execute(
        "INSERT INTO roster (card_year, staff_key, role, network, level, school_number, postcode, province, starter, "
        "audit_seq) SELECT $1, staff_key, role, network, level, school_number, postcode, province, starter, $2 "
        "FROM stage_roster WHERE true ORDER BY staff_key ON CONFLICT (card_year, staff_key) DO NOTHING",
        {int64_t{year}, *seq});
    if (!added) return std::unexpected(added.error());
    if (auto r = RefreshStatistics("roster", static_cast<uint64_t>(*added)); !r) return std::unexpected(r.error());
    if (auto r = CountNewRoster(year, *seq); !r) return std::unexpected(r.error());
    ImportSummary sum{t.records.size(), static_cast<uint64_t>(*added), t.records.size() - static_cast<uint64_t>(*added)};
    if (auto r = Finish(tx, *seq, "import roster", ImportDetail(csv, (*in)->text, year, "roster", sum), sum.added); !r)
      return std::unexpected(r.error());
    if (progress) progress(total, total);
    return sum;
  }

  Result<ImportSummary> ImportChannel(Channel channel, const fs::path& csv, int year,
                                      const Progress& progress) override {
    std::lock_guard lock(mu_);
    if (channel == Channel::kDigital)
      return Fail(Code::kInvalidArgument, "digital cards are issued, not imported (use `ledger issue`)");
    if (auto r = CheckYear(year); !r) return std::unexpected(r.error());
    auto keyer = Keyer();
    if (!keyer) return std::unexpected(keyer.error());
    std::vector<Row> stage;
    auto in = ReadCsvImport(csv, {"staff_id", "date"}, progress, [&](CsvImport& f, const internal::CsvRecord& rec) {
      std::string staff = f.Field(rec, 0), date_text = f.Field(rec, 1);
      bool bad = false;
      if (staff.empty()) f.Bad(rec, 0, "empty staff identifier"), bad = true;
      auto date = ParseIsoDate(date_text);
      if (!date) {
        f.Bad(rec, 1, "'" + date_text + "' is not an ISO date (YYYY-MM-DD)");
        bad = true;
      } else if (int(date->year()) < year - 1 || int(date->year()) > year + 1) {
        f.Bad(rec, 1, date_text + " is more than a year away from card year " + std::to_string(year));
        bad = true;
      }
      if (bad) return;
      std::string key = (*keyer)->Key(staff);
      if (!f.FirstMention(rec, 0, key)) return;
      stage.push_back({std::to_string(rec.line), key, FormatIsoDate(*date), std::to_string(SchoolYearOf(*date)), ""});
    });
    if (!in) return std::unexpected(in.error());
    Problems& problems = *(*in)->problems;
    const auto& t = (*in)->table;
    const int staff_col = (*in)->cols[0];
    const uint64_t total = t.records.size();
    {
      std::vector<std::string> serials = RandomSerials(stage.size(), 12);
      for (size_t i = 0; i < stage.size(); ++i) stage[i][4] = std::move(serials[i]);
    }
    if (!problems.empty() && stage.empty()) return problems.ToError();

    Transaction tx(*db_);
    if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
    auto seq = NextSeq();
    if (!seq) return std::unexpected(seq.error());
    if (auto r = RequireRoster(year); !r) return std::unexpected(r.error());
    if (auto r = Stage("stage_cards",
                       "line BIGINT, staff_key TEXT, issued_on " + DateType() + ", school_year INTEGER, serial TEXT",
                       {"line", "staff_key", "issued_on", "school_year", "serial"}, stage);
        !r)
      return std::unexpected(r.error());
    if (progress) progress(total * 3 / 4, total);
    if (auto r = ReportNotOnRoster("stage_cards", year, staff_col + 1,
                                   "this staff member is not on the roster of card year " + std::to_string(year),
                                   problems);
        !r)
      return std::unexpected(r.error());
    if (!problems.empty()) return problems.ToError();
    auto added = db_->Execute(
        "INSERT INTO cards (serial, roster_id, channel, issued_on, school_year, status, update_tag, audit_seq) "
        "SELECT s.serial, r.id, $2, s.issued_on, s.school_year, 'active', $3, $3 FROM stage_cards s "
        "CROSS JOIN roster r WHERE r.card_year = $1 AND r.staff_key = s.staff_key" + NewCardsOnly("$2"),
        {int64_t{year}, std::string(ChannelName(channel)), *seq});
    if (!added) return std::unexpected(added.error());
    if (auto r = RefreshStatistics("cards", static_cast<uint64_t>(*added)); !r) return std::unexpected(r.error());
    if (auto r = CountNewCards(*seq, *added); !r) return std::unexpected(r.error());
    ImportSummary sum{t.records.size(), static_cast<uint64_t>(*added), t.records.size() - static_cast<uint64_t>(*added)};
    if (auto r = Finish(tx, *seq, "import " + std::string(ChannelName(channel)),
                        ImportDetail(csv, (*in)->text, year, "cards", sum), sum.added);
        !r)
      return std::unexpected(r.error());
    if (progress) progress(total, total);
    return sum;
  }

  Result<ImportSummary> ImportPublished(const fs::path& csv) override {
    std::lock_guard lock(mu_);
    static const std::vector<std::string> kNames = {"calendar_year",        "eligible_staff",  "sent_to_subscribers",
                                                    "sent_to_starters",     "picked_up_at_library",
                                                    "holders_total",        "published_share"};
    std::vector<PublishedRow> rows;
    std::vector<int> row_lines;
    auto in = ReadCsvImport(csv, kNames, {}, [&](CsvImport& f, const internal::CsvRecord& rec) {
      PublishedRow p;
      bool bad = false;
      p.label = f.Field(rec, 0);
      std::string lower = Lower(p.label);
      if (lower == "totaal" || lower == "total") {
        p.year = std::nullopt;
      } else if (auto y = ParseCount(p.label); y && p.label.size() == 4 && *y >= 1990 && *y <= kMaxYear) {
        p.year = static_cast<int>(*y);
      } else {
        f.Bad(rec, 0, "'" + p.label + "' is neither a year nor 'Totaal'");
        bad = true;
      }
      int64_t* nums[] = {&p.eligible, &p.subscribers, &p.starters, &p.library, &p.holders};
      for (size_t i = 0; i < 5; ++i) {
        auto v = ParseCount(f.Field(rec, i + 1));
        if (!v) {
          f.Bad(rec, i + 1, "'" + f.Field(rec, i + 1) + "' is not a whole number");
          bad = true;
        } else {
          *nums[i] = *v;
        }
      }
      p.printed_share = f.Field(rec, 6);
      {
        std::string_view sh = p.printed_share;
        bool ok = sh.size() >= 2 && sh.back() == '%';
        if (ok) {
          sh.remove_suffix(1);
          auto sep = sh.find_first_of(".,");
          std::string_view whole = sh.substr(0, sep), frac = sep == std::string_view::npos ? "" : sh.substr(sep + 1);
          ok = !whole.empty() && whole.size() <= 3 && whole.find_first_not_of("0123456789") == std::string_view::npos &&
               (sep == std::string_view::npos || (!frac.empty() && frac.find_first_not_of("0123456789") == std::string_view::npos));
        }
        if (!ok) {
          f.Bad(rec, 6, "'" + p.printed_share + "' is not a printed percentage like 67,50% or 67%");
          bad = true;
        }
      }
      if (!bad && p.holders > p.eligible) f.Bad(rec, 5, "more holders than eligible staff"), bad = true;
      if (bad || !f.FirstMention(rec, 0, p.label, "'" + p.label + "'")) return;
      rows.push_back(p);
      row_lines.push_back(rec.line);
    });
    if (!in) return std::unexpected(in.error());
    Problems& problems = *(*in)->problems;
    const auto& t = (*in)->table;
    const auto& cols = (*in)->cols;
    const std::string& file = (*in)->file;
    if (!problems.empty()) return problems.ToError();
    if (rows.empty()) return Fail(Code::kInvalidArgument, file + ": no data rows");

    Transaction tx(*db_);
    if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
    auto seq = NextSeq();
    if (!seq) return std::unexpected(seq.error());
    auto existing = PublishedLocked();
    if (!existing) return std::unexpected(existing.error());
    ImportSummary sum{t.records.size(), 0, 0};
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& p = rows[i];
      auto same = std::find_if(existing->begin(), existing->end(), [&](auto& e) { return e.label == p.label; });
      if (same != existing->end()) {
        if (same->year == p.year && same->eligible == p.eligible && same->subscribers == p.subscribers &&
            same->starters == p.starters && same->library == p.library && same->holders == p.holders &&
            same->printed_share == p.printed_share)
          ++sum.present;
        else
          problems.Add(row_lines[i], cols[0] + 1, "differs from the published figures for '" + p.label +
                                                     "' already in the ledger");
        continue;
      }
      auto r = db_->Execute(
          "INSERT INTO published_uptake (label, year, eligible, subscribers, starters, library, holders, "
          "printed_share, source, audit_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
          {p.label, p.year ? Value(int64_t{*p.year}) : Value(), p.eligible, p.subscribers, p.starters, p.library,
           p.holders, p.printed_share, csv.filename().string(), *seq});
      if (!r) {
        if (r.error().code == Code::kFailedPrecondition)
          problems.Add(row_lines[i], cols[0] + 1, "conflicts with figures already in the ledger");
        else
          return std::unexpected(r.error());
      } else {
        ++sum.added;
      }
    }
    if (!problems.empty()) return problems.ToError();
    if (auto r = Finish(tx, *seq, "import published", ImportDetail(csv, (*in)->text, 0, "published_uptake", sum), sum.added);
        !r)
      return std::unexpected(r.error());
    return sum;
  }

  Result<IssuedCard> IssueDigital(std::string_view staff_id, int year) override {
    auto batch = IssueDigitalBatch({std::string(staff_id)}, year);
    if (!batch) {
      if (batch.error().code == Code::kNotFound)
        return Fail(Code::kNotFound, "this staff member is not on the roster of card year " + std::to_string(year));
      return std::unexpected(batch.error());
    }
    return batch->front();
  }

  Result<std::vector<IssuedCard>> IssueDigitalBatch(const std::vector<std::string>& staff_ids, int year) override {
    std::lock_guard lock(mu_);
    if (auto r = CheckYear(year); !r) return std::unexpected(r.error());
    if (staff_ids.empty()) return std::vector<IssuedCard>{};
    auto keyer = Keyer();
    if (!keyer) return std::unexpected(keyer.error());
    std::vector<std::string> keys;
    keys.reserve(staff_ids.size());
    for (size_t i = 0; i < staff_ids.size(); ++i) {
      std::string id = Trim(staff_ids[i]);
      if (id.empty()) return Fail(Code::kInvalidArgument, "staff identifier " + std::to_string(i + 1) + " is empty");
      keys.push_back((*keyer)->Key(id));
    }
    return IssueKeysLocked(keys, year);
  }

  // REQUIRES: mu_ held, `year` checked. Issues (or returns) the cards of keyed staff members.
  Result<std::vector<IssuedCard>> IssueKeysLocked(const std::vector<std::string>& staff_keys, int year) {
    std::vector<std::string> staff_ids = staff_keys;  // only their number and order matter below
    auto today = BrusselsDate(clock_.Now());
    std::string issued_on = FormatIsoDate(today), school_year = std::to_string(SchoolYearOf(today));
    std::vector<Row> stage;
    stage.reserve(staff_keys.size());
    std::vector<std::string> serials = RandomSerials(staff_keys.size(), 12), tokens = RandomSerials(staff_keys.size(), 32);
    std::unordered_map<std::string_view, bool> mentioned;  // the same person twice: insert once
    mentioned.reserve(staff_keys.size());
    for (size_t i = 0; i < staff_keys.size(); ++i)
      stage.push_back({std::to_string(i), staff_keys[i], issued_on, school_year, std::move(serials[i]),
                       std::move(tokens[i]), mentioned.emplace(staff_keys[i], true).second ? "1" : "0"});
    Transaction tx(*db_);
    if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
    auto seq = NextSeq();
    if (!seq) return std::unexpected(seq.error());
    if (auto r = Stage("stage_issue",
                       "pos BIGINT, staff_key TEXT, issued_on " + DateType() +
                           ", school_year INTEGER, serial TEXT, auth_token TEXT, first_mention INTEGER",
                       {"pos", "staff_key", "issued_on", "school_year", "serial", "auth_token", "first_mention"}, stage);
        !r)
      return std::unexpected(r.error());
    // Insert-or-get: the first writer (under the ledger's writer lock) makes the card; UNIQUE
    // (roster_id, channel) backs that up.
    auto added = db_->Execute(
        "INSERT INTO cards (serial, roster_id, channel, issued_on, school_year, status, auth_token, update_tag, "
        "audit_seq) SELECT s.serial, r.id, 'digital', s.issued_on, s.school_year, 'active', s.auth_token, $2, $2 "
        "FROM stage_issue s CROSS JOIN roster r WHERE r.card_year = $1 AND r.staff_key = s.staff_key "
        "AND s.first_mention = 1" + NewCardsOnly("'digital'"),
        {int64_t{year}, *seq});
    if (!added) return std::unexpected(added.error());
    if (auto st = RefreshStatistics("cards", static_cast<uint64_t>(*added)); !st) return std::unexpected(st.error());
    if (auto st = CountNewCards(*seq, *added); !st) return std::unexpected(st.error());
    std::vector<IssuedCard> out(staff_ids.size());
    std::vector<bool> found(staff_ids.size());
    auto r = db_->Scan(
        "SELECT s.pos, c.serial, c.status, c.auth_token, c.update_tag, c.audit_seq FROM stage_issue s "
        "CROSS JOIN roster r CROSS JOIN cards c WHERE r.card_year = $1 AND r.staff_key = s.staff_key "
        "AND c.roster_id = r.id AND c.channel = 'digital'",
        {int64_t{year}}, [&](const Db::Cells& row) {
          auto pos = static_cast<size_t>(row.Int(0));
          if (pos >= out.size()) return;
          IssuedCard& card = out[pos];
          card.serial = row.Text(1);
          card.year = year;
          card.revoked = row.Text(2) == "revoked";
          card.auth_token = row.Text(3);
          card.update_tag = row.Int(4);
          card.is_new = row.Int(5) == *seq;
          found[pos] = true;
        });
    if (!r) return std::unexpected(r.error());
    std::string missing;
    size_t n_missing = 0;
    for (size_t i = 0; i < found.size(); ++i)
      if (!found[i] && ++n_missing <= 20) missing += (missing.empty() ? "" : ", ") + std::to_string(i + 1);
    if (n_missing)
      return Fail(Code::kNotFound, std::to_string(n_missing) + " staff member(s) not on the roster of card year " +
                                       std::to_string(year) + " (input positions " + missing +
                                       (n_missing > 20 ? ", ..." : "") + "); no card was issued");
    // The same person twice in one batch: only the first mention is "new".
    std::unordered_map<std::string, bool> first;
    for (auto& card : out)
      if (card.is_new && !first.emplace(card.serial, true).second) card.is_new = false;
    nlohmann::json detail = {{"year", year}, {"table", "cards"}, {"added", *added}, {"requested", staff_ids.size()}};
    if (*added == 1)
      for (auto& card : out)
        if (card.is_new) detail["serial"] = card.serial;
    if (auto f = Finish(tx, *seq, "issue digital", detail.dump(), static_cast<uint64_t>(*added)); !f)
      return std::unexpected(f.error());
    return out;
  }

  Result<> Revoke(std::string_view serial, std::string_view reason) override {
    std::lock_guard lock(mu_);
    std::string why = Trim(reason);
    if (why.empty()) return Fail(Code::kInvalidArgument, "a revocation needs a reason");
    Transaction tx(*db_);
    if (auto r = tx.Begin(); !r) return r;
    auto seq = NextSeq();
    if (!seq) return std::unexpected(seq.error());
    // The holder's cell in the adoption aggregate before the change (only used if it happens).
    auto before = db_->Query("SELECT r.card_year, r.province, r.network, r.role, r.level, (SELECT sum(" +
                                 internal::ChannelBitSql("o.channel") +
                                 ") FROM cards o WHERE o.roster_id = r.id AND o.status = 'active'), " +
                                 internal::ChannelBitSql("c.channel") +
                                 " FROM cards c JOIN roster r ON r.id = c.roster_id WHERE c.serial = $1",
                             {std::string(serial)});
    if (!before) return std::unexpected(before.error());
    auto n = db_->Execute(
        "UPDATE cards SET status = 'revoked', revoked_reason = $2, revoked_at = $3, update_tag = $4 "
        "WHERE serial = $1 AND status = 'active'",
        {std::string(serial), why, Seconds(clock_.Now()), *seq});
    if (!n) return std::unexpected(n.error());
    if (*n == 0) {
      auto exists = db_->Query("SELECT status FROM cards WHERE serial = $1", {std::string(serial)});
      if (!exists) return std::unexpected(exists.error());
      if (exists->empty()) return Fail(Code::kNotFound, "no card with serial " + std::string(serial));
      return Fail(Code::kFailedPrecondition, "card " + std::string(serial) + " is already revoked");
    }
    if (before->size() != 1) return Fail(Code::kInternal, "card " + std::string(serial) + " vanished while revoked");
    {
      const Row& b = before->front();
      CellKey k{static_cast<int>(ToInt(b[0])), b[1].value_or(""), b[2].value_or(""), b[3].value_or(""),
                b[4].value_or(""), static_cast<int>(ToInt(b[5]))};
      CellDeltas d;
      d[k] -= 1;
      k.mask &= ~static_cast<int>(ToInt(b[6]));
      d[k] += 1;
      if (auto r = ApplyCellDeltas(d); !r) return r;
    }
    nlohmann::json detail = {{"serial", serial}, {"reason", why}};
    return Finish(tx, *seq, "revoke", detail.dump(), 0);
  }

  Result<std::vector<ClaimCode>> CreateClaimCodes(const fs::path& csv, int year, Time expires) override {
    std::lock_guard lock(mu_);
    if (auto r = CheckYear(year); !r) return std::unexpected(r.error());
    auto keyer = Keyer();
    if (!keyer) return std::unexpected(keyer.error());
    std::vector<Row> stage;
    std::vector<ClaimCode> codes;
    auto in = ReadCsvImport(csv, {"staff_id", "first_name", "last_name"}, {},
                            [&](CsvImport& f, const internal::CsvRecord& rec) {
      std::string staff = f.Field(rec, 0), first = f.Field(rec, 1), last = f.Field(rec, 2);
      std::string name = first + (first.empty() || last.empty() ? "" : " ") + last;
      if (staff.empty()) return f.Bad(rec, 0, "empty staff identifier");
      if (name.empty() || name.size() > 100) return f.Bad(rec, 1, "the name must have 1 to 100 bytes");
      std::string key = (*keyer)->Key(staff);
      if (!f.FirstMention(rec, 0, key)) return;
      std::string code = RandomBase32(16);
      stage.push_back({std::to_string(rec.line), key, name, ClaimHash(code)});
      codes.push_back({staff, code.substr(0, 4) + "-" + code.substr(4, 4) + "-" + code.substr(8, 4) + "-" + code.substr(12, 4)});
    });
    if (!in) return std::unexpected(in.error());
    Problems& problems = *(*in)->problems;
    const auto& c = (*in)->cols;
    if (!problems.empty()) return problems.ToError();
    Transaction tx(*db_);
    if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
    auto seq = NextSeq();
    if (!seq) return std::unexpected(seq.error());
    if (auto r = Stage("stage_claims", "line BIGINT, staff_key TEXT, display_name TEXT, code_hash TEXT",
                       {"line", "staff_key", "display_name", "code_hash"}, stage);
        !r)
      return std::unexpected(r.error());
    if (auto r = ReportNotOnRoster("stage_claims", year, c[0] + 1,
                                   "not on the roster of card year " + std::to_string(year) + " (import the roster first)",
                                   problems);
        !r)
      return std::unexpected(r.error());
    if (!problems.empty()) return problems.ToError();
    if (auto r = db_->Execute(
            "INSERT INTO holder_names (roster_id, display_name) SELECT r.id, s.display_name FROM stage_claims s "
            "JOIN roster r ON r.card_year = $1 AND r.staff_key = s.staff_key WHERE true "
            "ON CONFLICT (roster_id) DO UPDATE SET display_name = excluded.display_name",
            {int64_t{year}});
        !r)
      return std::unexpected(r.error());
    auto n = db_->Execute(
        "INSERT INTO claim_codes (roster_id, code_hash, expires_at, used_at, audit_seq) SELECT r.id, s.code_hash, $2, "
        "NULL, $3 FROM stage_claims s JOIN roster r ON r.card_year = $1 AND r.staff_key = s.staff_key WHERE true "
        "ON CONFLICT (roster_id) DO UPDATE SET code_hash = excluded.code_hash, expires_at = excluded.expires_at, "
        "used_at = NULL, audit_seq = excluded.audit_seq",
        {int64_t{year}, Seconds(expires), *seq});
    if (!n) return std::unexpected(n.error());
    nlohmann::json detail = {{"year", year}, {"file", csv.filename().string()}, {"codes", codes.size()},
                             {"expires", FormatRfc3339(expires)}};
    if (auto f = Finish(tx, *seq, "create claim codes", detail.dump(), codes.size()); !f) return std::unexpected(f.error());
    return codes;
  }

  Result<IssuedCard> RedeemClaimCode(std::string_view code, std::chrono::seconds retry_window) override {
    std::string norm;
    for (char ch : code)
      if (ch != '-' && ch != ' ') norm += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    static const std::string kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    if (norm.size() != 16 || norm.find_first_not_of(kAlphabet) != std::string::npos)
      return Fail(Code::kInvalidArgument, "a claim code has 16 letters and digits, as XXXX-XXXX-XXXX-XXXX");
    std::lock_guard lock(mu_);
    auto rows = db_->Query(
        "SELECT c.roster_id, c.expires_at, c.used_at, r.card_year, r.staff_key FROM claim_codes c "
        "JOIN roster r ON r.id = c.roster_id WHERE c.code_hash = $1",
        {ClaimHash(norm)});
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty()) return Fail(Code::kNotFound, "this claim code is not known");
    const Row& row = rows->front();
    int64_t now = Seconds(clock_.Now());
    if (now >= ToInt(row[1])) return Fail(Code::kFailedPrecondition, "this claim code has expired; ask the school for a new one");
    if (row[2] && now - ToInt(row[2]) > retry_window.count())
      return Fail(Code::kFailedPrecondition, "this claim code has already been used");
    auto cards = IssueKeysLocked({*row[4]}, static_cast<int>(ToInt(row[3])));
    if (!cards) return std::unexpected(cards.error());
    if (!row[2]) {
      auto used = db_->Execute("UPDATE claim_codes SET used_at = $2 WHERE roster_id = $1 AND used_at IS NULL",
                               {ToInt(row[0]), now});
      if (!used) return std::unexpected(used.error());
    }
    return cards->front();
  }

  Result<std::string> AddCredential(CredentialKind kind, std::string_view name_in) override {
    std::string name = Trim(name_in);
    if (name.empty() || name.size() > 100 ||
        std::any_of(name.begin(), name.end(), [](unsigned char ch) { return ch < 0x20 || ch == 0x7f; }))
      return Fail(Code::kInvalidArgument, "a credential name has 1 to 100 characters and no control characters");
    std::string secret = std::string(kind == CredentialKind::kStaff ? "lks_" : "lkp_") + RandomBase32(32);
    std::lock_guard lock(mu_);
    Transaction tx(*db_);
    if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
    auto seq = NextSeq();
    if (!seq) return std::unexpected(seq.error());
    std::string k(CredentialKindName(kind));
    auto taken = db_->Query("SELECT 1 FROM credentials WHERE kind = $1 AND name = $2", {k, name});
    if (!taken) return std::unexpected(taken.error());
    if (!taken->empty()) return Fail(Code::kAlreadyExists, "there is already a " + k + " credential named '" + name + "'");
    if (auto r = db_->Execute("INSERT INTO credentials (kind, name, secret_hash, created_at, audit_seq) VALUES ($1, $2, "
                              "$3, $4, $5)",
                              {k, name, HexEncode(Sha256(secret)), Seconds(clock_.Now()), *seq});
        !r)
      return std::unexpected(r.error());
    nlohmann::json detail = {{"kind", k}, {"name", name}};
    if (auto f = Finish(tx, *seq, "add credential", detail.dump(), 1); !f) return std::unexpected(f.error());
    return secret;
  }

  Result<> RemoveCredential(CredentialKind kind, std::string_view name_in) override {
    std::string name = Trim(name_in), k(CredentialKindName(kind));
    std::lock_guard lock(mu_);
    Transaction tx(*db_);
    if (auto r = tx.Begin(); !r) return r;
    auto seq = NextSeq();
    if (!seq) return std::unexpected(seq.error());
    auto n = db_->Execute("DELETE FROM credentials WHERE kind = $1 AND name = $2", {k, name});
    if (!n) return std::unexpected(n.error());
    if (*n == 0) return Fail(Code::kNotFound, "there is no " + k + " credential named '" + name + "'");
    nlohmann::json detail = {{"kind", k}, {"name", name}};
    return Finish(tx, *seq, "remove credential", detail.dump(), static_cast<uint64_t>(*n));
  }

  Result<Credential> Authenticate(CredentialKind kind, std::string_view secret) const override {
    if (secret.empty() || secret.size() > 200) return Fail(Code::kUnauthenticated, "no such credential");
    std::lock_guard lock(mu_);
    auto rows = db_->Query("SELECT id, name, created_at FROM credentials WHERE secret_hash = $1 AND kind = $2",
                           {HexEncode(Sha256(secret)), std::string(CredentialKindName(kind))});
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty()) return Fail(Code::kUnauthenticated, "no such credential");
    const Row& r = rows->front();
    return Credential{ToInt(r[0]), kind, r[1].value_or(""), Time(std::chrono::seconds(ToInt(r[2])))};
  }

  Result<CardRecord> FindCard(std::string_view serial) const override {
    std::lock_guard lock(mu_);
    return FindCardLocked(serial);
  }

  Result<CardRecord> AttachToken(std::string_view serial, std::string_view token, Time at) override {
    std::lock_guard lock(mu_);
    auto n = db_->Execute("UPDATE cards SET qr_token = $2, qr_token_at = $3 WHERE serial = $1 AND qr_token IS NULL",
                          {std::string(serial), std::string(token), Seconds(at)});
    if (!n) return std::unexpected(n.error());
    return FindCardLocked(serial);
  }

  Result<std::vector<std::pair<std::string, int>>> RevokedSerials(int first_year, int last_year) const override {
    std::lock_guard lock(mu_);
    std::vector<std::pair<std::string, int>> out;
    auto r = db_->ForEach(
        "SELECT c.serial, r.card_year FROM cards c JOIN roster r ON r.id = c.roster_id WHERE c.status = 'revoked' "
        "AND r.card_year BETWEEN $1 AND $2 ORDER BY r.card_year, c.serial",
        {int64_t{first_year}, int64_t{last_year}},
        [&](const Row& row) { out.emplace_back(*row[0], static_cast<int>(ToInt(row[1]))); });
    if (!r) return std::unexpected(r.error());
    return out;
  }

  Result<> ForEachDigitalCard(int year, const std::function<void(const DigitalCardRow&)>& fn) const override {
    std::lock_guard lock(mu_);
    DigitalCardRow card;
    return db_->ForEach(
        "SELECT c.serial, h.display_name, r.school_number, c.status, c.issued_on FROM cards c "
        "JOIN roster r ON r.id = c.roster_id LEFT JOIN holder_names h ON h.roster_id = r.id "
        "WHERE r.card_year = $1 AND c.channel = 'digital' ORDER BY c.serial",
        {int64_t{year}}, [&](const Row& row) {
          card.serial = row[0].value_or("");
          card.year = year;
          card.holder_name = row[1].value_or("");
          card.school_number = row[2].value_or("");
          card.revoked = row[3] == "revoked";
          card.issued_on = row[4].value_or("");
          fn(card);
        });
  }

  Result<VerifyReport> Verify() const override {
    std::lock_guard lock(mu_);
    VerifyReport rep;
    std::string prev = kZeroHash;
    int64_t expect = 1;
    auto bad = [&](int64_t seq, std::string what) {
      if (!rep.first_bad) {
        rep.first_bad = seq;
        rep.problem = "audit entry " + std::to_string(seq) + ": " + std::move(what);
      }
    };
    // Per-entry record counts, to catch rows deleted from or slipped into the data tables.
    std::unordered_map<int64_t, std::pair<std::string, int64_t>> claimed;
    auto r = db_->ForEach("SELECT seq, at, action, detail, prev_hash, hash FROM audit_log ORDER BY seq", {},
                          [&](const Row& row) {
                            if (rep.first_bad) return;
                            ++rep.entries;
                            int64_t seq = ToInt(row[0]);
                            std::string action = row[2].value_or(""), detail = row[3].value_or("");
                            if (seq != expect) {
                              bad(expect, "missing (the log jumps from " + std::to_string(expect - 1) + " to " +
                                              std::to_string(seq) + ")");
                              return;
                            }
                            if (row[4].value_or("") != prev) {
                              bad(seq, "does not chain to entry " + std::to_string(seq - 1));
                              return;
                            }
                            std::string h = AuditHash(prev, seq, ToInt(row[1]), action, detail);
                            if (h != row[5].value_or("")) {
                              bad(seq, "its content does not match its hash (edited)");
                              return;
                            }
                            auto j = nlohmann::json::parse(detail, nullptr, false);
                            if (j.is_object() && j.contains("table") && j.contains("added"))
                              claimed[seq] = {j["table"].get<std::string>(), j["added"].get<int64_t>()};
                            prev = h;
                            ++expect;
                          });
    if (!r) return std::unexpected(r.error());
    if (rep.first_bad) return rep;
    auto head = db_->Query("SELECT seq, hash FROM audit_head WHERE id = 1");
    if (!head) return std::unexpected(head.error());
    if (head->empty()) {
      bad(expect, "the audit head is missing");
      return rep;
    }
    int64_t head_seq = ToInt((*head)[0][0]);
    if (head_seq > expect - 1) {
      bad(expect, "missing (the log ends at " + std::to_string(expect - 1) + ", the head says " +
                      std::to_string(head_seq) + ")");
      return rep;
    }
    if (head_seq < expect - 1) {
      bad(head_seq + 1, "not recorded in the audit head (the head says " + std::to_string(head_seq) + ")");
      return rep;
    }
    if ((*head)[0][1].value_or("") != prev) {
      bad(head_seq, "does not match the hash kept in the audit head");
      return rep;
    }
    // Rows in the data tables must add up to what each entry says it added.
    std::map<int64_t, std::string> issues;
    std::unordered_map<int64_t, int64_t> actual;
    for (const char* table : {"roster", "cards", "published_uptake"}) {
      auto counts = db_->Query(std::string("SELECT audit_seq, count(*) FROM ") + table + " GROUP BY audit_seq");
      if (!counts) return std::unexpected(counts.error());
      for (auto& row : *counts) {
        int64_t seq = ToInt(row[0]);
        auto it = claimed.find(seq);
        if (it == claimed.end() || it->second.first != table)
          issues.emplace(seq, std::to_string(ToInt(row[1])) + " " + table + " rows claim this entry, which added none");
        else
          actual[seq] = ToInt(row[1]);
      }
    }
    for (auto& [seq, want] : claimed) {
      int64_t have = actual.count(seq) ? actual[seq] : 0;
      if (have != want.second)
        issues.emplace(seq, "added " + std::to_string(want.second) + " " + want.first + " rows but " +
                                std::to_string(have) + " are in the ledger (rows deleted or added behind its back)");
    }
    if (!issues.empty()) bad(issues.begin()->first, issues.begin()->second);
    if (rep.first_bad) return rep;
    // The adoption aggregate must equal a recount from roster and cards.
    auto stored = ReadCells(false);
    if (!stored) return std::unexpected(stored.error());
    auto recount = ReadCells(true);
    if (!recount) return std::unexpected(recount.error());
    auto a = stored->begin(), b = recount->begin();
    while (a != stored->end() || b != recount->end()) {
      if (a != stored->end() && b != recount->end() && a->first == b->first) {
        if (a->second != b->second) {
          rep.problem = "adoption aggregate: cell " + DescribeCell(a->first) + " holds " + std::to_string(a->second) +
                        ", a recount of the cards gives " + std::to_string(b->second);
          return rep;
        }
        ++a, ++b;
      } else if (b == recount->end() || (a != stored->end() && a->first < b->first)) {
        rep.problem = "adoption aggregate: cell " + DescribeCell(a->first) + " holds " + std::to_string(a->second) +
                      ", a recount of the cards gives 0";
        return rep;
      } else {
        rep.problem = "adoption aggregate: cell " + DescribeCell(b->first) +
                      " is missing, a recount of the cards gives " + std::to_string(b->second);
        return rep;
      }
    }
    rep.ok = true;
    return rep;
  }

  Result<std::vector<CountsRow>> Counts(const CountsQuery& q) const override {
    std::lock_guard lock(mu_);
    // The calendar view reads the maintained aggregate. For the school-year view SQLite
    // aggregates by sorting; over millions of cards two narrow covering-index scans tallied here
    // are several times faster. PostgreSQL hash-aggregates on the server.
    if (q.period == Period::kCalendar) return CountsFromCells(q);
    if (db_->dialect() == internal::Dialect::kSqlite) return CountsByScan(q);
    const std::string group = GroupColumn(q.by, "r.");
    // PostgreSQL refuses a constant in GROUP BY, so the "no dimension" group is left out of it.
    const std::string group_by = q.by == Dimension::kNone ? "" : ", " + group;
    const bool school = q.period == Period::kSchool;
    std::string period = school ? "c.school_year" : "r.card_year";
    std::string holder = school ? "r.staff_key" : "r.id";
    std::vector<Value> params = {int64_t{q.first_year ? q.first_year : 0},
                                 int64_t{q.last_year ? q.last_year : 999999}};
    std::string sql =
        "SELECT p, g, sum(nd), sum(ns), sum(nt), sum(nl), count(*), "
        "sum(CASE WHEN nd > 0 AND ns + nt + nl = 0 THEN 1 ELSE 0 END), "
        "sum(CASE WHEN nd = 0 AND ns + nt + nl > 0 THEN 1 ELSE 0 END), "
        "sum(CASE WHEN nd > 0 AND ns + nt + nl > 0 THEN 1 ELSE 0 END) FROM ("
        " SELECT " + period + " AS p, " + group + " AS g, " + holder + " AS h,"
        " sum(CASE WHEN c.channel = 'digital' THEN 1 ELSE 0 END) AS nd,"
        " sum(CASE WHEN c.channel = 'subscription' THEN 1 ELSE 0 END) AS ns,"
        " sum(CASE WHEN c.channel = 'starter' THEN 1 ELSE 0 END) AS nt,"
        " sum(CASE WHEN c.channel = 'library' THEN 1 ELSE 0 END) AS nl"
        " FROM cards c JOIN roster r ON r.id = c.roster_id"
        " WHERE c.status = 'active' AND " + period + " BETWEEN $1 AND $2"
        " GROUP BY " + period + group_by + ", " + holder + ") AS per_holder GROUP BY p, g";
    std::map<std::pair<int, std::string>, CountsRow> cells;
    auto label = [&](int p) { return school ? std::to_string(p) + "-" + std::to_string(p + 1) : std::to_string(p); };
    auto cell = [&](int p, const std::string& g) -> CountsRow& {
      auto [it, fresh] = cells.try_emplace({p, g});
      if (fresh) {
        it->second.period = label(p);
        if (q.by != Dimension::kNone) it->second.group = g;
        if (!school) it->second.eligible = 0;
      }
      return it->second;
    };
    auto r = db_->ForEach(sql, params, [&](const Row& row) {
      CountsRow& c = cell(static_cast<int>(ToInt(row[0])), row[1].value_or(""));
      c.digital = ToInt(row[2]);
      c.subscription = ToInt(row[3]);
      c.starter = ToInt(row[4]);
      c.library = ToInt(row[5]);
      c.holders = ToInt(row[6]);
      c.digital_only = ToInt(row[7]);
      c.physical_only = ToInt(row[8]);
      c.both = ToInt(row[9]);
    });
    if (!r) return std::unexpected(r.error());
    if (!school) {
      auto e = db_->ForEach("SELECT r.card_year, " + group + ", count(*) FROM roster r WHERE r.card_year BETWEEN $1 AND $2 "
                            "GROUP BY r.card_year" + group_by,
                            params, [&](const Row& row) {
                              cell(static_cast<int>(ToInt(row[0])), row[1].value_or("")).eligible = ToInt(row[2]);
                            });
      if (!e) return std::unexpected(e.error());
    }
    std::vector<CountsRow> out;
    out.reserve(cells.size());
    for (auto& [k, v] : cells) out.push_back(std::move(v));
    return out;
  }

  // Counts() from two streamed scans: roster (id -> year, group[, person]) and active cards.
  Result<std::vector<CountsRow>> CountsByScan(const CountsQuery& q) const {
    const bool school = q.period == Period::kSchool;
    const int lo = q.first_year ? q.first_year : 0, hi = q.last_year ? q.last_year : 999999;
    const std::string group = GroupColumn(q.by);
    auto max_id = db_->Query("SELECT coalesce(max(id), 0) FROM roster");
    if (!max_id) return std::unexpected(max_id.error());
    const size_t n = static_cast<size_t>(ToInt((*max_id)[0][0])) + 1;
    std::vector<int32_t> year(n, 0);
    std::vector<int32_t> gcode(n, 0);
    std::vector<std::pair<uint64_t, uint64_t>> person(school ? n : 0);
    std::vector<std::string> gname;
    std::unordered_map<std::string, int32_t> gindex;
    struct Tally {
      int64_t eligible = 0, cards[4] = {0, 0, 0, 0}, holders = 0, digital_only = 0, physical_only = 0, both = 0;
      bool has_eligible = false;
    };
    std::map<std::pair<int, int32_t>, Tally> cells;  // (period, group code)
    auto code_of = [&](std::string_view g) {
      auto it = gindex.find(std::string(g));
      if (it != gindex.end()) return it->second;
      gname.emplace_back(g);
      return gindex[std::string(g)] = static_cast<int32_t>(gname.size() - 1);
    };
    auto hex64 = [](std::string_view h) {
      uint64_t v = 0;
      std::from_chars(h.data(), h.data() + std::min<size_t>(16, h.size()), v, 16);
      return v;
    };
    std::string roster_sql = "SELECT id, card_year, " + group + (school ? ", staff_key" : "") + " FROM roster";
    std::vector<Value> params;
    if (!school) {
      roster_sql += " WHERE card_year BETWEEN $1 AND $2";
      params = {int64_t{lo}, int64_t{hi}};
    }
    auto r = db_->Scan(roster_sql, params, [&](const Db::Cells& c) {
      auto id = static_cast<size_t>(c.Int(0));
      if (id >= n) return;
      year[id] = static_cast<int32_t>(c.Int(1));
      gcode[id] = code_of(c.Text(2));
      if (school) {
        std::string_view key = c.Text(3);  // the HMAC: 128 of its bits identify a person
        person[id] = {hex64(key), hex64(key.size() > 16 ? key.substr(16) : std::string_view())};
      } else {
        Tally& t = cells[{year[id], gcode[id]}];
        ++t.eligible;
        t.has_eligible = true;
      }
    });
    if (!r) return std::unexpected(r.error());
    auto channel_index = [](std::string_view ch) {
      return ch == "digital" ? 0 : ch == "subscription" ? 1 : ch == "starter" ? 2 : 3;
    };
    auto classify = [](Tally& t, unsigned mask) {
      ++t.holders;
      bool digital = mask & 1u, physical = mask & ~1u;
      if (digital && physical) ++t.both;
      else if (digital) ++t.digital_only;
      else ++t.physical_only;
    };
    if (!school) {
      std::vector<uint8_t> mask(n, 0);
      r = db_->Scan("SELECT roster_id, channel FROM cards WHERE status = 'active'", {}, [&](const Db::Cells& c) {
        auto id = static_cast<size_t>(c.Int(0));
        if (id >= n || year[id] == 0) return;  // outside the years asked for
        int ch = channel_index(c.Text(1));
        ++cells[{year[id], gcode[id]}].cards[ch];
        mask[id] |= static_cast<uint8_t>(1u << ch);
      });
      if (!r) return std::unexpected(r.error());
      for (size_t id = 0; id < n; ++id)
        if (mask[id]) classify(cells[{year[id], gcode[id]}], mask[id]);
    } else {
      struct Seen {
        int32_t period, group;
        std::pair<uint64_t, uint64_t> who;
        uint8_t mask;
      };
      std::vector<Seen> seen;
      r = db_->Scan("SELECT roster_id, channel, school_year FROM cards WHERE status = 'active'", {},
                    [&](const Db::Cells& c) {
                      auto id = static_cast<size_t>(c.Int(0));
                      auto sy = static_cast<int32_t>(c.Int(2));
                      if (id >= n || sy < lo || sy > hi) return;
                      int ch = channel_index(c.Text(1));
                      ++cells[{sy, gcode[id]}].cards[ch];
                      seen.push_back({sy, gcode[id], person[id], static_cast<uint8_t>(1u << ch)});
                    });
      if (!r) return std::unexpected(r.error());
      auto key = [](const Seen& a) { return std::tie(a.period, a.group, a.who); };
      std::sort(seen.begin(), seen.end(), [&](const Seen& a, const Seen& b) { return key(a) < key(b); });
      for (size_t i = 0; i < seen.size();) {
        size_t j = i;
        unsigned m = 0;
        for (; j < seen.size() && key(seen[j]) == key(seen[i]); ++j) m |= seen[j].mask;
        classify(cells[{seen[i].period, seen[i].group}], m);
        i = j;
      }
    }
    // Same order as the SQL path: by period, then group name.
    std::vector<CountsRow> out;
    for (auto& [k, t] : cells) {
      CountsRow row;
      row.period = school ? std::to_string(k.first) + "-" + std::to_string(k.first + 1) : std::to_string(k.first);
      if (q.by != Dimension::kNone) row.group = gname[static_cast<size_t>(k.second)];
      if (!school) row.eligible = t.eligible;
      row.digital = t.cards[0];
      row.subscription = t.cards[1];
      row.starter = t.cards[2];
      row.library = t.cards[3];
      row.holders = t.holders;
      row.digital_only = t.digital_only;
      row.physical_only = t.physical_only;
      row.both = t.both;
      out.push_back(std::move(row));
    }
    std::stable_sort(out.begin(), out.end(), [](const CountsRow& a, const CountsRow& b) {
      return std::tie(a.period, a.group) < std::tie(b.period, b.group);
    });
    return out;
  }

  Result<std::vector<PublishedRow>> Published() const override {
    std::lock_guard lock(mu_);
    return PublishedLocked();
  }

 private:
  // --- The adoption aggregate (schema migration 4) ---------------------------------------
  // adoption_cells holds, per (card year, province, network, role, level, mask), how many
  // roster entries hold exactly the channels of `mask` in active cards. Every write moves it in
  // its own transaction, from the rows that write added (identified by their audit_seq).
  struct CellKey {
    int year = 0;
    std::string province, network, role, level;
    int mask = 0;
    auto operator<=>(const CellKey&) const = default;
  };
  using CellDeltas = std::map<CellKey, int64_t>;
  static CellKey KeyOf(const Row& row, size_t mask_col) {
    return {static_cast<int>(ToInt(row[0])), row[1].value_or(""), row[2].value_or(""), row[3].value_or(""),
            row[4].value_or(""), static_cast<int>(ToInt(row[mask_col]))};
  }
  static std::string DescribeCell(const CellKey& k) {
    std::string channels;
    for (Channel c : {Channel::kDigital, Channel::kSubscription, Channel::kStarter, Channel::kLibrary})
      if (k.mask & (1 << static_cast<int>(c))) channels += (channels.empty() ? "" : "+") + std::string(ChannelName(c));
    return "(card year " + std::to_string(k.year) + ", " + k.province + ", " + k.network + ", " + k.role + ", " +
           k.level + ", " + (channels.empty() ? "no card" : channels) + ")";
  }

  // REQUIRES: inside the write transaction. Adds each delta to its cell.
  Result<> ApplyCellDeltas(const CellDeltas& deltas) {
    std::vector<Row> rows;
    for (const auto& [k, d] : deltas)
      if (d != 0)
        rows.push_back({std::to_string(k.year), k.province, k.network, k.role, k.level, std::to_string(k.mask),
                        std::to_string(d)});
    if (rows.empty()) return {};
    static const std::string kUpsert =
        " ON CONFLICT (card_year, province, network, role, level, mask) DO UPDATE SET holders = "
        "adoption_cells.holders + excluded.holders";
    if (rows.size() <= 4) {  // a single issue or revocation: no staging round trips
      for (const Row& row : rows)
        if (auto r = db_->Execute("INSERT INTO adoption_cells (card_year, province, network, role, level, mask, "
                                  "holders) VALUES ($1, $2, $3, $4, $5, $6, $7)" + kUpsert,
                                  {ToInt(row[0]), *row[1], *row[2], *row[3], *row[4], ToInt(row[5]), ToInt(row[6])});
            !r)
          return std::unexpected(r.error());
      return {};
    }
    if (auto r = Stage("stage_cells",
                       "card_year INTEGER, province TEXT, network TEXT, role TEXT, level TEXT, mask INTEGER, "
                       "holders BIGINT",
                       {"card_year", "province", "network", "role", "level", "mask", "holders"}, rows);
        !r)
      return r;
    if (auto r = db_->Execute("INSERT INTO adoption_cells (card_year, province, network, role, level, mask, holders) "
                              "SELECT card_year, province, network, role, level, mask, holders FROM stage_cells "
                              "WHERE true" + kUpsert);
        !r)
      return std::unexpected(r.error());
    return {};
  }

  // Roster entries added by audit entry `seq` (they hold no card yet).
  Result<> CountNewRoster(int year, int64_t seq) {
    CellDeltas d;
    auto r = db_->ForEach(
        "SELECT card_year, province, network, role, level, 0, count(*) FROM roster WHERE card_year = $1 AND "
        "audit_seq = $2 GROUP BY card_year, province, network, role, level",
        {int64_t{year}, seq}, [&](const Row& row) { d[KeyOf(row, 5)] += ToInt(row[6]); });
    if (!r) return r;
    return ApplyCellDeltas(d);
  }

  // Cards added by audit entry `seq` (`added` of them): each moves its holder from the cell of
  // the channels held before to the cell with the new channel too. One write adds cards of one
  // channel and at most one per holder and channel (UNIQUE (roster_id, channel)), so the
  // holder's other active cards are exactly those of other channels.
  Result<> CountNewCards(int64_t seq, int64_t added) {
    if (added == 0) return {};
    const std::string moved =
        "SELECT r.card_year, r.province, r.network, r.role, r.level, (SELECT coalesce(sum(" +
        internal::ChannelBitSql("o.channel") + "), 0) FROM cards o WHERE o.status = 'active' AND o.roster_id = "
        "c.roster_id AND o.channel <> c.channel) AS old_mask, " + internal::ChannelBitSql("c.channel") +
        " AS bit FROM cards c CROSS JOIN roster r WHERE c.audit_seq = $1 AND r.id = c.roster_id";
    CellDeltas d;
    auto move = [&](CellKey k, int bit, int64_t n) {
      d[k] -= n;
      k.mask |= bit;
      d[k] += n;
    };
    Result<> r;
    if (db_->dialect() == internal::Dialect::kSqlite) {
      // SQLite would sort the moved rows (and run the subquery twice) to group them: tally here.
      std::unordered_map<std::string, std::pair<CellKey, int64_t>> tally;
      std::string id;
      r = db_->Scan(moved, {seq}, [&](const Db::Cells& c) {
        id.assign(c.Text(0)).append("|").append(c.Text(1)).append("|").append(c.Text(2)).append("|");
        id.append(c.Text(3)).append("|").append(c.Text(4)).append("|").append(std::to_string(c.Int(5)));
        id.append("|").append(std::to_string(c.Int(6)));
        auto [it, fresh] = tally.try_emplace(id);
        if (fresh)
          it->second.first = {static_cast<int>(c.Int(0)), std::string(c.Text(1)), std::string(c.Text(2)),
                              std::string(c.Text(3)), std::string(c.Text(4)), static_cast<int>(c.Int(5) * 16 + c.Int(6))};
        ++it->second.second;
      });
      for (auto& [_, kn] : tally) {
        CellKey k = kn.first;
        const int bit = k.mask % 16;
        k.mask /= 16;
        move(k, bit, kn.second);
      }
    } else {
      // The per-card subquery inflates the cost estimate, so PostgreSQL would JIT-compile this
      // statement: ~0.4 s of compiling for a ~0.7 s run. Only for this transaction.
      if (auto j = db_->Exec("SET LOCAL jit = off"); !j) return j;
      r = db_->ForEach("SELECT card_year, province, network, role, level, old_mask, bit, count(*) FROM (" + moved +
                           ") AS moved GROUP BY card_year, province, network, role, level, old_mask, bit",
                       {seq}, [&](const Row& row) {
                         move(KeyOf(row, 5), static_cast<int>(ToInt(row[6])), ToInt(row[7]));
                       });
    }
    if (!r) return r;
    return ApplyCellDeltas(d);
  }

  // Cells as stored (`recount` false) or recounted from roster and cards; zero cells left out.
  Result<std::map<CellKey, int64_t>> ReadCells(bool recount) const {
    std::map<CellKey, int64_t> out;
    std::string sql =
        recount ? "SELECT r.card_year, r.province, r.network, r.role, r.level, coalesce(m.mask, 0), count(*) "
                  "FROM roster r LEFT JOIN (SELECT roster_id, sum(" + internal::ChannelBitSql("channel") +
                  ") AS mask FROM cards WHERE status = 'active' GROUP BY roster_id) m ON m.roster_id = r.id "
                  "GROUP BY r.card_year, r.province, r.network, r.role, r.level, coalesce(m.mask, 0)"
                : "SELECT card_year, province, network, role, level, mask, holders FROM adoption_cells";
    auto r = db_->ForEach(sql, {}, [&](const Row& row) {
      if (int64_t n = ToInt(row[6]); n != 0) out[KeyOf(row, 5)] += n;
    });
    if (!r) return std::unexpected(r.error());
    return out;
  }

  // The roster column a dimension groups by ("''" for none), prefixed by `table`.
  static std::string GroupColumn(Dimension by, const std::string& table = "") {
    switch (by) {
      case Dimension::kNone: break;
      case Dimension::kProvince: return table + "province";
      case Dimension::kNetwork: return table + "network";
      case Dimension::kRole: return table + "role";
      case Dimension::kLevel: return table + "level";
    }
    return "''";
  }

  // Counts() of the calendar view, from the aggregate.
  Result<std::vector<CountsRow>> CountsFromCells(const CountsQuery& q) const {
    const std::string group = GroupColumn(q.by);
    std::map<std::pair<int, std::string>, CountsRow> cells;
    auto r = db_->ForEach(
        "SELECT card_year, " + group + ", mask, sum(holders) FROM adoption_cells WHERE card_year BETWEEN $1 AND $2 "
        "AND holders > 0 GROUP BY card_year, " + (q.by == Dimension::kNone ? std::string() : group + ", ") + "mask",
        {int64_t{q.first_year ? q.first_year : 0}, int64_t{q.last_year ? q.last_year : 999999}},
        [&](const Row& row) {
          int year = static_cast<int>(ToInt(row[0]));
          auto [it, fresh] = cells.try_emplace({year, row[1].value_or("")});
          CountsRow& c = it->second;
          if (fresh) {
            c.period = std::to_string(year);
            if (q.by != Dimension::kNone) c.group = row[1].value_or("");
            c.eligible = 0;
          }
          const int mask = static_cast<int>(ToInt(row[2]));
          const int64_t n = ToInt(row[3]);
          *c.eligible += n;
          if (mask == 0) return;
          c.holders += n;
          if (mask & 1) c.digital += n;
          if (mask & 2) c.subscription += n;
          if (mask & 4) c.starter += n;
          if (mask & 8) c.library += n;
          if (mask == 1) c.digital_only += n;
          else if (mask & 1) c.both += n;
          else c.physical_only += n;
        });
    if (!r) return std::unexpected(r.error());
    std::vector<CountsRow> out;
    out.reserve(cells.size());
    for (auto& [k, v] : cells) out.push_back(std::move(v));
    return out;
  }

  Result<std::vector<PublishedRow>> PublishedLocked() const {
    auto rows = db_->Query(
        "SELECT label, year, eligible, subscribers, starters, library, holders, printed_share FROM published_uptake "
        "ORDER BY CASE WHEN year IS NULL THEN 1 ELSE 0 END, year, label");
    if (!rows) return std::unexpected(rows.error());
    std::vector<PublishedRow> out;
    for (auto& row : *rows) {
      PublishedRow p;
      p.label = row[0].value_or("");
      if (row[1]) p.year = static_cast<int>(ToInt(row[1]));
      p.eligible = ToInt(row[2]);
      p.subscribers = ToInt(row[3]);
      p.starters = ToInt(row[4]);
      p.library = ToInt(row[5]);
      p.holders = ToInt(row[6]);
      p.printed_share = row[7].value_or("");
      out.push_back(std::move(p));
    }
    return out;
  }

  static std::string ClaimHash(std::string_view normalized_code) {
    return HexEncode(Sha256("lerarenkaart claim code\n" + std::string(normalized_code)));
  }

  Result<CardRecord> FindCardLocked(std::string_view serial) const {
    auto rows = db_->Query(
        "SELECT c.serial, r.card_year, c.channel, c.status, c.revoked_reason, c.auth_token, c.update_tag, "
        "h.display_name, r.school_number, c.qr_token, c.qr_token_at FROM cards c JOIN roster r ON r.id = c.roster_id "
        "LEFT JOIN holder_names h ON h.roster_id = r.id WHERE c.serial = $1",
        {std::string(serial)});
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty()) return Fail(Code::kNotFound, "no card with serial " + std::string(serial));
    const Row& r = rows->front();
    CardRecord card;
    card.serial = *r[0];
    card.year = static_cast<int>(ToInt(r[1]));
    if (auto ch = ParseChannel(r[2].value_or("")); ch) card.channel = *ch;
    card.revoked = r[3] == "revoked";
    card.revoked_reason = r[4].value_or("");
    card.auth_token = r[5].value_or("");
    card.update_tag = ToInt(r[6]);
    card.holder_name = r[7].value_or("");
    card.school_number = r[8].value_or("");
    card.token = r[9].value_or("");
    if (r[10]) card.token_at = Time(std::chrono::seconds(ToInt(r[10])));
    return card;
  }

  static Result<> CheckYear(int year) {
    if (year < kMinYear || year > kMaxYear)
      return Fail(Code::kInvalidArgument, "card year " + std::to_string(year) + " is out of range (" +
                                              std::to_string(kMinYear) + "-" + std::to_string(kMaxYear) + ")");
    return {};
  }

  Result<StaffKeyer*> Keyer() {
    if (!keyer_) {
      auto k = StaffKeyer::Load(keys_dir_);
      if (!k) return std::unexpected(k.error());
      keyer_ = std::move(*k);
    }
    return keyer_.get();
  }

  std::string DateType() const { return db_->dialect() == internal::Dialect::kSqlite ? "TEXT" : "DATE"; }

  Result<> RequireRoster(int year) {
    auto n = db_->Query("SELECT 1 FROM roster WHERE card_year = $1 LIMIT 1", {int64_t{year}});
    if (!n) return std::unexpected(n.error());
    if (n->empty())
      return Fail(Code::kFailedPrecondition, "there is no roster for card year " + std::to_string(year) +
                                                 "; import it first (lerarenkaart import roster FILE --year " +
                                                 std::to_string(year) + ")");
    return {};
  }

  // (Re)creates an empty temporary staging table and fills it. Queries over staged rows write
  // "staged CROSS JOIN table WHERE ...": SQLite then always drives the join from the staged rows
  // through the unique indexes (it could otherwise pick a quadratic plan); PostgreSQL plans it
  // like any inner join.
  // Adds `what` at (line, column) for every staged row (columns line, staff_key) whose staff
  // member is not on the roster of `year`.
  Result<> ReportNotOnRoster(const std::string& stage_table, int year, int column, const std::string& what,
                             Problems& problems) {
    auto rows = db_->Query("SELECT s.line FROM " + stage_table +
                               " s LEFT JOIN roster r ON r.card_year = $1 AND r.staff_key = s.staff_key "
                               "WHERE r.id IS NULL ORDER BY s.line",
                           {int64_t{year}});
    if (!rows) return std::unexpected(rows.error());
    for (auto& row : *rows) problems.Add(static_cast<int>(ToInt(row[0])), column, what);
    return {};
  }

  Result<> Stage(const std::string& table, const std::string& columns_ddl, const std::vector<std::string>& columns,
                 const std::vector<Row>& rows) {
    if (auto r = db_->Exec("CREATE TEMP TABLE IF NOT EXISTS " + table + " (" + columns_ddl + ")"); !r) return r;
    if (auto r = db_->Exec("DELETE FROM " + table); !r) return r;
    if (auto r = db_->BulkLoad(table, columns, rows); !r) return r;
    // Fresh statistics, so the planner joins a quarter million staged rows by hash, not by loop.
    return db_->Exec("ANALYZE " + table);
  }

  // After a bulk insert PostgreSQL's planner would otherwise keep believing a card year holds a
  // handful of rows and join the next import row by row against all of them (quadratic).
  // SQLite's joins are pinned by CROSS JOIN instead, and its ANALYZE reads whole indexes.
  Result<> RefreshStatistics(const std::string& table, uint64_t added) {
    if (db_->dialect() != internal::Dialect::kPostgres || added < 1000) return {};
    return db_->Exec("ANALYZE " + table);
  }

  // The tail of "INSERT INTO cards ... SELECT ... FROM stage s CROSS JOIN roster r WHERE ..." that
  // skips holders who already have a card of `channel_sql`. REQUIRES: the writer lock (so nobody
  // else inserts meanwhile) and at most one staged row per holder. SQLite resolves it in the
  // unique index (ON CONFLICT); PostgreSQL's ON CONFLICT inserts speculatively, row by row, which
  // costs more than the anti-join.
  std::string NewCardsOnly(const std::string& channel_sql) const {
    if (db_->dialect() == internal::Dialect::kSqlite) return " ORDER BY r.id ON CONFLICT (roster_id, channel) DO NOTHING";
    return " AND NOT EXISTS (SELECT 1 FROM cards x WHERE x.roster_id = r.id AND x.channel = " + channel_sql +
           ") ORDER BY r.id";
  }

  // REQUIRES: inside a write transaction. The sequence number the next audit entry will get.
  Result<int64_t> NextSeq() {
    auto head = db_->Query("SELECT seq FROM audit_head WHERE id = 1");
    if (!head) return std::unexpected(head.error());
    if (head->empty()) return Fail(Code::kDataLoss, "the ledger's audit head row is missing; run `ledger verify`");
    return ToInt((*head)[0][0]) + 1;
  }

  std::string ImportDetail(const fs::path& csv, const std::string& content, int year, const std::string& table,
                           const ImportSummary& s) const {
    nlohmann::json j = {{"file", csv.filename().string()}, {"sha256", HexEncode(Sha256(content))},
                        {"table", table}, {"rows", s.rows}, {"added", s.added}, {"present", s.present}};
    if (year) j["year"] = year;
    return j.dump();
  }

  // Appends the audit entry `seq` and commits; with nothing changed it just rolls back.
  Result<> Finish(Transaction& tx, int64_t seq, const std::string& action, const std::string& detail, uint64_t changed) {
    if (changed == 0 && action != "revoke") return {};  // the destructor rolls back: no change, no entry
    auto head = db_->Query("SELECT hash FROM audit_head WHERE id = 1");
    if (!head) return std::unexpected(head.error());
    std::string prev = head->empty() ? kZeroHash : (*head)[0][0].value_or(kZeroHash);
    int64_t at = Seconds(clock_.Now());
    std::string hash = AuditHash(prev, seq, at, action, detail);
    if (auto r = db_->Execute("INSERT INTO audit_log (seq, at, action, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, "
                              "$5, $6)",
                              {seq, at, action, detail, prev, hash});
        !r)
      return std::unexpected(r.error());
    if (auto r = db_->Execute("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", {seq, hash}); !r)
      return std::unexpected(r.error());
    return tx.Commit();
  }

  mutable std::mutex mu_;
  std::unique_ptr<Db> db_;
  fs::path keys_dir_;
  const Clock& clock_;
  std::unique_ptr<StaffKeyer> keyer_;
};

}  // namespace

std::string_view ChannelName(Channel c) {
  switch (c) {
    case Channel::kDigital: return "digital";
    case Channel::kSubscription: return "subscription";
    case Channel::kStarter: return "starter";
    case Channel::kLibrary: return "library";
  }
  return "?";
}

std::string_view CredentialKindName(CredentialKind k) {
  return k == CredentialKind::kStaff ? "staff" : "partner";
}

Result<Channel> ParseChannel(std::string_view name) {
  for (Channel c : {Channel::kDigital, Channel::kSubscription, Channel::kStarter, Channel::kLibrary})
    if (ChannelName(c) == name) return c;
  return Fail(Code::kInvalidArgument,
              "unknown channel '" + std::string(name) + "' (digital, subscription, starter or library)");
}

Result<std::string> ProvinceOfPostcode(int pc) {
  struct Range {
    int lo, hi;
    const char* name;
  };
  static constexpr Range kRanges[] = {
      {1000, 1299, "Brussel"},         {1300, 1499, "Waals-Brabant"},  {1500, 1999, "Vlaams-Brabant"},
      {2000, 2999, "Antwerpen"},       {3000, 3499, "Vlaams-Brabant"}, {3500, 3999, "Limburg"},
      {4000, 4999, "Luik"},            {5000, 5999, "Namen"},          {6000, 6599, "Henegouwen"},
      {6600, 6999, "Luxemburg"},       {7000, 7999, "Henegouwen"},     {8000, 8999, "West-Vlaanderen"},
      {9000, 9999, "Oost-Vlaanderen"},
  };
  for (const auto& r : kRanges)
    if (pc >= r.lo && pc <= r.hi) return std::string(r.name);
  return Fail(Code::kInvalidArgument, "postcode " + std::to_string(pc) + " is not a Belgian postcode");
}

Result<std::unique_ptr<Ledger>> OpenLedger(const LedgerOptions& options, const Clock& clock) {
  fs::path keys = options.keys_dir.empty() ? options.data_dir / "keys" : options.keys_dir;
  std::unique_ptr<Db> db;
  const std::string& url = options.url;
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    auto pg = internal::OpenPostgres(url);
    if (!pg) return std::unexpected(pg.error());
    db = std::move(*pg);
  } else {
    if (url.find("://") != std::string::npos)
      return Fail(Code::kInvalidArgument, "ledger URL '" + url + "': use a file path or a postgresql:// URL");
    fs::path file = url.empty() ? options.data_dir / "ledger.sqlite" : fs::path(url.starts_with("sqlite:") ? url.substr(7) : url);
    std::error_code ec;
    if (file.has_parent_path()) fs::create_directories(file.parent_path(), ec);
    if (!fs::exists(file, ec)) {  // owner-only, like every other file under the data directory
      int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd >= 0) ::close(fd);
    }
    auto lite = internal::OpenSqlite(file.string());
    if (!lite) return std::unexpected(lite.error());
    db = std::move(*lite);
  }
  if (auto r = internal::Migrate(*db, clock.Now()); !r) return std::unexpected(r.error());
  return std::unique_ptr<Ledger>(new SqlLedger(std::move(db), keys, clock));
}

}  // namespace lk::ledger
