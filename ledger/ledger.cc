// The ledger itself, written once over the Db seam. Every write runs in one transaction that
// holds the ledger's writer lock, appends one audit entry chained by SHA-256 to the previous
// one, and moves the audit head; so a crash leaves the ledger as before or as after.
#include "ledger/ledger.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <charconv>
#include <map>
#include <tuple>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <cstring>
#include <future>

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
    return std::unique_ptr<StaffKeyer>(new StaffKeyer(key));
  }
  std::string Key(std::string_view staff_id) { return HexEncode(mac_.Mac(staff_id)); }

 private:
  explicit StaffKeyer(std::string_view key) : mac_(key) {}
  HmacSha256 mac_;
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
// A streamed Row read like Db::Cells (NULL reads as 0 or "").
struct RowCells {
  const internal::Row& row;
  int64_t Int(int i) const { return ToInt(row[static_cast<size_t>(i)]); }
  std::string_view Text(int i) const {
    const auto& cell = row[static_cast<size_t>(i)];
    return cell ? std::string_view(*cell) : std::string_view();
  }
};
int64_t Seconds(Time t) { return t.time_since_epoch().count(); }
int SchoolYearOf(std::chrono::year_month_day d) {
  return int(d.year()) - (unsigned(d.month()) < 9 ? 1 : 0);
}

constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";  // ascending byte order

// A channel's bit in the channel masks (as internal::ChannelBitSql computes it in SQL).
int ChannelBit(Channel c) { return 1 << static_cast<int>(c); }

// n random Crockford base32 strings of `len` characters each (5 random bits per character, as
// RandomBase32), from one draw of the CSPRNG instead of one per string.
std::vector<std::string> RandomSerials(size_t n, size_t len) {
  const std::string raw = RandomBytes(n * len);
  std::vector<std::string> out(n, std::string(len, '0'));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < len; ++j) out[i][j] = kCrockford[static_cast<unsigned char>(raw[i * len + j]) & 31];
  return out;
}
// n random 12-character serials as RandomSerials(n, 12) makes them, in ascending order. A batch
// hands them out in staff-key order, which is the order of the roster entries a roster import
// makes: the cards then go into the serial index and the (roster_id, channel) index both in
// ascending order, instead of one of them at random places (about a third of a bulk insert's
// index work). Each serial is still 60 random bits; what the order tells is that, within one
// batch, a holder with the smaller staff key (a keyed HMAC) has the smaller serial.
std::vector<std::string> SortedRandomSerials(size_t n) {
  // The alphabet is in ascending byte order, so the strings sort as their 60-bit values do (and
  // byte order is the order of the serial index: SQLite BINARY, PostgreSQL COLLATE "C"). Drawn,
  // sorted and formatted this way 250,000 take about 25 ms instead of 92 ms (perf, per import).
  constexpr size_t kLen = 12;
  const std::string raw = RandomBytes(n * kLen);
  std::vector<uint64_t> values(n);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < kLen; ++j) values[i] = values[i] << 5 | (static_cast<unsigned char>(raw[i * kLen + j]) & 31);
  std::sort(values.begin(), values.end());
  std::vector<std::string> out(n, std::string(kLen, '0'));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < kLen; ++j) out[i][kLen - 1 - j] = kCrockford[(values[i] >> (5 * j)) & 31];
  return out;
}
// Positions 0..n-1 ordered by key(i) (byte order), ties in position order.
template <typename KeyOf>
std::vector<size_t> OrderByKey(size_t n, KeyOf key) {
  std::vector<std::pair<uint64_t, size_t>> prefix(n);  // the first 8 bytes, big-endian, decide most pairs
  for (size_t i = 0; i < n; ++i) {
    std::string_view k = key(i);
    uint64_t p = 0;
    for (size_t j = 0; j < 8; ++j) p = p << 8 | (j < k.size() ? static_cast<unsigned char>(k[j]) : 0);
    prefix[i] = {p, i};
  }
  std::sort(prefix.begin(), prefix.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    const int c = key(a.second).compare(key(b.second));
    return c != 0 ? c < 0 : a.second < b.second;
  });
  std::vector<size_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = prefix[i].second;
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

// How a batch of n rows runs its side work (fingerprints for the audit entry): on a second thread
// next to the database's insert when the batch is large, on the caller's thread (when asked for
// the result) when starting a thread would cost more than the work. With both flags libstdc++
// starts a thread, and runs the work deferred instead if none can be started (EAGAIN) rather
// than throwing; the work it then runs is the moved-from callable, so the callables given with
// this policy capture only references (and values that survive a move, like an enum).
std::launch Beside(size_t n) {
  return n >= 4096 ? std::launch::async | std::launch::deferred : std::launch::deferred;
}

std::string AuditHash(const std::string& prev, int64_t seq, int64_t at, const std::string& action,
                      const std::string& detail) {
  return HexEncode(Sha256(prev + "\n" + std::to_string(seq) + "\n" + std::to_string(at) + "\n" + action + "\n" + detail));
}

