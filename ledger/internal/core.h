#pragma once
// What the ledger's parts share: one connection, the writer lock, the staff-id key and the
// clock, and the steps every write takes (staging tables, the next audit entry, its commit).
// Also the small pure helpers the parts have in common (serials, card fingerprints).
// Core is not thread-safe by itself: callers hold `mu` around every use of `db`.
#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/base.h"
#include "ledger/cards.h"
#include "ledger/channel.h"
#include "ledger/counts.h"
#include "ledger/internal/db.h"

namespace lk::ledger::internal {

constexpr int kMinYear = 2000, kMaxYear = 2199;
inline const std::string kZeroHash(64, '0');

// Keyed HMAC-SHA256 of staff identifiers, hex; the key never leaves this object.
class StaffKeyer {
 public:
  // Loads <dir>/staff-id-hmac.key, creating it (0600) on first use.
  static Result<std::unique_ptr<StaffKeyer>> Load(const std::filesystem::path& dir);
  std::string Key(std::string_view staff_id) { return HexEncode(mac_.Mac(staff_id)); }

 private:
  explicit StaffKeyer(std::string_view key) : mac_(key) {}
  HmacSha256 mac_;
};

struct Core {
  // `readers`: how many more connections to `url` reads may open (PostgreSQL; 0 = reads use `db`).
  Core(std::unique_ptr<Db> connection, std::filesystem::path keys, const Clock& time, std::string url = {},
       int readers = 0)
      : db(std::move(connection)),
        keys_dir(std::move(keys)),
        clock(time),
        url_(std::move(url)),
        reader_limit_(readers) {}

  std::mutex mu;  // held around every use of db and keyer
  std::unique_ptr<Db> db;
  std::filesystem::path keys_dir;
  const Clock& clock;
  std::unique_ptr<StaffKeyer> keyer;  // loaded on first use (Keyer())

  // A connection for one read: a pooled reader of its own on PostgreSQL (so reads do not wait
  // for `mu`), else `db` with `mu` held. Valid until the lease ends; one per thread at a time.
  class ReadLease {
   public:
    ReadLease(ReadLease&& other) noexcept = default;
    ~ReadLease();
    Db& db() const { return *db_; }

   private:
    friend struct Core;
    ReadLease() = default;
    Core* core_ = nullptr;
    std::unique_lock<std::mutex> lock_;
    std::unique_ptr<Db> reader_;
    Db* db_ = nullptr;
  };
  // kUnavailable when a new reader cannot connect.
  Result<ReadLease> Read();

  // REQUIRES (all below): mu held.
  Result<StaffKeyer*> Keyer();
  // Column types of staged staff keys (hex, compared byte by byte) and dates.
  std::string KeyType() const;
  std::string DateType() const;
  // kFailedPrecondition when card year `year` has no roster.
  Result<> RequireRoster(int year);
  // (Re)creates an empty temporary staging table and fills it. Queries over staged rows write
  // "staged CROSS JOIN table WHERE ...": SQLite then always drives the join from the staged rows
  // through the unique indexes (it could otherwise pick a quadratic plan); PostgreSQL plans it
  // like any inner join.
  Result<> Stage(const std::string& table, const std::string& columns_ddl,
                 const std::vector<std::string>& columns, const std::vector<Row>& rows);
  Result<> Analyze(const std::string& table);
  Result<> RefreshStatistics(const std::string& table, uint64_t added);
  // REQUIRES: inside a write transaction. The sequence number the next audit entry will get.
  Result<int64_t> NextSeq();
  // Appends the audit entry `seq` and commits; with nothing changed it just rolls back.
  Result<> Finish(Transaction& tx, int64_t seq, const std::string& action, const std::string& detail,
                  uint64_t changed);

 private:
  const std::string url_;
  const int reader_limit_;
  std::mutex pool_mu_;  // guards the two below
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<Db>> idle_readers_;
  int open_readers_ = 0;
};

// kInvalidArgument outside kMinYear..kMaxYear.
Result<> CheckYear(int year);

// Issues (or returns) the digital cards of keyed staff members (cards.cc).
// REQUIRES: core.mu held, `year` checked.
Result<std::vector<IssuedCard>> IssueKeys(Core& core, const std::vector<std::string>& staff_keys, int year);
// The published figures (counts.cc). REQUIRES: `db` held (core.mu, or a read lease).
Result<std::vector<PublishedRow>> ReadPublished(Db& db);

std::string Lower(std::string s);
// A non-negative decimal of at most 15 digits, or nullopt.
std::optional<int64_t> ParseCount(std::string_view s);
inline int64_t ToInt(const std::optional<std::string>& s) { return s ? std::stoll(*s) : 0; }
// A streamed Row read like Db::Cells (NULL reads as 0 or "").
struct RowCells {
  const Row& row;
  int64_t Int(int i) const { return ToInt(row[static_cast<size_t>(i)]); }
  std::string_view Text(int i) const {
    const auto& cell = row[static_cast<size_t>(i)];
    return cell ? std::string_view(*cell) : std::string_view();
  }
};
inline int64_t Seconds(Time t) { return t.time_since_epoch().count(); }
inline int SchoolYearOf(std::chrono::year_month_day d) {
  return int(d.year()) - (unsigned(d.month()) < 9 ? 1 : 0);
}
// A channel's bit in the channel masks (as ChannelBitSql computes it in SQL).
inline int ChannelBit(Channel c) { return 1 << static_cast<int>(c); }

// n random Crockford base32 strings of `len` characters each (5 random bits per character, as
// RandomBase32), from one draw of the CSPRNG instead of one per string.
std::vector<std::string> RandomSerials(size_t n, size_t len);
// n random 12-character serials as RandomSerials(n, 12) makes them, in ascending order (see
// core.cc for why).
std::vector<std::string> SortedRandomSerials(size_t n);
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

// How a batch of n rows runs its side work (fingerprints for the audit entry): on a second thread
// next to the database's insert when the batch is large, on the caller's thread (when asked for
// the result) when starting a thread would cost more than the work. With both flags libstdc++
// starts a thread, and runs the work deferred instead if none can be started (EAGAIN) rather
// than throwing; the work it then runs is the moved-from callable, so the callables given with
// this policy capture only references (and values that survive a move, like an enum).
inline std::launch Beside(size_t n) {
  return n >= 4096 ? std::launch::async | std::launch::deferred : std::launch::deferred;
}

std::string AuditHash(const std::string& prev, int64_t seq, int64_t at, const std::string& action,
                      const std::string& detail);

// What the audit entry that made a card records of it: "SERIAL:FINGERPRINT" per card, sorted by
// serial, comma-separated; the fingerprint is the first 64 bits (hex) of a SHA-256 of the
// card's fields that never change (the card year and staff key name its roster entry).
// Held in place (16 hex characters), not in a std::string: a batch makes one per card.
using Fingerprint = std::array<char, 16>;
inline std::string_view View(const Fingerprint& f) { return {f.data(), f.size()}; }
Fingerprint CardFingerprint(std::string_view serial, std::string_view card_year, std::string_view staff_key,
                            std::string_view channel, std::string_view issued_on,
                            std::string_view school_year, std::string_view auth_token);
std::string CardList(std::vector<std::pair<std::string, Fingerprint>> serial_fingerprints);

}  // namespace lk::ledger::internal
