// What the ledger's parts share (internal/core.h): the staff-id key, the steps of every write
// (staging, the next audit entry and its commit), serials and card fingerprints.
#include "ledger/internal/core.h"

#include <cctype>
#include <charconv>

namespace lk::ledger::internal {
namespace fs = std::filesystem;

Result<std::unique_ptr<StaffKeyer>> StaffKeyer::Load(const fs::path& dir) {
  fs::path file = dir / "staff-id-hmac.key";
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    fs::create_directories(dir, ec);
    fs::permissions(dir, fs::perms::owner_all, ec);
    auto w = WriteFileAtomic(file, HexEncode(RandomBytes(32)) + "\n",
                             fs::perms::owner_read | fs::perms::owner_write,
                             /*exclusive=*/true);
    if (!w && w.error().code != Code::kAlreadyExists) return std::unexpected(w.error());
  }
  auto st = fs::status(file, ec);
  if (!ec && (st.permissions() & (fs::perms::group_all | fs::perms::others_all)) != fs::perms::none)
    return Fail(Code::kFailedPrecondition,
                file.string() + ": the staff-id key must be readable by its owner only (chmod 600)");
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

namespace {
constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";  // ascending byte order
}  // namespace

std::vector<std::string> RandomSerials(size_t n, size_t len) {
  const std::string raw = RandomBytes(n * len);
  std::vector<std::string> out(n, std::string(len, '0'));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < len; ++j)
      out[i][j] = kCrockford[static_cast<unsigned char>(raw[i * len + j]) & 31];
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
    for (size_t j = 0; j < kLen; ++j)
      values[i] = values[i] << 5 | (static_cast<unsigned char>(raw[i * kLen + j]) & 31);
  std::sort(values.begin(), values.end());
  std::vector<std::string> out(n, std::string(kLen, '0'));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < kLen; ++j) out[i][kLen - 1 - j] = kCrockford[(values[i] >> (5 * j)) & 31];
  return out;
}

std::string AuditHash(const std::string& prev, int64_t seq, int64_t at, const std::string& action,
                      const std::string& detail) {
  return HexEncode(
      Sha256(prev + "\n" + std::to_string(seq) + "\n" + std::to_string(at) + "\n" + action + "\n" + detail));
}