// What the audit entry that made a card records of it: "SERIAL:FINGERPRINT" per card, sorted by
// serial, comma-separated; the fingerprint is the first 64 bits (hex) of a SHA-256 of the
// card's fields that never change (the card year and staff key name its roster entry).
// Held in place (16 hex characters), not in a std::string: a batch makes one per card.
using Fingerprint = std::array<char, 16>;
std::string_view View(const Fingerprint& f) { return {f.data(), f.size()}; }
Fingerprint CardFingerprint(std::string_view serial, std::string_view card_year, std::string_view staff_key,
                            std::string_view channel, std::string_view issued_on, std::string_view school_year,
                            std::string_view auth_token) {
  static constexpr char kHex[] = "0123456789abcdef";
  thread_local std::string fields;  // reused: one of these runs per card of a batch
  fields.clear();
  for (std::string_view f : {serial, card_year, staff_key, channel, issued_on, school_year, auth_token})
    fields.append(f).push_back('\n');
  const std::string digest = Sha256(fields);
  Fingerprint out;
  for (size_t i = 0; i < 8; ++i) {
    out[2 * i] = kHex[static_cast<unsigned char>(digest[i]) >> 4];
    out[2 * i + 1] = kHex[static_cast<unsigned char>(digest[i]) & 15];
  }
  return out;
}
std::string CardList(std::vector<std::pair<std::string, Fingerprint>> serial_fingerprints) {
  std::sort(serial_fingerprints.begin(), serial_fingerprints.end());  // usually sorted already
  std::string out;
  out.reserve(serial_fingerprints.size() * 30);
  for (const auto& [serial, fp] : serial_fingerprints) {
    if (!out.empty()) out.push_back(',');
    out.append(serial).append(":").append(View(fp));
  }
  return out;
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
                       "line BIGINT, staff_key " + KeyType() + ", role TEXT, network TEXT, level TEXT, school_number TEXT, "
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
    std::vector<int> lines;  // of the staged rows
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
      // The same person twice is found below, once the rows are in staff-key order (a hash map
      // of every key, as FirstMention keeps, cost more than the sort).
      lines.push_back(rec.line);
      stage.push_back({std::to_string(rec.line), (*keyer)->Key(staff), FormatIsoDate(*date),
                       std::to_string(SchoolYearOf(*date)), ""});
    });
    if (!in) return std::unexpected(in.error());
    Problems& problems = *(*in)->problems;
    const auto& t = (*in)->table;
    const int staff_col = (*in)->cols[0];
    const uint64_t total = t.records.size();
    int first_sy = year + 1, last_sy = year - 2;  // school years of the new cards
    {
      const std::vector<size_t> order = OrderByKey(stage.size(), [&](size_t i) { return std::string_view(*stage[i][1]); });
      std::vector<Row> sorted;
      sorted.reserve(stage.size());
      int first_line = 0;  // of the staff member of the last row kept
      for (size_t i : order) {  // equal keys come together, the earliest line first
        if (!sorted.empty() && *sorted.back()[1] == *stage[i][1]) {
          problems.Add(lines[i], staff_col + 1, "the same staff member is already on line " + std::to_string(first_line));
          continue;
        }
        first_line = lines[i];
        sorted.push_back(std::move(stage[i]));
      }
      stage = std::move(sorted);
      std::vector<std::string> serials = SortedRandomSerials(stage.size());
      for (size_t i = 0; i < stage.size(); ++i) {
        stage[i][4] = std::move(serials[i]);
        const std::string& sy_text = *stage[i][3];
        int sy = 0;
        std::from_chars(sy_text.data(), sy_text.data() + sy_text.size(), sy);
        first_sy = std::min(first_sy, sy), last_sy = std::max(last_sy, sy);
      }
    }
    if (!problems.empty() && stage.empty()) return problems.ToError();

    Transaction tx(*db_);
    if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
    auto seq = NextSeq();
    if (!seq) return std::unexpected(seq.error());
    if (auto r = RequireRoster(year); !r) return std::unexpected(r.error());
    if (auto r = Stage("stage_cards",
                       "line BIGINT, staff_key " + KeyType() + ", issued_on " + DateType() + ", school_year INTEGER, serial TEXT",
                       {"line", "staff_key", "issued_on", "school_year", "serial"}, stage);
        !r)
      return std::unexpected(r.error());
    if (progress) progress(total * 3 / 4, total);
    auto not_on_roster = [&] {
      return ReportNotOnRoster("stage_cards", year, staff_col + 1,
                               "this staff member is not on the roster of card year " + std::to_string(year),
                               problems);
    };
    if (!problems.empty()) {  // list the staff not on the roster too, then import nothing
      if (auto r = not_on_roster(); !r) return std::unexpected(r.error());
      return problems.ToError();
    }
    // The audit entry lists the new cards (CardList). A second thread fingerprints every staged
    // row while the database inserts (usually every one makes a card) and then frees the staged
    // rows and the parsed records, which the rest of the import does not touch (it needs their
    // counts only: `staged`, `total`).
    const size_t staged = stage.size();
    const std::string year_text = std::to_string(year);
    std::vector<internal::CsvRecord>& records = (*in)->table.records;
    auto listing = std::async(Beside(staged), [&stage, &records, &year_text, channel] {
      std::vector<std::pair<std::string, Fingerprint>> fingerprints;
      fingerprints.reserve(stage.size());
      for (const Row& st : stage)
        fingerprints.emplace_back(*st[4], CardFingerprint(*st[4], year_text, *st[1], ChannelName(channel), *st[2],
                                                          *st[3], ""));
      std::string all = CardList(fingerprints);
      std::vector<Row>().swap(stage);
      std::vector<internal::CsvRecord>().swap(records);
      return std::pair(std::move(fingerprints), std::move(all));
    });
    // $1 year, $2 channel, $3 audit entry (SQLite's upkeep query takes $1 = the entry alone).
    auto added = InsertCards(
        {"serial, roster_id, channel, issued_on, school_year, status, update_tag, audit_seq",
         "s.serial AS serial, r.id AS roster_id, CAST($2 AS TEXT) AS channel, s.issued_on AS issued_on, "
         "s.school_year AS school_year, 'active' AS status, CAST($3 AS BIGINT) AS update_tag, CAST($3 AS BIGINT) AS "
         "audit_seq",
         "FROM stage_cards s CROSS JOIN roster r WHERE r.card_year = $1 AND r.staff_key = s.staff_key", "$2"},
        {int64_t{year}, std::string(ChannelName(channel)), *seq}, *seq, year, channel, first_sy, last_sy);
    if (!added) return std::unexpected(added.error());
    // Every staged row made a card, or its holder had one already, or is not on the roster (a
    // bad row: the transaction is rolled back). Only look when some made no card.
    if (static_cast<size_t>(*added) < staged) {
      if (auto r = not_on_roster(); !r) return std::unexpected(r.error());
      if (!problems.empty()) return problems.ToError();
    }
    if (auto r = RefreshStatistics("cards", static_cast<uint64_t>(*added)); !r) return std::unexpected(r.error());
    // The new cards' fields go into the audit entry (see CardFingerprint). Usually every staged
    // row made a card; otherwise ask which did.
    auto [fingerprints, card_list] = listing.get();
    if (static_cast<size_t>(*added) < staged) {
      std::unordered_map<std::string, bool> made;
      if (*added > 0) {
        auto r = db_->Scan("SELECT s.serial FROM stage_cards s CROSS JOIN cards c WHERE c.serial = s.serial", {},
                           [&](const Db::Cells& c) { made.emplace(std::string(c.Text(0)), true); });
        if (!r) return std::unexpected(r.error());
      }
      std::erase_if(fingerprints, [&](const auto& f) { return !made.count(f.first); });
      card_list = CardList(std::move(fingerprints));
    }
    ImportSummary sum{total, static_cast<uint64_t>(*added), total - static_cast<uint64_t>(*added)};
    if (auto r = Finish(tx, *seq, "import " + std::string(ChannelName(channel)),
                        ImportDetail(csv, (*in)->text, year, "cards", sum, std::move(card_list)), sum.added);
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
    auto today = BrusselsDate(clock_.Now());
    const std::string issued_on = FormatIsoDate(today);
    const int school_year = SchoolYearOf(today);
    // The same person twice: one staged row (their first mention), the same card for both.
    std::unordered_map<std::string_view, size_t> mentioned;
    mentioned.reserve(staff_keys.size());
    std::vector<size_t> first_of(staff_keys.size());  // position of each person's first mention
    std::vector<size_t> firsts;                       // positions of first mentions, in staff-key order
    firsts.reserve(staff_keys.size());
    for (size_t i = 0; i < staff_keys.size(); ++i) {
      auto [it, fresh] = mentioned.emplace(staff_keys[i], i);
      first_of[i] = it->second;
      if (fresh) firsts.push_back(i);
    }
    {
      const std::vector<size_t> order = OrderByKey(firsts.size(), [&](size_t k) { return std::string_view(staff_keys[firsts[k]]); });
      std::vector<size_t> sorted(firsts.size());
      for (size_t k = 0; k < order.size(); ++k) sorted[k] = firsts[order[k]];
      firsts = std::move(sorted);
    }
    std::vector<std::string> serials = SortedRandomSerials(firsts.size()), tokens = RandomSerials(firsts.size(), 32);
    std::vector<Row> stage;
    stage.reserve(firsts.size());
    for (size_t k = 0; k < firsts.size(); ++k)
      stage.push_back({std::to_string(firsts[k]), staff_keys[firsts[k]], serials[k], tokens[k]});
    Transaction tx(*db_);
    if (auto r = tx.Begin(); !r) return std::unexpected(r.error());
    auto seq = NextSeq();
    if (!seq) return std::unexpected(seq.error());
    if (auto r = Stage("stage_issue", "pos BIGINT, staff_key " + KeyType() + ", serial TEXT, auth_token TEXT",
                       {"pos", "staff_key", "serial", "auth_token"}, stage);
        !r)
      return std::unexpected(r.error());
    // The audit entry lists the new cards (CardList). A second thread fingerprints the staged
    // cards while the database inserts, as if every one is new (the usual batch), and frees the
    // staged rows. It reads serials, tokens, staff_keys and firsts: nothing touches them, or
    // the staged rows, until listing.get().
    const std::string year_text = std::to_string(year), sy_text = std::to_string(school_year);
    auto listing = std::async(Beside(firsts.size()), [&] {
      std::vector<Row>().swap(stage);
      std::vector<std::pair<std::string, Fingerprint>> fingerprints;
      fingerprints.reserve(firsts.size());
      for (size_t k = 0; k < firsts.size(); ++k)  // staff-key order: serials ascending
        fingerprints.emplace_back(serials[k], CardFingerprint(serials[k], year_text, staff_keys[firsts[k]], "digital",
                                                              issued_on, sy_text, tokens[k]));
      std::string all = CardList(fingerprints);
      return std::pair(std::move(fingerprints), std::move(all));
    });
    // Insert-or-get: the first writer (under the ledger's writer lock) makes the card; UNIQUE
    // (roster_id, channel) backs that up.
    auto added = InsertCards(
        {"serial, roster_id, channel, issued_on, school_year, status, auth_token, update_tag, audit_seq",
         "s.serial AS serial, r.id AS roster_id, 'digital' AS channel, CAST($3 AS " + DateType() + ") AS issued_on, "
         "CAST($4 AS INTEGER) AS school_year, 'active' AS status, s.auth_token AS auth_token, CAST($2 AS BIGINT) AS "
         "update_tag, CAST($2 AS BIGINT) AS audit_seq",
         "FROM stage_issue s CROSS JOIN roster r WHERE r.card_year = $1 AND r.staff_key = s.staff_key", "'digital'"},
        {int64_t{year}, *seq, issued_on, int64_t{school_year}}, *seq, year, Channel::kDigital, school_year,
        school_year);
    if (!added) return std::unexpected(added.error());
    if (auto st = RefreshStatistics("cards", static_cast<uint64_t>(*added)); !st) return std::unexpected(st.error());
    auto [fingerprints, all_new] = listing.get();
    std::vector<IssuedCard> out(staff_keys.size());
    std::vector<bool> found(staff_keys.size());
    if (static_cast<size_t>(*added) == firsts.size()) {
      // Everyone got a new card (the usual batch): the cards are the staged serials and tokens.
      for (size_t k = 0; k < firsts.size(); ++k) {
        out[firsts[k]] = {std::move(serials[k]), year, true, false, std::move(tokens[k]), *seq};
        found[firsts[k]] = true;
      }
    } else {
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
    }
    for (size_t i = 0; i < out.size(); ++i)  // later mentions: the first mention's card, not new
      if (first_of[i] != i && found[first_of[i]]) {
        out[i] = out[first_of[i]];
        out[i].is_new = false;
        found[i] = true;
      }
    std::string missing;
    size_t n_missing = 0;
    for (size_t i = 0; i < found.size(); ++i)
      if (!found[i] && ++n_missing <= 20) missing += (missing.empty() ? "" : ", ") + std::to_string(i + 1);
    if (n_missing)
      return Fail(Code::kNotFound, std::to_string(n_missing) + " staff member(s) not on the roster of card year " +
                                       std::to_string(year) + " (input positions " + missing +
                                       (n_missing > 20 ? ", ..." : "") + "); no card was issued");
    nlohmann::json detail = {{"year", year}, {"table", "cards"}, {"added", *added}, {"requested", staff_keys.size()}};
    if (*added == 1)
      for (auto& card : out)
        if (card.is_new) detail["serial"] = card.serial;
    if (static_cast<size_t>(*added) == firsts.size()) {
      if (!firsts.empty()) detail["cards"] = std::move(all_new);
    } else {  // the new cards are the staged ones of the holders who had none: their fingerprints
      size_t kept = 0;
      for (size_t k = 0; k < firsts.size(); ++k)
        if (out[firsts[k]].is_new) {
          if (kept != k) fingerprints[kept] = std::move(fingerprints[k]);  // no self-move
          ++kept;
        }
      fingerprints.resize(kept);
      if (!fingerprints.empty()) detail["cards"] = CardList(std::move(fingerprints));
    }
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
    // The holder's cells in both aggregates before the change (only used if it happens): the
    // card's roster entry with the channels it holds, and every active card of the holder in the
    // card's school year (this one included), with the groups of their roster entries.
    auto before = db_->Query("SELECT r.card_year, r.province, r.network, r.role, r.level, (SELECT sum(" +
                                 internal::ChannelBitSql("o.channel") +
                                 ") FROM cards o WHERE o.roster_id = r.id AND o.status = 'active'), " +
                                 internal::ChannelBitSql("c.channel") +
                                 ", c.school_year, r.staff_key FROM cards c JOIN roster r ON r.id = c.roster_id "
                                 "WHERE c.serial = $1",
                             {std::string(serial)});
    if (!before) return std::unexpected(before.error());
    std::vector<Row> held;  // serial, channel bit, province, network, role, level
    if (before->size() == 1) {
      const int64_t sy = ToInt(before->front()[7]);
      auto h = db_->Query(
          "SELECT o.serial, " + internal::ChannelBitSql("o.channel") +
              ", ro.province, ro.network, ro.role, ro.level FROM roster ro JOIN cards o ON o.roster_id = ro.id "
              "WHERE ro.card_year IN ($2 - 1, $2, $2 + 1, $2 + 2) AND ro.staff_key = $1 AND o.status = 'active' "
              "AND o.school_year = $2",
          {before->front()[8].value_or(""), sy});
      if (!h) return std::unexpected(h.error());
      held = std::move(*h);
    }
    const int64_t revoked_at = Seconds(clock_.Now());
    auto n = db_->Execute(
        "UPDATE cards SET status = 'revoked', revoked_reason = $2, revoked_at = $3, update_tag = $4 "
        "WHERE serial = $1 AND status = 'active'",
        {std::string(serial), why, revoked_at, *seq});
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
      // School year: one card fewer in each group; each group's holder mask before and after.
      const int sy = static_cast<int>(ToInt(b[7])), bit = static_cast<int>(ToInt(b[6]));
      const std::string group[kDims] = {"", k.province, k.network, k.role, k.level};
      SchoolDeltas sd;
      for (int dim = 0; dim < kDims; ++dim) {
        int old = 0, now = 0;
        for (const Row& o : held) {
          if (dim > 0 && o[static_cast<size_t>(dim + 1)].value_or("") != group[dim]) continue;
          const int ob = static_cast<int>(ToInt(o[1]));
          old |= ob;
          if (o[0].value_or("") != serial) now |= ob;
        }
        sd.cards[{sy, dim, group[dim], bit}] -= 1;
        if (old == now) continue;
        sd.holders[{sy, dim, group[dim], old}] -= 1;
        if (now) sd.holders[{sy, dim, group[dim], now}] += 1;
      }
      if (auto r = ApplySchoolDeltas(sd); !r) return r;
    }
    nlohmann::json detail = {{"serial", serial}, {"reason", why}, {"revoked_at", revoked_at}};
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
    if (auto r = Stage("stage_claims", "line BIGINT, staff_key " + KeyType() + ", display_name TEXT, code_hash TEXT",
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
    auto snapshot = Revocations(first_year, last_year);
    if (!snapshot) return std::unexpected(snapshot.error());
    return std::move(snapshot->revoked);
  }

  Result<RevocationSnapshot> Revocations(int first_year, int last_year) const override {
    std::lock_guard lock(mu_);
    RevocationSnapshot out;
    // The first row (kind 0) carries the sequence number: a revoked card's update tag is the audit
    // entry that revoked it (`ledger verify` checks that), and it never changes afterwards. Both
    // parts read the revoked cards through their partial index (cards_revoked); CROSS JOIN keeps
    // SQLite from walking every roster entry of the years instead (0.1 s at 750,000 entries).
    auto r = db_->ForEach(
        "SELECT 0, '', 0, COALESCE(max(update_tag), 0) FROM cards WHERE status = 'revoked' UNION ALL "
        "SELECT 1, c.serial, r.card_year, 0 FROM cards c CROSS JOIN roster r WHERE c.status = 'revoked' "
        "AND r.id = c.roster_id AND r.card_year BETWEEN $1 AND $2 ORDER BY 1, 3, 2",
        {int64_t{first_year}, int64_t{last_year}}, [&](const Row& row) {
          if (ToInt(row[0]) == 0) out.sequence = ToInt(row[3]);
          else out.revoked.emplace_back(*row[1], static_cast<int>(ToInt(row[2])));
        });
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
    // What each entry recorded of the cards it made, and of the cards it revoked.
    std::unordered_map<int64_t, std::string> card_lists;
    struct Revocation {
      int64_t seq;
      std::string reason;
      int64_t at;  // -1: not recorded (entries written before the ledger recorded it)
    };
    std::unordered_map<std::string, Revocation> revocations;
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
                            if (j.is_object() && j.contains("cards") && j["cards"].is_string())
                              card_lists[seq] = j["cards"].get<std::string>();
                            if (action == "revoke" && j.is_object() && j.contains("serial") && j["serial"].is_string())
                              revocations[j["serial"].get<std::string>()] = {seq, j.value("reason", std::string()),
                                                                             j.value("revoked_at", int64_t{-1})};
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
    if (auto cards = VerifyCards(card_lists, revocations, rep); !cards) return std::unexpected(cards.error());
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
    // So must the school-year aggregate.
    for (bool holders : {false, true}) {
      auto kept = ReadSchoolCells(holders, false);
      if (!kept) return std::unexpected(kept.error());
      auto count = ReadSchoolCells(holders, true);
      if (!count) return std::unexpected(count.error());
      const std::string what = "school-year aggregate: cell ";
      auto x = kept->begin(), y = count->begin();
      while (x != kept->end() || y != count->end()) {
        if (x != kept->end() && y != count->end() && x->first == y->first) {
          if (x->second != y->second) {
            rep.problem = what + DescribeSchool(x->first, holders) + " holds " + std::to_string(x->second) +
                          ", a recount of the cards gives " + std::to_string(y->second);
            return rep;
          }
          ++x, ++y;
        } else if (y == count->end() || (x != kept->end() && x->first < y->first)) {
          rep.problem = what + DescribeSchool(x->first, holders) + " holds " + std::to_string(x->second) +
                        ", a recount of the cards gives 0";
          return rep;
        } else {
          rep.problem = what + DescribeSchool(y->first, holders) + " is missing, a recount of the cards gives " +
                        std::to_string(y->second);
          return rep;
        }
      }
    }
    rep.ok = true;
    return rep;
  }


  Result<std::vector<CountsRow>> Counts(const CountsQuery& q) const override {
    std::lock_guard lock(mu_);
    // Both views read maintained aggregates: adoption_cells (calendar) and the school-year cells.
    if (q.period == Period::kCalendar) return CountsFromCells(q);
    return CountsFromSchoolCells(q);
  }

  // Counts() of the school-year view, from school_card_cells and school_holder_cells.
  Result<std::vector<CountsRow>> CountsFromSchoolCells(const CountsQuery& q) const {
    const std::string dim = internal::SchoolDimensions()[static_cast<size_t>(DimIndex(q.by))].first;
    const std::vector<Value> params = {dim, int64_t{q.first_year ? q.first_year : 0},
                                       int64_t{q.last_year ? q.last_year : 999999}};
    std::map<std::pair<int, std::string>, CountsRow> cells;
    auto cell = [&](const Row& row) -> CountsRow& {
      int sy = static_cast<int>(ToInt(row[0]));
      auto [it, fresh] = cells.try_emplace({sy, row[1].value_or("")});
      if (fresh) {
        it->second.period = std::to_string(sy) + "-" + std::to_string(sy + 1);
        if (q.by != Dimension::kNone) it->second.group = row[1].value_or("");
      }
      return it->second;
    };
    auto r = db_->ForEach(
        "SELECT school_year, grp, channel, cards FROM school_card_cells WHERE dim = $1 AND school_year BETWEEN $2 "
        "AND $3 AND cards <> 0",
        params, [&](const Row& row) {
          CountsRow& c = cell(row);
          auto ch = ParseChannel(row[2].value_or(""));
          int64_t n = ToInt(row[3]);
          switch (ch ? *ch : Channel::kLibrary) {
            case Channel::kDigital: c.digital += n; break;
            case Channel::kSubscription: c.subscription += n; break;
            case Channel::kStarter: c.starter += n; break;
            case Channel::kLibrary: c.library += n; break;
          }
        });
    if (!r) return std::unexpected(r.error());
    r = db_->ForEach(
        "SELECT school_year, grp, mask, holders FROM school_holder_cells WHERE dim = $1 AND school_year BETWEEN $2 "
        "AND $3 AND holders <> 0",
        params, [&](const Row& row) {
          CountsRow& c = cell(row);
          const int mask = static_cast<int>(ToInt(row[2]));
          const int64_t n = ToInt(row[3]);
          c.holders += n;
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

  static int DimIndex(Dimension by) {
    switch (by) {
      case Dimension::kNone: return 0;
      case Dimension::kProvince: return 1;
      case Dimension::kNetwork: return 2;
      case Dimension::kRole: return 3;
      case Dimension::kLevel: return 4;
    }
    return 0;
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
      if (k.mask & ChannelBit(c)) channels += (channels.empty() ? "" : "+") + std::string(ChannelName(c));
    return "(card year " + std::to_string(k.year) + ", " + k.province + ", " + k.network + ", " + k.role + ", " +
           k.level + ", " + (channels.empty() ? "no card" : channels) + ")";
  }

  // REQUIRES: inside the write transaction. Adds each row's delta (its last cell) to the row of
  // `table` keyed by the other cells (`columns` names them all, the value column last).
  Result<> UpsertDeltas(const std::string& table, const std::vector<std::string>& columns,
                        const std::string& columns_ddl, std::vector<Row> rows) {
    if (rows.empty()) return {};
    std::string keys, list, values;
    for (size_t i = 0; i < columns.size(); ++i) {
      list += (i ? ", " : "") + columns[i];
      values += (i ? ", $" : "$") + std::to_string(i + 1);
      if (i + 1 < columns.size()) keys += (i ? ", " : "") + columns[i];
    }
    const std::string& v = columns.back();
    const std::string upsert = " ON CONFLICT (" + keys + ") DO UPDATE SET " + v + " = " + table + "." + v +
                               " + excluded." + v;
    if (rows.size() <= 12) {  // a single issue or revocation: no staging round trips
      for (const Row& row : rows) {
        std::vector<Value> params;
        for (const auto& cell : row) params.emplace_back(cell.value_or(""));
        if (auto r = db_->Execute("INSERT INTO " + table + " (" + list + ") VALUES (" + values + ")" + upsert, params); !r)
          return std::unexpected(r.error());
      }
      return {};
    }
    const std::string stage = "stage_" + table;
    if (auto r = Stage(stage, columns_ddl, columns, rows); !r) return r;
    if (auto r = db_->Execute("INSERT INTO " + table + " (" + list + ") SELECT " + list + " FROM " + stage +
                              " WHERE true" + upsert);
        !r)
      return std::unexpected(r.error());
    return {};
  }

  Result<> ApplyCellDeltas(const CellDeltas& deltas) {
    std::vector<Row> rows;
    for (const auto& [k, d] : deltas)
      if (d != 0)
        rows.push_back({std::to_string(k.year), k.province, k.network, k.role, k.level, std::to_string(k.mask),
                        std::to_string(d)});
    return UpsertDeltas("adoption_cells", {"card_year", "province", "network", "role", "level", "mask", "holders"},
                        "card_year INTEGER, province TEXT, network TEXT, role TEXT, level TEXT, mask INTEGER, "
                        "holders BIGINT",
                        std::move(rows));
  }

  // --- The school-year aggregate (schema migration 6) ------------------------------------
  // Per (school year, dimension, group): active cards per channel, and people (staff keys, across
  // card years) by the exact set of channels of their active cards there. kDims[0] is "all".
  static constexpr int kDims = 5;
  struct SchoolKey {
    int school_year = 0;
    int dim = 0;          // index into internal::SchoolDimensions()
    std::string group;    // "" for "all"
    int value = 0;        // holders: the mask; cards: the channel bit
    auto operator<=>(const SchoolKey&) const = default;
  };
  struct SchoolDeltas {
    std::map<SchoolKey, int64_t> cards, holders;
  };
  static std::string BitChannel(int bit) {
    return std::string(ChannelName(static_cast<Channel>(std::countr_zero(static_cast<unsigned>(bit)))));
  }
  static std::string DescribeSchool(const SchoolKey& k, bool holders) {
    const auto& dims = internal::SchoolDimensions();
    std::string what = "(school year " + std::to_string(k.school_year) + "-" + std::to_string(k.school_year + 1) +
                       ", " + (k.dim == 0 ? std::string("all") : dims[static_cast<size_t>(k.dim)].first + " " + k.group) +
                       ", ";
    if (!holders) return what + BitChannel(k.value) + " cards)";
    std::string channels;
    for (int b = 1; b <= 8; b <<= 1)
      if (k.value & b) channels += (channels.empty() ? "" : "+") + BitChannel(b);
    return what + "holders of " + channels + ")";
  }
  Result<> ApplySchoolDeltas(const SchoolDeltas& d) {
    const auto& dims = internal::SchoolDimensions();
    std::vector<Row> cards, holders;
    for (const auto& [k, n] : d.cards)
      if (n != 0)
        cards.push_back({std::to_string(k.school_year), dims[static_cast<size_t>(k.dim)].first, k.group,
                         BitChannel(k.value), std::to_string(n)});
    for (const auto& [k, n] : d.holders)
      if (n != 0)
        holders.push_back({std::to_string(k.school_year), dims[static_cast<size_t>(k.dim)].first, k.group,
                           std::to_string(k.value), std::to_string(n)});
    if (auto r = UpsertDeltas("school_card_cells", {"school_year", "dim", "grp", "channel", "cards"},
                              "school_year INTEGER, dim TEXT, grp TEXT, channel TEXT, cards BIGINT", std::move(cards));
        !r)
      return r;
    return UpsertDeltas("school_holder_cells", {"school_year", "dim", "grp", "mask", "holders"},
                        "school_year INTEGER, dim TEXT, grp TEXT, mask INTEGER, holders BIGINT", std::move(holders));
  }

  // Compares every card row with what its audit entry recorded (fields that never change, see
  // CardFingerprint) and with the revocations in the log; names the first card that differs, in
  // (entry, serial) order. Cards of entries written before the ledger recorded card lists are
  // checked against the revocations only.
  template <typename Revocations>
  Result<> VerifyCards(const std::unordered_map<int64_t, std::string>& lists, const Revocations& revocations,
                       VerifyReport& rep) const {
    int64_t list_seq = -1;
    std::string_view rest;  // the unchecked part of the current entry's list
    auto fail = [&](int64_t seq, std::string_view serial, std::string what) {
      if (rep.first_bad) return;
      rep.first_bad = seq;
      rep.bad_card = std::string(serial);
      rep.problem = "card " + std::string(serial) + " (audit entry " + std::to_string(seq) + "): " + std::move(what);
    };
    // Streamed row by row (a whole result of millions of cards would not fit in memory).
    auto r = db_->ForEach(
        "SELECT c.audit_seq, c.serial, r.card_year, r.staff_key, c.channel, c.issued_on, c.school_year, "
        "coalesce(c.auth_token, ''), c.status, coalesce(c.revoked_reason, ''), coalesce(c.revoked_at, -1), "
        "c.update_tag FROM cards c LEFT JOIN roster r ON r.id = c.roster_id ORDER BY c.audit_seq, c.serial",
        {}, [&](const Row& row) {
          const RowCells c{row};
          if (rep.first_bad) return;
          const int64_t seq = c.Int(0);
          const std::string_view serial = c.Text(1);
          if (seq != list_seq) {
            if (list_seq >= 0 && !rest.empty())
              return fail(list_seq, rest.substr(0, rest.find(':')), "recorded by its audit entry but missing");
            list_seq = seq;
            auto it = lists.find(seq);
            rest = it == lists.end() ? std::string_view() : std::string_view(it->second);
            if (it == lists.end()) list_seq = -2 - seq;  // no list: nothing to compare
          }
          if (list_seq == seq) {
            const size_t end = std::min(rest.find(','), rest.size());
            std::string_view item = rest.substr(0, end);
            rest = end < rest.size() ? rest.substr(end + 1) : std::string_view();
            const size_t colon = item.find(':');
            if (item.substr(0, colon) != serial)
              return fail(seq, serial, "not among the cards its audit entry recorded (added or renamed behind the "
                                       "ledger's back)");
            const std::string year = std::to_string(c.Int(2)), sy = std::to_string(c.Int(6));
            if (colon == std::string_view::npos ||
                item.substr(colon + 1) != View(CardFingerprint(serial, year, c.Text(3), c.Text(4), c.Text(5), sy, c.Text(7))))
              return fail(seq, serial, "its fields differ from what its audit entry recorded (edited)");
          }
          auto rv = revocations.find(std::string(serial));
          const bool revoked = c.Text(8) == "revoked";
          if (rv == revocations.end()) {
            if (revoked) return fail(seq, serial, "revoked, but no audit entry revoked it");
            if (c.Int(11) != seq) return fail(seq, serial, "its update tag was changed behind the ledger's back");
            return;
          }
          if (!revoked)
            return fail(seq, serial, "active, but audit entry " + std::to_string(rv->second.seq) + " revoked it");
          if (c.Text(9) != rv->second.reason || c.Int(11) != rv->second.seq ||
              (rv->second.at >= 0 && c.Int(10) != rv->second.at))
            return fail(seq, serial, "its revocation differs from audit entry " + std::to_string(rv->second.seq));
        });
    if (!r) return r;
    if (!rep.first_bad && list_seq >= 0 && !rest.empty())
      fail(list_seq, rest.substr(0, rest.find(':')), "recorded by its audit entry but missing");
    return {};
  }

  // School-year cells (cards, or with `holders` the holder masks) as stored or recounted; zero
  // cells left out.
  Result<std::map<SchoolKey, int64_t>> ReadSchoolCells(bool holders, bool recount) const {
    std::map<SchoolKey, int64_t> out;
    const auto& dims = internal::SchoolDimensions();
    std::string sql = recount ? internal::SchoolCellsRecountSql(holders)
                              : holders ? "SELECT school_year, dim, grp, mask, holders FROM school_holder_cells"
                                        : "SELECT school_year, dim, grp, channel, cards FROM school_card_cells";
    auto r = db_->ForEach(sql, {}, [&](const Row& row) {
      const int64_t n = ToInt(row[4]);
      if (n == 0) return;
      SchoolKey k{static_cast<int>(ToInt(row[0])), 0, row[2].value_or(""), 0};
      for (size_t d = 0; d < dims.size(); ++d)
        if (dims[d].first == row[1].value_or("")) k.dim = static_cast<int>(d);
      if (holders) {
        k.value = static_cast<int>(ToInt(row[3]));
      } else {
        auto ch = ParseChannel(row[3].value_or(""));
        k.value = ch ? ChannelBit(*ch) : 0;
      }
      out[k] += n;
    });
    if (!r) return std::unexpected(r.error());
    return out;
  }

  // How new cards move both aggregates: n cards of channel `bit`, issued in school year `sy`,
  // whose roster entries are `cell` (mask = the channels the entry held before) and whose
  // holders held `school_old[d]` in that school year and group of dimension d before.
  struct Move {
    CellKey cell;
    int sy = 0, bit = 0;
    std::array<int, kDims> school_old{};
    auto operator<=>(const Move&) const = default;
  };
  Result<> ApplyMoves(const std::map<Move, int64_t>& moves) {
    CellDeltas cal;
    SchoolDeltas school;
    for (const auto& [m, n] : moves) {
      CellKey k = m.cell;
      cal[k] -= n;
      k.mask |= m.bit;
      cal[k] += n;
      const std::string* group[kDims] = {nullptr, &k.province, &k.network, &k.role, &k.level};
      for (int d = 0; d < kDims; ++d) {
        SchoolKey sk{m.sy, d, group[d] ? *group[d] : std::string(), m.bit};
        school.cards[sk] += n;
        const int old = m.school_old[static_cast<size_t>(d)], now = old | m.bit;
        if (now == old) continue;
        if (old) {
          sk.value = old;
          school.holders[sk] -= n;
        }
        sk.value = now;
        school.holders[sk] += n;
      }
    }
    if (auto r = ApplyCellDeltas(cal); !r) return r;
    return ApplySchoolDeltas(school);
  }

  // Runs `insert` ("INSERT INTO cards (...) SELECT ..."; REQUIRES: the writer lock and at most one
  // new card per roster entry) and moves both aggregates by the cards it added (audit entry
  // `seq`); returns how many it added. Each new card's holder is found, with their other active
  // cards, through the roster entries of the card years that can have cards in its school year
  // (a card of card year Y is dated within Y-1..Y+1, so its school year is Y-2..Y+1).
  //
  // The new cards' school years are first_sy..last_sy. When no card year within reach of them
  // (first_sy - 1 .. last_sy + 2) holds an active card yet (by adoption_cells, kept in the same
  // transactions as the cards), no new card's holder can hold another one: the upkeep then only
  // counts the new cards by their roster entries' groups, without looking for other cards.
  // The new cards: "INSERT INTO cards (columns) SELECT select from_where", where `select` names
  // each column (AS), `from_where` joins the staged rows s to their roster entries r, and
  // `channel_sql` is the channel of the new cards.
  struct CardInsert {
    std::string columns, select, from_where, channel_sql;
  };
  Result<int64_t> InsertCards(const CardInsert& ci, const std::vector<Value>& params, int64_t seq,
                              int card_year, Channel channel, int first_sy, int last_sy) {
    const std::string insert = "INSERT INTO cards (" + ci.columns + ") SELECT " + ci.select + " " + ci.from_where +
                               NewCardsOnly(ci.channel_sql);
    // The card years within reach that hold an active card (by adoption_cells, kept in the same
    // transactions as the cards): only their roster entries can name a new card's holder's other
    // cards, so only they are looked at (usually one or two of the four).
    auto held = db_->Query(
        "SELECT DISTINCT card_year FROM adoption_cells WHERE card_year BETWEEN $1 AND $2 AND mask <> 0 AND "
        "holders <> 0 ORDER BY card_year",
        {int64_t{first_sy - 1}, int64_t{last_sy + 2}});
    if (!held) return std::unexpected(held.error());
    const bool others_possible = !held->empty();
    std::string held_years;  // "2024, 2025": SQL integer literals read from the ledger's own table
    std::string other_years;  // the same, without the new cards' own card year
    bool own_year_held = false;
    for (const Row& row : *held) {
      const int64_t y = ToInt(row[0]);
      held_years += (held_years.empty() ? "" : ", ") + std::to_string(y);
      if (y == card_year) own_year_held = true;
      else other_years += (other_years.empty() ? "" : ", ") + std::to_string(y);
    }
    const std::string bit_o = internal::ChannelBitSql("o.channel");
    const std::string others =
        " LEFT JOIN roster ro ON ro.card_year IN (" + held_years + ") AND ro.card_year BETWEEN n.school_year - 1 AND "
        "n.school_year + 2 AND ro.staff_key = r.staff_key LEFT JOIN cards o ON o.roster_id = ro.id AND "
        "o.status = 'active'";
    std::map<Move, int64_t> moves;
    int64_t added = 0;
    if (db_->dialect() == internal::Dialect::kPostgres) {
      // One statement: the INSERT (a WITH clause) and the upkeep query, which sees the cards as
      // they were before it (same snapshot) and groups on the server.
      // The new cards are counted by the groups of the roster entries they were joined to on
      // their way in (src: every row of it is inserted, or the statement fails), instead of
      // joining the inserted rows to the roster again (a hash of the whole roster, each time).
      // When the card year holds no card of the channel, no staged holder has one: the anti-join
      // against the channel's cards (a hash of every card of that channel, of every card year) is
      // left out. That is the usual bulk insert: a card year's file of a channel, or its batch.
      auto held_channel = YearHoldsChannel(card_year, channel);
      if (!held_channel) return std::unexpected(held_channel.error());
      const std::string src = "WITH src AS MATERIALIZED (SELECT " + ci.select + ", r.card_year AS g_year, "
          "r.province AS g_province, r.network AS g_network, r.role AS g_role, r.level AS g_level, "
          "r.staff_key AS g_key " + ci.from_where + (*held_channel ? NewCardsOnly(ci.channel_sql) : "") +
          "), n AS (INSERT INTO cards (" +
          ci.columns + ") SELECT " + ci.columns + " FROM src)";
      // Every new card is first counted as if its holder held nothing else (grouped by its roster
      // entry's groups: a few thousand groups, hashed). The other active cards that change a
      // count are then found set-wise, as pairs (new card, other card) of two kinds, which
      // cannot overlap:
      // - a card of another card year within reach in the same school year: the holder's roster
      //   entry there has the same staff key (a hash join on staff key and school year; only
      //   that card year's cards of the new cards' school years are read; an inline subquery,
      //   so the planner sees the roster's statistics);
      // - a card on the new card's own roster entry (another channel), only when its card year
      //   holds any.
      // (A card of another card year in another school year changes no count: a pair of it
      // would come back with all masks 0, a move onto itself. In a ledger's second year most
      // holders hold last year's card, often in another school year.) Each new card with pairs
      // comes back once more, with its old masks and `again` = 1; the caller moves it from the
      // "nothing else" count to that one. Same snapshot throughout: no part of the statement
      // sees the cards the INSERT adds.
      auto mask = [&](const std::string& cond) {
        return "coalesce(bit_or(CASE WHEN " + cond + " THEN " + internal::ChannelBitSql("o_channel") + " END), 0)";
      };
      const std::string same_sy = "o_sy = school_year";
      const std::string plain = " SELECT g_year, g_province, g_network, g_role, g_level, school_year, " +
                                internal::ChannelBitSql("channel") +
                                " AS bit, 0, 0, 0, 0, 0, 0, count(*), 0 AS again FROM src GROUP BY 1, 2, 3, 4, 5, 6, 7";
      const std::string src_cols = "src.roster_id, src.g_year, src.g_province, src.g_network, src.g_role, src.g_level, "
                                   "src.school_year, src.channel, o.roster_id AS o_rid, o.school_year AS o_sy, "
                                   "o.channel AS o_channel, ";
      std::string pairs;
      if (!other_years.empty())
        pairs = "SELECT " + src_cols + "o.province AS o_province, o.network AS o_network, o.role AS o_role, "
                "o.level AS o_level FROM src JOIN (SELECT ro.id AS roster_id, ro.staff_key, ro.province, ro.network, "
                "ro.role, ro.level, o.school_year, o.channel FROM roster ro JOIN cards o ON o.roster_id = ro.id WHERE "
                "o.status = 'active' AND ro.card_year IN (" + other_years + ") AND o.school_year BETWEEN " +
                std::to_string(first_sy) + " AND " + std::to_string(last_sy) + ") o ON o.staff_key = src.g_key AND "
                "o.school_year = src.school_year";
      if (own_year_held)
        pairs += std::string(pairs.empty() ? "" : " UNION ALL ") + "SELECT " + src_cols +
                 "src.g_province AS o_province, src.g_network AS o_network, src.g_role AS o_role, "
                 "src.g_level AS o_level FROM src JOIN cards o ON o.roster_id = src.roster_id AND o.status = 'active'";
      const std::string sql = !others_possible
          ? src + plain
          : src + ", pairs AS (" + pairs + "), old AS (SELECT g_year, g_province, g_network, g_role, g_level, "
            "school_year, channel, " + mask("o_rid = roster_id") + " AS cal_old, " + mask(same_sy) + " AS s0, " +
            mask(same_sy + " AND o_province = g_province") + " AS s1, " +
            mask(same_sy + " AND o_network = g_network") + " AS s2, " +
            mask(same_sy + " AND o_role = g_role") + " AS s3, " + mask(same_sy + " AND o_level = g_level") +
            " AS s4 FROM pairs GROUP BY roster_id, g_year, g_province, g_network, g_role, g_level, school_year, "
            "channel)" + plain +
            " UNION ALL SELECT g_year, g_province, g_network, g_role, g_level, school_year, " +
            internal::ChannelBitSql("channel") + ", cal_old, s0, s1, s2, s3, s4, count(*), 1 FROM old "
            "GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13";
      // The cost estimate of this statement would have PostgreSQL JIT-compile it: ~0.4 s of
      // compiling for a fraction of a second of work. Only for this transaction.
      if (auto j = db_->Exec("SET LOCAL jit = off"); !j) return std::unexpected(j.error());
      // src (~170 bytes per new card) and the pairs' sorts or hashes would spill to temporary
      // files at the default 4 MB; 250,000 new cards need about 60 MB. Only for this transaction.
      if (auto w = db_->Exec("SET LOCAL work_mem = '128MB'"); !w) return std::unexpected(w.error());
      // The planner expects a few hundred pairs where a ledger's second year has tens of
      // thousands, and would sort them twice to group them (13 keys, most of them equal): in
      // EXPLAIN ANALYZE 0.38 s for 75,000 pairs, against 0.18 s hashed. No other part of the
      // statement sorts. Put back after it, for the rest of the transaction.
      if (auto w = db_->Exec("SET LOCAL enable_sort = off"); !w) return std::unexpected(w.error());
      auto r = db_->ForEach(sql, params, [&](const Row& row) {
        Move m{KeyOf(row, 7), static_cast<int>(ToInt(row[5])), static_cast<int>(ToInt(row[6])), {}};
        for (size_t d = 0; d < kDims; ++d) m.school_old[d] = static_cast<int>(ToInt(row[8 + d]));
        const int64_t n = ToInt(row[13]);
        moves[m] += n;
        if (ToInt(row[14]) == 0) {
          added += n;
          return;
        }
        Move nothing_else = m;  // counted so by the first part: moved from there
        nothing_else.cell.mask = 0;
        nothing_else.school_old = {};
        moves[nothing_else] -= n;
      });
      if (!r) return std::unexpected(r.error());
      if (auto w = db_->Exec("SET LOCAL enable_sort TO DEFAULT"); !w) return std::unexpected(w.error());
    } else {
      auto n = db_->Execute(insert, params);
      if (!n) return std::unexpected(n.error());
      added = *n;
      if (added == 0) return int64_t{0};
      if (!others_possible) {  // counted here as they stream by: SQLite would sort to group
        std::unordered_map<std::string, int64_t> counts;
        std::string id;
        auto r = db_->Scan(
            "SELECT r.card_year, r.province, r.network, r.role, r.level, n.school_year, n.channel FROM cards n "
            "CROSS JOIN roster r WHERE n.audit_seq = $1 AND r.id = n.roster_id",
            {seq}, [&](const Db::Cells& c) {
              id.clear();
              for (int i = 0; i < 7; ++i) id.append(c.Text(i)).push_back('\x1f');
              ++counts[id];
            });
        if (!r) return std::unexpected(r.error());
        for (const auto& [key, count] : counts) {
          std::vector<std::string> f;
          for (size_t a = 0, b; (b = key.find('\x1f', a)) != std::string::npos; a = b + 1) f.push_back(key.substr(a, b - a));
          auto ch = ParseChannel(f[6]);
          if (!ch) return std::unexpected(ch.error());
          Move m{{std::stoi(f[0]), f[1], f[2], f[3], f[4], 0}, std::stoi(f[5]), ChannelBit(*ch), {}};
          moves[m] += count;
        }
        if (auto a = ApplyMoves(moves); !a) return std::unexpected(a.error());
        return added;
      }
      // SQLite would sort to group: the rows of one new card come together (the join is driven
      // by the new cards), so they are folded here as they stream by.
      const std::string sql =
          "SELECT n.roster_id, r.card_year, r.province, r.network, r.role, r.level, n.school_year, " +
          internal::ChannelBitSql("n.channel") + ", o.roster_id, o.school_year, CASE WHEN o.channel IS NULL THEN 0 "
          "ELSE " + bit_o + " END, ro.province, ro.network, ro.role, ro.level FROM cards n CROSS JOIN roster r" +
          others + " AND o.audit_seq <> $1 WHERE n.audit_seq = $1 AND r.id = n.roster_id";
      int64_t current = -1;
      Move m;
      std::string_view mine[kDims];
      std::string own[kDims];
      std::unordered_map<std::string, int64_t> tally_index;
      std::vector<std::pair<Move, int64_t>> tally;
      std::string id;
      auto flush = [&]() {
        if (current < 0) return;
        id.clear();
        id.append(std::to_string(m.cell.year)).append("|").append(m.cell.province).append("|");
        id.append(m.cell.network).append("|").append(m.cell.role).append("|").append(m.cell.level).append("|");
        for (int v : {m.cell.mask, m.sy, m.bit, m.school_old[0], m.school_old[1], m.school_old[2], m.school_old[3],
                      m.school_old[4]})
          id.append(std::to_string(v)).append("|");
        auto [it, fresh] = tally_index.try_emplace(id, static_cast<int64_t>(tally.size()));
        if (fresh) tally.emplace_back(m, 0);
        ++tally[static_cast<size_t>(it->second)].second;
      };
      auto r = db_->Scan(sql, {seq}, [&](const Db::Cells& c) {
        const int64_t roster_id = c.Int(0);
        if (roster_id != current) {
          flush();
          current = roster_id;
          m = Move{};
          m.cell = {static_cast<int>(c.Int(1)), std::string(c.Text(2)), std::string(c.Text(3)),
                    std::string(c.Text(4)), std::string(c.Text(5)), 0};
          m.sy = static_cast<int>(c.Int(6));
          m.bit = static_cast<int>(c.Int(7));
          own[1] = m.cell.province, own[2] = m.cell.network, own[3] = m.cell.role, own[4] = m.cell.level;
          for (int d = 1; d < kDims; ++d) mine[d] = own[d];
        }
        const int bit = static_cast<int>(c.Int(10));
        if (bit == 0) return;  // no other active card
        if (c.Int(8) == roster_id) m.cell.mask |= bit;
        if (c.Int(9) != m.sy) return;
        m.school_old[0] |= bit;
        for (int d = 1; d < kDims; ++d)
          if (c.Text(10 + d) == mine[d]) m.school_old[static_cast<size_t>(d)] |= bit;
      });
      if (!r) return std::unexpected(r.error());
      flush();
      for (auto& [mv, n2] : tally) moves[mv] += n2;
    }
    if (auto r = ApplyMoves(moves); !r) return std::unexpected(r.error());
    return added;
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

  // Staff keys are hex: compared byte by byte (as roster.staff_key since migration 6).
  std::string KeyType() const { return db_->dialect() == internal::Dialect::kSqlite ? "TEXT" : "TEXT COLLATE \"C\""; }
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
    // PostgreSQL's DELETE would visit the rows a previous import staged in this session (a
    // quarter million: ~0.1 s); TRUNCATE (transactional there too) drops them at once.
    if (auto r = db_->Exec((db_->dialect() == internal::Dialect::kPostgres ? "TRUNCATE " : "DELETE FROM ") + table); !r)
      return r;
    if (auto r = db_->BulkLoad(table, columns, rows); !r) return r;
    // Fresh statistics, so the planner joins a quarter million staged rows by hash, not by loop.
    return Analyze(table);
  }

  // ANALYZE of a table just staged or bulk-inserted into. REQUIRES: inside a write transaction.
  // PostgreSQL samples 300 rows per unit of statistics target: 30,000 at the default 100. The
  // planner needs the row counts and that staff keys, serials and roster ids are unique, which a
  // sample of 3,000 (target 10, this transaction only) tells as well, in a fraction of the time
  // (250,000 rows of three columns: 13 ms instead of 51-69 ms).
  Result<> Analyze(const std::string& table) {
    const bool pg = db_->dialect() == internal::Dialect::kPostgres;  // one round trip, two statements
    return db_->Exec(std::string(pg ? "SET LOCAL default_statistics_target = 10; " : "") + "ANALYZE " + table);
  }

  // After a bulk insert PostgreSQL's planner would otherwise keep believing a card year holds a
  // handful of rows and join the next import row by row against all of them (quadratic).
  // SQLite's joins are pinned by CROSS JOIN instead, and its ANALYZE reads whole indexes.
  Result<> RefreshStatistics(const std::string& table, uint64_t added) {
    if (db_->dialect() != internal::Dialect::kPostgres || added < 1000) return {};
    return Analyze(table);
  }

  // PostgreSQL: whether card year `year` holds a card of `channel`: an active one (by
  // adoption_cells, kept in the same transactions as the cards) or a revoked one (by the
  // cards_revoked index: revoked cards are few). REQUIRES: the writer lock.
  Result<bool> YearHoldsChannel(int year, Channel channel) {
    auto r = db_->Query(
        "SELECT 1 WHERE EXISTS (SELECT 1 FROM adoption_cells WHERE card_year = $1 AND (mask & $2) <> 0 AND "
        "holders > 0) OR EXISTS (SELECT 1 FROM cards c JOIN roster r ON r.id = c.roster_id WHERE c.status = "
        "'revoked' AND c.channel = $3 AND r.card_year = $1)",
        {int64_t{year}, int64_t{ChannelBit(channel)}, std::string(ChannelName(channel))});
    if (!r) return std::unexpected(r.error());
    return !r->empty();
  }

  // The tail of "INSERT INTO cards ... SELECT ... FROM stage s CROSS JOIN roster r WHERE ..." that
  // skips holders who already have a card of `channel_sql`. REQUIRES: the writer lock (so nobody
  // else inserts meanwhile) and at most one staged row per holder. SQLite resolves it in the
  // unique index (ON CONFLICT); PostgreSQL's ON CONFLICT inserts speculatively, row by row, which
  // costs more than the anti-join.
  std::string NewCardsOnly(const std::string& channel_sql) const {
    // Both engines insert in the order the join delivers: the staged rows' (staff-key order, see
    // SortedRandomSerials), which is the order of the roster entries a roster import makes
    // (PostgreSQL's hash joins keep the order of their probe side: the staged rows, or the
    // roster's physical order, roster order too). Sorting by r.id again cost a tenth of the
    // insert on SQLite and, on PostgreSQL, 0.46 s more server CPU per 250,000-card import (two
    // alternating pairs, perf-ledger4); the order only speeds index inserts, it changes no result.
    if (db_->dialect() == internal::Dialect::kSqlite) return " ON CONFLICT (roster_id, channel) DO NOTHING";
    return " AND NOT EXISTS (SELECT 1 FROM cards x WHERE x.roster_id = r.id AND x.channel = " + channel_sql + ")";
  }

  // REQUIRES: inside a write transaction. The sequence number the next audit entry will get.
  Result<int64_t> NextSeq() {
    auto head = db_->Query("SELECT seq FROM audit_head WHERE id = 1");
    if (!head) return std::unexpected(head.error());
    if (head->empty()) return Fail(Code::kDataLoss, "the ledger's audit head row is missing; run `ledger verify`");
    return ToInt((*head)[0][0]) + 1;
  }

  std::string ImportDetail(const fs::path& csv, const std::string& content, int year, const std::string& table,
                           const ImportSummary& s, std::string cards = {}) const {
    nlohmann::json j = {{"file", csv.filename().string()}, {"sha256", HexEncode(Sha256(content))},
                        {"table", table}, {"rows", s.rows}, {"added", s.added}, {"present", s.present}};
    if (year) j["year"] = year;
    if (!cards.empty()) j["cards"] = std::move(cards);
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