Fingerprint CardFingerprint(std::string_view serial, std::string_view card_year, std::string_view staff_key,
                            std::string_view channel, std::string_view issued_on,
                            std::string_view school_year, std::string_view auth_token) {
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

Result<> CheckYear(int year) {
  if (year < kMinYear || year > kMaxYear)
    return Fail(Code::kInvalidArgument, "card year " + std::to_string(year) + " is out of range (" +
                                            std::to_string(kMinYear) + "-" + std::to_string(kMaxYear) + ")");
  return {};
}

Result<Core::ReadLease> Core::Read() {
  ReadLease lease;
  lease.core_ = this;
  if (reader_limit_ <= 0) {
    lease.lock_ = std::unique_lock(mu);
    lease.db_ = db.get();
    return lease;
  }
  std::unique_lock pool(pool_mu_);
  pool_cv_.wait(pool, [&] { return !idle_readers_.empty() || open_readers_ < reader_limit_; });
  if (!idle_readers_.empty()) {
    lease.reader_ = std::move(idle_readers_.back());
    idle_readers_.pop_back();
  } else {
    ++open_readers_;
    pool.unlock();
    auto opened = OpenPostgres(url_);
    if (!opened) {
      pool.lock();
      --open_readers_;
      pool_cv_.notify_one();
      return std::unexpected(opened.error());
    }
    lease.reader_ = std::move(*opened);
  }
  lease.db_ = lease.reader_.get();
  return lease;
}

Core::ReadLease::~ReadLease() {
  if (!reader_) return;
  std::lock_guard pool(core_->pool_mu_);
  core_->idle_readers_.push_back(std::move(reader_));
  core_->pool_cv_.notify_one();
}

Result<StaffKeyer*> Core::Keyer() {
  if (!keyer) {
    auto k = StaffKeyer::Load(keys_dir);
    if (!k) return std::unexpected(k.error());
    keyer = std::move(*k);
  }
  return keyer.get();
}

// Staff keys are hex: compared byte by byte (as roster.staff_key since migration 6).
std::string Core::KeyType() const {
  return db->dialect() == Dialect::kSqlite ? "TEXT" : "TEXT COLLATE \"C\"";
}
std::string Core::DateType() const { return db->dialect() == Dialect::kSqlite ? "TEXT" : "DATE"; }

Result<> Core::RequireRoster(int year) {
  auto n = db->Query("SELECT 1 FROM roster WHERE card_year = $1 LIMIT 1", {int64_t{year}});
  if (!n) return std::unexpected(n.error());
  if (n->empty())
    return Fail(Code::kFailedPrecondition, "there is no roster for card year " + std::to_string(year) +
                                               "; import it first (lerarenkaart import roster FILE --year " +
                                               std::to_string(year) + ")");
  return {};
}

Result<> Core::Stage(const std::string& table, const std::string& columns_ddl,
                     const std::vector<std::string>& columns, const std::vector<Row>& rows) {
  if (auto r = db->Exec("CREATE TEMP TABLE IF NOT EXISTS " + table + " (" + columns_ddl + ")"); !r) return r;
  // PostgreSQL's DELETE would visit the rows a previous import staged in this session (a
  // quarter million: ~0.1 s); TRUNCATE (transactional there too) drops them at once.
  if (auto r = db->Exec((db->dialect() == Dialect::kPostgres ? "TRUNCATE " : "DELETE FROM ") + table); !r)
    return r;
  if (auto r = db->BulkLoad(table, columns, rows); !r) return r;
  // Fresh statistics, so the planner joins a quarter million staged rows by hash, not by loop.
  return Analyze(table);
}

// ANALYZE of a table just staged or bulk-inserted into. REQUIRES: inside a write transaction.
// PostgreSQL samples 300 rows per unit of statistics target: 30,000 at the default 100. The
// planner needs the row counts and that staff keys, serials and roster ids are unique, which a
// sample of 3,000 (target 10, this transaction only) tells as well, in a fraction of the time
// (250,000 rows of three columns: 13 ms instead of 51-69 ms).
Result<> Core::Analyze(const std::string& table) {
  const bool pg = db->dialect() == Dialect::kPostgres;  // one round trip, two statements
  return db->Exec(std::string(pg ? "SET LOCAL default_statistics_target = 10; " : "") + "ANALYZE " + table);
}

// After a bulk insert PostgreSQL's planner would otherwise keep believing a card year holds a
// handful of rows and join the next import row by row against all of them (quadratic).
// SQLite's joins are pinned by CROSS JOIN instead, and its ANALYZE reads whole indexes.
Result<> Core::RefreshStatistics(const std::string& table, uint64_t added) {
  if (db->dialect() != Dialect::kPostgres || added < 1000) return {};
  return Analyze(table);
}

Result<int64_t> Core::NextSeq() {
  auto head = db->Query("SELECT seq FROM audit_head WHERE id = 1");
  if (!head) return std::unexpected(head.error());
  if (head->empty())
    return Fail(Code::kDataLoss, "the ledger's audit head row is missing; run `ledger verify`");
  return ToInt((*head)[0][0]) + 1;
}

Result<> Core::Finish(Transaction& tx, int64_t seq, const std::string& action, const std::string& detail,
                      uint64_t changed) {
  if (changed == 0 && action != "revoke") return {};  // the destructor rolls back: no change, no entry
  auto head = db->Query("SELECT hash FROM audit_head WHERE id = 1");
  if (!head) return std::unexpected(head.error());
  std::string prev = head->empty() ? kZeroHash : (*head)[0][0].value_or(kZeroHash);
  int64_t at = Seconds(clock.Now());
  std::string hash = AuditHash(prev, seq, at, action, detail);
  if (auto r = db->Execute(
          "INSERT INTO audit_log (seq, at, action, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, "
          "$5, $6)",
          {seq, at, action, detail, prev, hash});
      !r)
    return std::unexpected(r.error());
  if (auto r = db->Execute("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", {seq, hash}); !r)
    return std::unexpected(r.error());
  return tx.Commit();
}

}  // namespace lk::ledger::internal
